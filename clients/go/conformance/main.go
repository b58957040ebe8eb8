// The Go library's conformance program (clients/conformance/PROGRAM.md): logs what the scenario
// in CONFORMANCE asks through the public API, stops, prints its stats as one JSON line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	sluice "github.com/sluice-gateway/sluice/clients/go"
)

type settings struct {
	Loggers          int `json:"loggers"`
	Entries          int `json:"entries"`
	BatchSize        int `json:"batch_size"`
	FlushIntervalMs  int `json:"flush_interval_ms"`
	MaxBufferEntries int `json:"max_buffer_entries"`
	MaxRetries       int `json:"max_retries"`
	StopTimeoutMs    int `json:"stop_timeout_ms"`
	RequestTimeoutMs int `json:"request_timeout_ms"`
	LogGapMs         int `json:"log_gap_ms"`
}

func main() {
	var run settings
	if err := json.Unmarshal([]byte(os.Getenv("CONFORMANCE")), &run); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: CONFORMANCE is not a JSON object:", err)
		os.Exit(2)
	}
	maxRetries := run.MaxRetries
	if maxRetries == 0 {
		maxRetries = sluice.NoRetries // Config's 0 is the default (5)
	}
	loggers := make([]*sluice.Logger, run.Loggers)
	for l := range loggers {
		loggers[l] = sluice.New(sluice.Config{
			Endpoint:         os.Getenv("SLUICE_URL"),
			ServiceName:      os.Getenv("SLUICE_SERVICE"),
			ComponentName:    fmt.Sprintf("logger-%d", l),
			APIKey:           os.Getenv("SLUICE_TOKEN"),
			BatchSize:        run.BatchSize,
			FlushInterval:    time.Duration(run.FlushIntervalMs) * time.Millisecond,
			MaxBufferEntries: run.MaxBufferEntries,
			MaxRetries:       maxRetries,
			StopTimeout:      time.Duration(run.StopTimeoutMs) * time.Millisecond,
			RequestTimeout:   time.Duration(run.RequestTimeoutMs) * time.Millisecond,
		}).Start()
	}

	calls := make([]float64, 0, run.Entries*run.Loggers)
	began := time.Now()
	for i := 0; i < run.Entries; i++ {
		for l, lg := range loggers {
			t0 := time.Now() // time.Since reads the monotonic clock
			lg.Info(fmt.Sprintf("conformance %d %d", l, i), map[string]any{"logger": l, "seq": i})
			calls = append(calls, float64(time.Since(t0).Nanoseconds())/1000)
		}
		if run.LogGapMs > 0 {
			time.Sleep(time.Duration(run.LogGapMs) * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for _, lg := range loggers {
		wg.Add(1)
		go func(lg *sluice.Logger) {
			defer wg.Done()
			if err := lg.Stop(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "conformance:", err)
			}
		}(lg)
	}
	wg.Wait()
	elapsed := float64(time.Since(began).Nanoseconds()) / 1e6

	sort.Float64s(calls)
	at := func(q float64) float64 {
		if len(calls) == 0 {
			return 0
		}
		i := int(q * float64(len(calls)))
		if i > len(calls)-1 {
			i = len(calls) - 1
		}
		return calls[i]
	}
	max := 0.0
	if len(calls) > 0 {
		max = calls[len(calls)-1]
	}
	stats := make([]sluice.Stats, len(loggers))
	for l, lg := range loggers {
		stats[l] = lg.Stats()
	}
	type callUs struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	}
	out, err := json.Marshal(struct {
		Language  string         `json:"language"`
		Library   string         `json:"library"`
		Loggers   []sluice.Stats `json:"loggers"`
		CallUs    callUs         `json:"call_us"`
		ElapsedMs float64        `json:"elapsed_ms"`
	}{"go", "sluice-go/" + sluice.Version, stats, callUs{at(0.5), at(0.99), max}, elapsed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
}
