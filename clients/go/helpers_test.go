package sluice

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

// request is one POST /api/logs the fake gateway received.
type request struct {
	BatchID string
	Logs    []map[string]any
	Header  http.Header
	Body    []byte // as sent (gzip or not)
	Path    string
	At      time.Time
}

// reply is what the fake gateway answers; status 0 means the default (201, or 200 duplicate
// for a batch_id seen before). hijack closes the connection without an answer, after storing.
type reply struct {
	status  int
	headers map[string]string
	body    string
	hijack  bool
	delay   time.Duration
	block   chan struct{} // wait for it to be closed before answering
}

// fakeGateway records every request and answers with respond(n) for the n-th (from 0).
type fakeGateway struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	reqs    []request
	stored  map[string]bool
	respond func(n int, r request) reply
}

// TestMain keeps the library's stderr lines (complaints about the failures the tests cause) out
// of the output unless -v; tests about them set Logger.stderr.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		stderrOutput = io.Discard
	}
	os.Exit(m.Run())
}

func newGateway(t *testing.T, respond func(n int, r request) reply) *fakeGateway {
	t.Helper()
	g := &fakeGateway{t: t, stored: map[string]bool{}, respond: respond}
	g.Server = httptest.NewServer(http.HandlerFunc(g.handle))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGateway) handle(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	plain := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		plain, _ = io.ReadAll(zr)
	}
	var body struct {
		BatchID string           `json:"batch_id"`
		Logs    []map[string]any `json:"logs"`
	}
	if err := json.Unmarshal(plain, &body); err != nil {
		g.t.Errorf("body is not JSON: %v: %s", err, plain)
	}
	req := request{BatchID: body.BatchID, Logs: body.Logs, Header: r.Header.Clone(), Body: raw, Path: r.URL.Path, At: time.Now()}
	g.mu.Lock()
	n := len(g.reqs)
	g.reqs = append(g.reqs, req)
	g.mu.Unlock()
	rep := reply{}
	if g.respond != nil {
		rep = g.respond(n, req)
	}
	if rep.block != nil {
		<-rep.block
	}
	if rep.delay > 0 {
		time.Sleep(rep.delay)
	}
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	if rep.status == 0 || rep.hijack {
		g.mu.Lock()
		dup := g.stored[body.BatchID]
		g.stored[body.BatchID] = true
		g.mu.Unlock()
		if rep.hijack {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if dup {
			w.WriteHeader(200)
			io.WriteString(w, `{"saved":0,"duplicate":true,"entries":[],"errors":null}`)
		} else {
			w.WriteHeader(201)
			io.WriteString(w, `{"saved":1,"entries":[],"errors":null}`)
		}
		return
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (g *fakeGateway) requests() []request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]request(nil), g.reqs...)
}

// logs is every entry received, in order, retries included.
func (g *fakeGateway) logs() []map[string]any {
	var out []map[string]any
	for _, r := range g.requests() {
		out = append(out, r.Logs...)
	}
	return out
}

// waitRequests waits until n requests arrived.
func (g *fakeGateway) waitRequests(n int, within time.Duration) []request {
	g.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if rs := g.requests(); len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d requests after %s, want %d", len(g.requests()), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventLog collects a logger's events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *eventLog) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.evs...)
}

// states is the sequence of states entered.
func (e *eventLog) states() []State {
	var out []State
	for _, ev := range e.all() {
		if s, ok := ev.(*StateEvent); ok {
			out = append(out, s.To)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// queuedEntries decodes what a logger holds in its buffer (for loggers never started).
func queuedEntries(t *testing.T, l *Logger) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, it := range l.queue[l.head:] {
		var m map[string]any
		if err := json.Unmarshal(it.json, &m); err != nil {
			t.Fatalf("entry is not JSON: %v: %s", err, it.json)
		}
		out = append(out, m)
	}
	return out
}

func zero() float64 { return 0 }

// waitFor polls cond for up to within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
