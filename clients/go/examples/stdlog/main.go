// The standard library's log package writing to Sluice: every log.Print line is an entry.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	sluice "github.com/sluice-gateway/sluice/clients/go"
)

func main() {
	logger := sluice.New(sluice.Config{
		ServiceName:   "my-application",
		ComponentName: "stdlog",
		APIKey:        os.Getenv("SLUICE_TOKEN"),
	}).Start()

	log.SetFlags(log.Lshortfile)
	log.SetOutput(logger.Writer(sluice.LevelInfo))
	log.Printf("listening on %s", ":8080")

	// A second log.Logger for warnings, with its own level.
	warn := log.New(logger.Writer(sluice.LevelWarn), "cache: ", 0)
	warn.Println("hit rate below 50%")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.SetOutput(os.Stderr) // before Stop: nothing logged afterwards would be sent
	if err := logger.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Printf("%+v\n", logger.Stats())
}
