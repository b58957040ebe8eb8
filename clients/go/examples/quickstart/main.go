// The README's quickstart: a few entries of each kind, delivered before the program ends.
// The gateway is SLUICE_URL (default http://localhost:9000); SLUICE_TOKEN is the app's ingest token.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	sluice "github.com/sluice-gateway/sluice/clients/go"
)

func main() {
	logger := sluice.New(sluice.Config{
		// Endpoint: "http://localhost:9000" (left out: SLUICE_URL, then that default)
		ServiceName:   "my-application", // the Sluice app: each entry's app_id
		ComponentName: "user-service",   // each entry's source
		APIKey:        os.Getenv("SLUICE_TOKEN"),
	})
	logger.Start()

	logger.Info("User logged in successfully", map[string]any{
		"user_id":      12345,
		"login_method": "oauth",
		"ip_address":   "192.168.1.100",
	})

	err := fmt.Errorf("connecting to users-db: %w", errors.New("CONN_TIMEOUT"))
	logger.Error("Database connection failed", map[string]any{
		"database": "users-db",
		"error":    err,                              // context.error = err.Error(); stack_trace
		"tags":     []string{"database", "critical"}, // the entry's tags
	})

	// Custom events for business metrics: an INFO entry, category "event"
	logger.Custom("payment_completed", map[string]any{
		"amount":         99.99,
		"currency":       "USD",
		"transaction_id": "txn_abc123",
	})

	// Stop flushes: it returns once everything is delivered, or after 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := logger.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Printf("%+v\n", logger.Stats())
}
