package sluice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func stop(t *testing.T, l *Logger) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.Stop(ctx)
}

func flush(t *testing.T, l *Logger) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.Flush(ctx)
}

func seqs(logs []map[string]any) []int {
	var out []int
	for _, e := range logs {
		if ctx, ok := e["context"].(map[string]any); ok {
			if s, ok := ctx["seq"].(float64); ok {
				out = append(out, int(s))
			}
		}
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestDeliversOneBatchWithTheHeaders(t *testing.T) {
	g := newGateway(t, nil)
	l := New(Config{Endpoint: g.URL, ServiceName: "my-app", ComponentName: "user-service", APIKey: "t.secret-token"}).Start()
	l.Debug("cache warm", map[string]any{"keys": 12})
	l.Info("User logged in successfully", map[string]any{"user_id": 12345})
	l.Warn("slow query", nil)
	l.Error("Database connection failed", map[string]any{"error": errors.New("CONN_TIMEOUT")})
	l.Fatal("out of memory", nil)
	l.Custom("payment_completed", map[string]any{"amount": 99.99})
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	rs := g.requests()
	if len(rs) != 1 || len(rs[0].Logs) != 6 {
		t.Fatalf("%d requests; want one batch of 6", len(rs))
	}
	r := rs[0]
	if r.Path != "/api/logs" || !uuidRE.MatchString(r.BatchID) {
		t.Errorf("path %s, batch_id %q", r.Path, r.BatchID)
	}
	if got := r.Header.Get("User-Agent"); !regexp.MustCompile(`^sluice-go/0\.1\.0 \(go 1\.\d+(\.\d+)?\)$`).MatchString(got) {
		t.Errorf("User-Agent %q", got)
	}
	if r.Header.Get("Authorization") != "Bearer t.secret-token" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Prefer") != "return=minimal" {
		t.Errorf("headers %v", r.Header)
	}
	if st := l.Stats(); st != (Stats{Sent: 6, State: StateStopped}) {
		t.Errorf("stats %+v", st)
	}
}

func TestEndpointFormsAndGzip(t *testing.T) {
	g := newGateway(t, nil)
	for _, ep := range []string{g.URL, g.URL + "/", g.URL + "/api/logs", g.URL + "/api/logs/"} {
		l := New(Config{Endpoint: ep, BatchSize: 1000}).Start()
		l.Info("small", nil)
		if err := flush(t, l); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			l.Info("a larger batch", map[string]any{"i": i})
		}
		if err := stop(t, l); err != nil {
			t.Fatal(err)
		}
	}
	rs := g.requests()
	if len(rs) != 8 {
		t.Fatalf("%d requests, want 8", len(rs))
	}
	for i, r := range rs {
		if r.Path != "/api/logs" {
			t.Errorf("request %d to %s", i, r.Path)
		}
		big := i%2 == 1
		if gz := r.Header.Get("Content-Encoding") == "gzip"; gz != big {
			t.Errorf("request %d (%d bytes sent, %d entries): gzip %v", i, len(r.Body), len(r.Logs), gz)
		}
		if !big && len(r.Body) > gzipAbove {
			t.Errorf("a small body is %d bytes", len(r.Body))
		}
	}
}

func TestConfigFromTheEnvironment(t *testing.T) {
	g := newGateway(t, nil)
	t.Setenv("SLUICE_URL", g.URL)
	t.Setenv("SLUICE_TOKEN", "t.from-env")
	t.Setenv("SLUICE_SERVICE", "env-app")
	l := New(Config{}).Start()
	l.Info("from env", nil)
	o := New(Config{Endpoint: g.URL + "/api/logs", APIKey: "t.explicit", ServiceName: "explicit-app"}).Start()
	o.Info("explicit", nil)
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	if err := stop(t, o); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range g.requests() {
		got[r.Logs[0]["app_id"].(string)] = r.Header.Get("Authorization")
	}
	if got["env-app"] != "Bearer t.from-env" || got["explicit-app"] != "Bearer t.explicit" || len(got) != 2 {
		t.Errorf("app → auth: %v", got)
	}

	t.Setenv("SLUICE_URL", "")
	if d := New(Config{}); d.sender.url != DefaultEndpoint+"/api/logs" {
		t.Errorf("default endpoint %s", d.sender.url)
	}
	if d := New(Config{}); d.batchSize != 100 || d.flushInterval != 5*time.Second || d.maxRetries != 5 ||
		d.maxEntries != 10_000 || d.maxBytes != 8<<20 || d.sender.timeout != 10*time.Second || d.stopTimeout != 10*time.Second {
		t.Errorf("defaults %+v", d)
	}
	if d := New(Config{MaxRetries: NoRetries}); d.maxRetries != 0 {
		t.Errorf("NoRetries: %d", d.maxRetries)
	}
}

func TestBatchesOfBatchSizeInOrder(t *testing.T) {
	g := newGateway(t, nil)
	l := New(Config{Endpoint: g.URL, BatchSize: 100, FlushInterval: time.Hour}).Start()
	for i := 0; i < 250; i++ {
		l.Info("entry", map[string]any{"seq": i})
	}
	// Two full batches go without waiting for the interval; the rest waits for it (or Flush).
	rs := g.waitRequests(2, 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	if rs = g.requests(); len(rs) != 2 {
		t.Fatalf("%d requests before Flush, want 2", len(rs))
	}
	if err := flush(t, l); err != nil {
		t.Fatal(err)
	}
	rs = g.requests()
	var sizes []int
	for _, r := range rs {
		sizes = append(sizes, len(r.Logs))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batch sizes %v", sizes)
	}
	if fmt.Sprint(seqs(g.logs())) != fmt.Sprint(span(0, 250)) {
		t.Errorf("order %v", seqs(g.logs()))
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestAPartialBatchGoesAfterTheFlushInterval(t *testing.T) {
	g := newGateway(t, nil)
	l := New(Config{Endpoint: g.URL, FlushInterval: 150 * time.Millisecond}).Start()
	t0 := time.Now()
	l.Info("a", nil)
	l.Info("b", nil)
	l.Info("c", nil)
	rs := g.waitRequests(1, 3*time.Second)
	if waited := rs[0].At.Sub(t0); waited < 140*time.Millisecond || waited > 2*time.Second {
		t.Errorf("the batch went after %s, want ~150 ms", waited)
	}
	if len(rs[0].Logs) != 3 {
		t.Errorf("%d entries, want 3", len(rs[0].Logs))
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestStateMachineOfANormalRun(t *testing.T) {
	g := newGateway(t, nil)
	var ev eventLog
	l := New(Config{Endpoint: g.URL, OnEvent: ev.add})
	if l.State() != StateStopped {
		t.Fatalf("a new logger is %s", l.State())
	}
	l.Start()
	l.Info("one", nil)
	if err := flush(t, l); err != nil {
		t.Fatal(err)
	}
	if l.State() != StateBatching {
		t.Errorf("after a delivery: %s", l.State())
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	want := []State{StateStarting, StateBatching, StateSending, StateBatching, StateStopping, StateStopped}
	if got := ev.states(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", got, want)
	}
	var sent *BatchSentEvent
	for _, e := range ev.all() {
		if s, ok := e.(*BatchSentEvent); ok {
			sent = s
		}
	}
	if sent == nil || sent.Count != 1 || sent.Status != 201 || sent.Attempts != 1 || sent.Duplicate {
		t.Errorf("batch_sent %+v", sent)
	}
}

func TestRetriesKeepTheBatchID(t *testing.T) {
	g := newGateway(t, func(n int, _ request) reply {
		if n < 2 {
			return reply{status: 503, body: `{"error":"unavailable"}`}
		}
		return reply{}
	})
	var ev eventLog
	l := New(Config{Endpoint: g.URL, Random: zero, OnEvent: ev.add}).Start()
	for i := 0; i < 20; i++ {
		l.Info("retried", map[string]any{"seq": i})
	}
	if err := flush(t, l); err != nil {
		t.Fatal(err)
	}
	rs := g.requests()
	if len(rs) != 3 {
		t.Fatalf("%d requests, want 3", len(rs))
	}
	for _, r := range rs[1:] {
		if r.BatchID != rs[0].BatchID || string(r.Body) != string(rs[0].Body) {
			t.Errorf("a retry changed the batch: %s vs %s", r.BatchID, rs[0].BatchID)
		}
	}
	if st := l.Stats(); st.Sent != 20 || st.Retries != 2 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	want := []State{StateStarting, StateBatching, StateSending, StateError, StateRetrying, StateSending, StateError, StateRetrying, StateSending, StateBatching}
	if got := ev.states(); fmt.Sprint(got[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", got, want)
	}
	var retries []*RetryEvent
	for _, e := range ev.all() {
		if r, ok := e.(*RetryEvent); ok {
			retries = append(retries, r)
		}
	}
	if len(retries) != 2 || retries[0].Attempt != 1 || retries[1].Attempt != 2 || retries[0].Status != 503 || !strings.Contains(retries[0].Err, "unavailable") {
		t.Errorf("retry events %+v", retries)
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestRetryableAndPermanentStatuses(t *testing.T) {
	for _, st := range []int{408, 429, 500, 502, 503, 504} {
		g := newGateway(t, func(n int, _ request) reply {
			if n == 0 {
				return reply{status: st}
			}
			return reply{}
		})
		l := New(Config{Endpoint: g.URL, Random: zero}).Start()
		l.Info("x", nil)
		if err := stop(t, l); err != nil {
			t.Errorf("%d: %v", st, err)
		}
		if s := l.Stats(); s.Sent != 1 || s.Retries != 1 || len(g.requests()) != 2 {
			t.Errorf("%d is retried: %+v, %d requests", st, s, len(g.requests()))
		}
	}
	for _, st := range []int{400, 401, 403, 404, 413, 415, 302} {
		g := newGateway(t, func(n int, _ request) reply {
			if n == 0 {
				return reply{status: st, headers: map[string]string{"Location": "/elsewhere"}, body: `{"error":"invalid_entry","message":"no entry is valid"}`}
			}
			return reply{}
		})
		var ev eventLog
		l := New(Config{Endpoint: g.URL, Random: zero, BatchSize: 5, OnEvent: ev.add}).Start()
		for i := 0; i < 10; i++ {
			l.Info("x", map[string]any{"seq": i})
		}
		if err := stop(t, l); err != nil {
			t.Errorf("%d: %v", st, err)
		}
		if s := l.Stats(); s.Sent != 5 || s.Failed != 5 || s.Retries != 0 || len(g.requests()) != 2 {
			t.Errorf("%d is permanent, the next batch goes: %+v, %d requests", st, s, len(g.requests()))
		}
		var failed *BatchFailedEvent
		for _, e := range ev.all() {
			if f, ok := e.(*BatchFailedEvent); ok {
				failed = f
			}
		}
		if failed == nil || !failed.Permanent || failed.Status != st || failed.Count != 5 || !strings.Contains(failed.Err, fmt.Sprint(st)) {
			t.Errorf("%d: batch_failed %+v", st, failed)
		}
		if fmt.Sprint(seqs(g.requests()[1].Logs)) != fmt.Sprint(span(5, 10)) {
			t.Errorf("%d: the second batch %v", st, seqs(g.requests()[1].Logs))
		}
	}
}

func TestRetryAfterIsWaited(t *testing.T) {
	g := newGateway(t, func(n int, _ request) reply {
		if n == 0 {
			return reply{status: 429, headers: map[string]string{"Retry-After": "1"}}
		}
		return reply{}
	})
	var ev eventLog
	l := New(Config{Endpoint: g.URL, Random: zero, OnEvent: ev.add}).Start()
	l.Info("x", nil)
	if err := flush(t, l); err != nil {
		t.Fatal(err)
	}
	rs := g.requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	if gap := rs[1].At.Sub(rs[0].At); gap < 950*time.Millisecond || gap > 3*time.Second {
		t.Errorf("retried after %s, want the Retry-After of 1 s", gap)
	}
	for _, e := range ev.all() {
		if r, ok := e.(*RetryEvent); ok && r.Wait != time.Second {
			t.Errorf("retry wait %s", r.Wait)
		}
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutsAndConnectionErrorsAreRetried(t *testing.T) {
	g := newGateway(t, func(n int, _ request) reply {
		switch n {
		case 0:
			return reply{delay: 400 * time.Millisecond} // past the request timeout
		case 1:
			return reply{hijack: true} // the connection drops without an answer
		}
		return reply{}
	})
	var ev eventLog
	l := New(Config{Endpoint: g.URL, Random: zero, RequestTimeout: 100 * time.Millisecond, OnEvent: ev.add}).Start()
	l.Info("x", nil)
	if err := flush(t, l); err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, e := range ev.all() {
		if r, ok := e.(*RetryEvent); ok {
			errs = append(errs, r.Err)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "timeout") {
		t.Errorf("retry reasons %q", errs)
	}
	if st := l.Stats(); st.Sent != 1 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestALostAnswerGivesNoDuplicate(t *testing.T) {
	// The gateway stores the batch, then the connection dies before the answer: the retry,
	// with the same batch_id, is answered 200 duplicate.
	g := newGateway(t, func(n int, _ request) reply { return reply{hijack: n == 0} })
	var ev eventLog
	l := New(Config{Endpoint: g.URL, Random: zero, OnEvent: ev.add}).Start()
	for i := 0; i < 100; i++ {
		l.Info("lost-ack", map[string]any{"seq": i})
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	rs := g.requests()
	if len(rs) != 2 || rs[0].BatchID != rs[1].BatchID {
		t.Fatalf("%d requests", len(rs))
	}
	var sent []*BatchSentEvent
	for _, e := range ev.all() {
		if s, ok := e.(*BatchSentEvent); ok {
			sent = append(sent, s)
		}
	}
	if len(sent) != 1 || !sent[0].Duplicate || sent[0].Attempts != 2 || sent[0].Status != 200 {
		t.Errorf("batch_sent %+v", sent)
	}
	if st := l.Stats(); st.Sent != 100 || st.Retries != 1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFailedKeepsBufferingAndRecovers(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	g := newGateway(t, func(int, request) reply {
		if down.Load() {
			return reply{status: 503}
		}
		return reply{}
	})
	var ev eventLog
	// Waits of at most 30 ms (0.001 of the 30 s cap) while failed.
	l := New(Config{Endpoint: g.URL, MaxRetries: 2, BatchSize: 5, Random: func() float64 { return 0.001 }, OnEvent: ev.add}).Start()
	for i := 0; i < 5; i++ {
		l.Info("x", map[string]any{"seq": i})
	}
	err := flush(t, l) // returns once the logger has given up
	if !errors.Is(err, ErrUndelivered) || l.State() != StateFailed {
		t.Fatalf("Flush while failing: %v, state %s", err, l.State())
	}
	for i := 5; i < 12; i++ {
		l.Info("logged while failed", map[string]any{"seq": i})
	}
	if st := l.Stats(); st.Buffered != 12 || st.Sent != 0 || st.Failed != 0 {
		t.Errorf("failed: %+v", st)
	}
	time.Sleep(100 * time.Millisecond)
	probes := len(g.requests())
	if probes < 4 {
		t.Errorf("%d requests: a failed logger keeps probing", probes)
	}
	down.Store(false)
	waitFor(t, 5*time.Second, "delivery after recovery", func() bool { return l.Stats().Sent == 12 })
	waitFor(t, time.Second, "batching", func() bool { return l.State() == StateBatching })
	if fmt.Sprint(seqs(g.logs()[len(g.logs())-12:])) != fmt.Sprint(span(0, 12)) {
		t.Errorf("order after recovery: %v", seqs(g.logs()))
	}
	permanent, gaveUp := 0, 0
	for _, e := range ev.all() {
		if f, ok := e.(*BatchFailedEvent); ok {
			if f.Permanent {
				permanent++
			} else {
				gaveUp++
			}
		}
	}
	if permanent != 0 || gaveUp != 1 {
		t.Errorf("batch_failed: %d permanent, %d non-permanent; want 0 and 1", permanent, gaveUp)
	}
	states := fmt.Sprint(ev.states())
	if !strings.Contains(states, "retrying sending error failed batching") || strings.Count(states, "failed") != 1 {
		t.Errorf("states %s", states)
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
}

func TestStopDeliversFromFailedWithoutWaitingOutTheBackoff(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	g := newGateway(t, func(int, request) reply {
		if down.Load() {
			return reply{status: 500}
		}
		return reply{}
	})
	l := New(Config{Endpoint: g.URL, MaxRetries: NoRetries, FlushInterval: 10 * time.Millisecond, Random: func() float64 { return 0.99 }}).Start()
	l.Info("x", nil)
	waitFor(t, 2*time.Second, "failed", func() bool { return l.State() == StateFailed })
	down.Store(false)
	t0 := time.Now()
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 500*time.Millisecond {
		t.Errorf("Stop took %s: it should cut the ~1 s retry wait short", took)
	}
	if st := l.Stats(); st.Sent != 1 || st.State != StateStopped || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStopDeadlineCountsWhatIsLeftAsFailed(t *testing.T) {
	g := newGateway(t, func(int, request) reply { return reply{status: 503} })
	var ev eventLog
	l := New(Config{Endpoint: g.URL, StopTimeout: 300 * time.Millisecond, BatchSize: 5, Random: zero, OnEvent: ev.add}).Start()
	for i := 0; i < 7; i++ {
		l.Info("x", nil)
	}
	t0 := time.Now()
	err := stop(t, l)
	took := time.Since(t0)
	if !errors.Is(err, ErrUndelivered) || !strings.Contains(err.Error(), "7 entries") {
		t.Errorf("Stop: %v", err)
	}
	if took < 280*time.Millisecond || took > 2*time.Second {
		t.Errorf("Stop took %s, want the 300 ms deadline", took)
	}
	if st := l.Stats(); st.Failed != 7 || st.Buffered != 0 || st.Sent != 0 || st.State != StateStopped {
		t.Errorf("stats %+v", st)
	}
	var dropped *DroppedEvent
	for _, e := range ev.all() {
		if d, ok := e.(*DroppedEvent); ok {
			dropped = d
		}
	}
	if dropped == nil || dropped.Count != 7 || dropped.Reason != "stop" {
		t.Errorf("dropped %+v", dropped)
	}
	if got := ev.states(); got[len(got)-1] != StateStopped || got[len(got)-2] != StateStopping {
		t.Errorf("states %v", got)
	}
	if n := len(g.requests()); n < 2 {
		t.Errorf("%d requests: stop keeps retrying until its deadline", n)
	}
}

func TestStopCutsARequestInFlightAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	g := newGateway(t, func(int, request) reply { return reply{block: release} })
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	l := New(Config{Endpoint: g.URL, RequestTimeout: time.Minute}).Start()
	l.Info("x", nil)
	l.Info("y", nil)
	go func() { _ = l.Flush(context.Background()) }()
	g.waitRequests(1, 2*time.Second)
	t0 := time.Now()
	err := l.Stop(ctx) // the context's 200 ms, before StopTimeout's 10 s
	if took := time.Since(t0); took > time.Second || !errors.Is(err, ErrUndelivered) {
		t.Errorf("Stop took %s: %v", took, err)
	}
	if st := l.Stats(); st.Failed != 2 || st.State != StateStopped {
		t.Errorf("stats %+v", st)
	}
}

func TestOverflowDropsTheOldestAndReportsIt(t *testing.T) {
	g := newGateway(t, nil)
	var ev eventLog
	l := New(Config{Endpoint: g.URL, MaxBufferEntries: 50, OnEvent: ev.add})
	for i := 0; i < 120; i++ {
		l.Info("overflow", map[string]any{"seq": i}) // not started: everything waits in the buffer
	}
	if st := l.Stats(); st.Dropped != 70 || st.Buffered != 50 {
		t.Fatalf("stats %+v", st)
	}
	l.Start()
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	logs := g.logs()
	if fmt.Sprint(seqs(logs)) != fmt.Sprint(span(70, 120)) {
		t.Errorf("kept %v", seqs(logs))
	}
	if st := l.Stats(); st.Sent != 51 || st.Dropped != 70 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	// The report goes after the first delivery, first in line.
	var report map[string]any
	for _, e := range logs {
		if e["category"] == "sluice.client" {
			if report != nil {
				t.Error("two loss reports")
			}
			report = e
		}
	}
	checkReport(t, report, 70)
	total := 0
	for _, e := range ev.all() {
		if d, ok := e.(*DroppedEvent); ok && d.Reason == "overflow" {
			total += d.Count
		}
	}
	if total != 70 {
		t.Errorf("dropped events count %d", total)
	}
}

func checkReport(t *testing.T, report map[string]any, n int) {
	t.Helper()
	if report == nil {
		t.Fatal("no loss report")
	}
	ctx := report["context"].(map[string]any)
	since, _ := ctx["since"].(string)
	if report["level"] != "WARN" || ctx["dropped"] != float64(n) || !timestampRE.MatchString(since) {
		t.Errorf("report %v", report)
	}
	if want := fmt.Sprintf("sluice client: buffer overflow, %d entries dropped since %s", n, since); report["message"] != want {
		t.Errorf("message %q, want %q", report["message"], want)
	}
	if fmt.Sprint(report["tags"]) != "[sluice-client dropped]" {
		t.Errorf("tags %v", report["tags"])
	}
}

func TestOverflowNeverCutsTheBatchInFlight(t *testing.T) {
	release := make(chan struct{})
	g := newGateway(t, func(n int, _ request) reply {
		if n == 0 {
			return reply{block: release}
		}
		return reply{}
	})
	l := New(Config{Endpoint: g.URL, BatchSize: 10, MaxBufferEntries: 30, FlushInterval: time.Hour}).Start()
	for i := 0; i < 10; i++ {
		l.Info("x", map[string]any{"seq": i})
	}
	g.waitRequests(1, 2*time.Second)
	for i := 10; i < 60; i++ {
		l.Info("x", map[string]any{"seq": i})
	}
	// 10 in flight + 20 waiting = the bound of 30: the 30 oldest waiting went.
	if st := l.Stats(); st.Dropped != 30 || st.Buffered != 30 {
		t.Errorf("stats %+v", st)
	}
	close(release)
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	logs := g.logs()
	if fmt.Sprint(seqs(logs)) != fmt.Sprint(append(span(0, 10), span(40, 60)...)) {
		t.Errorf("delivered %v", seqs(logs))
	}
	if len(logs) != 31 || logs[10]["category"] != "sluice.client" {
		t.Fatalf("the report is not first after the batch in flight: %v", logs[10])
	}
	checkReport(t, logs[10], 30)
}

func TestTheLossReportIsNeverDropped(t *testing.T) {
	l := New(Config{Endpoint: "http://127.0.0.1:1", MaxBufferEntries: 5})
	for i := 0; i < 5; i++ {
		l.Info("before", map[string]any{"seq": i})
	}
	l.mu.Lock()
	l.lostCount, l.lostSince = 3, timestamp(time.Now())
	l.reportLoss() // as after a delivery
	l.mu.Unlock()
	for i := 5; i < 20; i++ {
		l.Info("after", map[string]any{"seq": i})
	}
	es := queuedEntries(t, l)
	if len(es) != 5 || es[0]["category"] != "sluice.client" {
		t.Fatalf("buffer %v", es)
	}
	if fmt.Sprint(seqs(es)) != fmt.Sprint(span(16, 20)) {
		t.Errorf("kept %v", seqs(es))
	}
	checkReport(t, es[0], 3)
}

func TestTheByteBoundDropsToo(t *testing.T) {
	l := New(Config{Endpoint: "http://127.0.0.1:1", MaxBufferBytes: 2000})
	big := strings.Repeat("x", 300)
	for i := 0; i < 20; i++ {
		l.Info(big, map[string]any{"seq": i})
	}
	st := l.Stats()
	l.mu.Lock()
	bytes := l.queuedBytes
	l.mu.Unlock()
	if st.Dropped == 0 || bytes > 2000 || st.Buffered+int(st.Dropped) != 20 {
		t.Errorf("stats %+v, %d bytes", st, bytes)
	}
	if got := seqs(queuedEntries(t, l)); got[len(got)-1] != 19 {
		t.Errorf("the newest must be kept: %v", got)
	}
}

func TestLogCallsNeverWaitForTheGateway(t *testing.T) {
	release := make(chan struct{})
	g := newGateway(t, func(int, request) reply { return reply{block: release} })
	defer close(release)
	l := New(Config{Endpoint: g.URL, MaxBufferEntries: 1000, StopTimeout: 100 * time.Millisecond}).Start()
	l.Info("first", nil)
	go func() { _ = l.Flush(context.Background()) }()
	g.waitRequests(1, 2*time.Second) // the gateway now holds the request and never answers
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				l.Info("while the gateway hangs", map[string]any{"w": w, "i": i})
			}
		}(w)
	}
	wg.Wait()
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("20,000 log calls took %s", took)
	}
	if st := l.Stats(); st.Buffered != 1000 || st.Dropped != 19_001 {
		t.Errorf("stats %+v", st)
	}
	_ = stop(t, l)
}

func TestComplaintsReachStderrAtMostOnceAMinute(t *testing.T) {
	g := newGateway(t, func(int, request) reply { return reply{status: 400, body: `{"error":"invalid_entry"}`} })
	var stderr syncBuffer
	l := New(Config{Endpoint: g.URL, APIKey: "t.very-secret", BatchSize: 1})
	l.stderr = &stderr
	l.Start()
	for i := 0; i < 5; i++ {
		l.Info("refused", nil)
	}
	if err := stop(t, l); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "[sluice-client] batch of 1 refused: HTTP 400 invalid_entry") {
		t.Errorf("stderr %q", out)
	}
	if strings.Contains(out, "very-secret") {
		t.Error("the token reached stderr")
	}
	if st := l.Stats(); st.Failed != 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestFlushAndStopEdgeCases(t *testing.T) {
	g := newGateway(t, nil)
	l := New(Config{Endpoint: g.URL})
	if err := flush(t, l); err != nil {
		t.Errorf("Flush of an empty, unstarted logger: %v", err)
	}
	l.Info("waits for Start", nil)
	if err := flush(t, l); !errors.Is(err, ErrUndelivered) {
		t.Errorf("Flush before Start: %v", err)
	}
	if err := stop(t, New(Config{Endpoint: g.URL})); err != nil {
		t.Errorf("Stop of an unstarted, empty logger: %v", err)
	}
	// Stop on a logger never started still delivers what it holds.
	if err := stop(t, l); err != nil || l.Stats().Sent != 1 {
		t.Errorf("Stop before Start: %v %+v", err, l.Stats())
	}

	// Concurrent Stops, then a restart.
	l.Start()
	l.Info("a", nil)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs[i] = stop(t, l) }(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := l.Stats(); st.Sent != 2 || st.State != StateStopped {
		t.Errorf("stats %+v", st)
	}
	l.Start()
	l.Info("after a restart", nil)
	if err := stop(t, l); err != nil || l.Stats().Sent != 3 {
		t.Errorf("restart: %v %+v", err, l.Stats())
	}

	// Flush honours its context.
	release := make(chan struct{})
	h := newGateway(t, func(int, request) reply { return reply{block: release} })
	defer close(release)
	m := New(Config{Endpoint: h.URL, StopTimeout: 50 * time.Millisecond}).Start()
	m.Info("stuck", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush past its context: %v", err)
	}
	_ = stop(t, m)
}

func TestAPanickingCallbackDoesNotStopDelivery(t *testing.T) {
	g := newGateway(t, nil)
	var stderr syncBuffer
	l := New(Config{Endpoint: g.URL, OnEvent: func(Event) { panic("callback bug") }})
	l.stderr = &stderr
	l.Start()
	l.Info("x", nil)
	if err := stop(t, l); err != nil || l.Stats().Sent != 1 {
		t.Errorf("%v %+v", err, l.Stats())
	}
	if !strings.Contains(stderr.String(), "OnEvent panicked: callback bug") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestACallbackMayStopTheLogger(t *testing.T) {
	g := newGateway(t, func(int, request) reply { return reply{status: 503} })
	done := make(chan error, 1)
	var l *Logger
	l = New(Config{Endpoint: g.URL, MaxRetries: NoRetries, Random: zero, FlushInterval: time.Millisecond, StopTimeout: 50 * time.Millisecond, OnEvent: func(e Event) {
		if s, ok := e.(*StateEvent); ok && s.To == StateFailed {
			go func() { done <- nil }()
			_ = l.Flush(context.Background())
			_ = l.Stop(context.Background())
		}
	}}).Start()
	l.Info("x", nil)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no failed state")
	}
	waitFor(t, 5*time.Second, "stopped", func() bool { return l.State() == StateStopped })
}

func TestUsesTheGivenHTTPClient(t *testing.T) {
	g := newGateway(t, nil)
	var used atomic.Int32
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	l := New(Config{Endpoint: g.URL, HTTPClient: client}).Start()
	l.Info("x", nil)
	if err := stop(t, l); err != nil || used.Load() != 1 {
		t.Errorf("%v, %d requests through the client", err, used.Load())
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
