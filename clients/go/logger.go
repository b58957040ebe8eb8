// Package sluice is the Go client of the Sluice log gateway. A log call serialises its entry,
// puts it in a bounded buffer and returns: it never waits for the network and never panics into
// the app. One goroutine per Logger sends batches to POST /api/logs, one at a time (which keeps
// the order), retries them with backoff under the same batch_id (which the gateway stores once),
// and reports what it could not deliver.
//
//	logger := sluice.New(sluice.Config{ServiceName: "my-application", ComponentName: "user-service"}).Start()
//	defer logger.Stop(context.Background())
//	logger.Info("User logged in successfully", map[string]any{"user_id": 12345})
//
// The package uses only the standard library.
package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the library's version, sent in the User-Agent (sluice-go/Version (go 1.x.y)).
const Version = "0.1.0"

// DefaultEndpoint is the gateway used when neither Config.Endpoint nor SLUICE_URL is set.
const DefaultEndpoint = "http://localhost:9000"

// State is where a Logger's delivery stands; the names are the Node library's.
type State string

// The states. Running is StateBatching (collecting) or StateSending; StateError is the moment a
// send failed, StateRetrying the backoff wait; StateFailed after MaxRetries (the logger still
// buffers, accepts log calls and probes the gateway at the backoff cap; a delivery returns it to
// StateBatching). Stop from any state goes through StateStopping to StateStopped.
const (
	StateStopped  State = "stopped"
	StateStarting State = "starting"
	StateBatching State = "batching"
	StateSending  State = "sending"
	StateError    State = "error"
	StateRetrying State = "retrying"
	StateFailed   State = "failed"
	StateStopping State = "stopping"
)

// NoRetries as Config.MaxRetries: the first failed attempt of a batch puts the logger in
// StateFailed (0 means the default, 5).
const NoRetries = -1

// Config configures a Logger. Zero values mean the defaults; the string fields fall back to
// environment variables first.
type Config struct {
	// Endpoint is the gateway's base URL or its /api/logs URL. Default SLUICE_URL, then
	// DefaultEndpoint.
	Endpoint string
	// ServiceName is each entry's app_id: the Sluice app (it must be the token's app).
	// Default SLUICE_SERVICE.
	ServiceName string
	// ComponentName is each entry's source.
	ComponentName string
	// APIKey is the app's ingest token, sent as Authorization: Bearer. Default SLUICE_TOKEN.
	APIKey string

	// BatchSize: a batch closes at this many entries … (default 100)
	BatchSize int
	// FlushInterval: … or this long after its first entry, whichever comes first (default 5 s).
	FlushInterval time.Duration
	// MaxRetries is how many times one batch is retried before the state is StateFailed
	// (default 5; NoRetries for none).
	MaxRetries int
	// MaxBufferEntries bounds the buffer (waiting and in flight) in entries (default 10,000).
	MaxBufferEntries int
	// MaxBufferBytes bounds the buffer in serialised bytes (default 8 MiB).
	MaxBufferBytes int
	// RequestTimeout is one request's deadline, answer included; then it is retried (default 10 s).
	RequestTimeout time.Duration
	// StopTimeout is how long Stop keeps trying to deliver (default 10 s).
	StopTimeout time.Duration

	// MinLevel drops entries below it (default: none dropped).
	MinLevel Level
	// SampleRate is the share of DEBUG, INFO and WARN entries kept, in (0, 1]; ERROR and FATAL
	// are always kept. 0 means 1 (keep all); use MinLevel to drop a level entirely.
	SampleRate float64

	// OnEvent, when set, receives every Event (state changes, batches sent and failed, retries,
	// entries dropped) in order, on a goroutine of the logger's own: a log call never runs it, and a
	// slow callback delays only later events. Stop returns after the last event was handled.
	OnEvent func(Event)
	// HTTPClient sends the requests (custom TLS, proxies). Default: a client of its own keeping
	// one connection alive. Its CheckRedirect is not used: a redirect is reported, not followed.
	HTTPClient *http.Client
	// Random is the jitter and sampling source, values in [0, 1), safe for concurrent use
	// (default: math/rand seeded per logger). For tests.
	Random func() float64
}

// Stats are a Logger's counters, with the Node library's names in JSON.
type Stats struct {
	Sent     int64 `json:"sent"`     // entries the gateway stored
	Failed   int64 `json:"failed"`   // entries refused for good (4xx) or abandoned by Stop
	Dropped  int64 `json:"dropped"`  // entries dropped, oldest first, because the buffer was full
	Buffered int   `json:"buffered"` // entries waiting or in flight
	Retries  int64 `json:"retries"`  // requests repeated after a failed attempt
	Sampled  int64 `json:"sampled"`  // entries left out by SampleRate
	State    State `json:"state"`
}

// stderrOutput is where complaints go (the tests quiet it).
var stderrOutput io.Writer = os.Stderr

// ErrUndelivered is wrapped by the errors of Stop and Flush when entries were left undelivered.
var ErrUndelivered = errors.New("sluice: entries not delivered")

// item is one serialised entry in the buffer.
type item struct {
	json   []byte
	report bool // the loss report: never dropped
}

// batch is the entries on the wire (or waiting for a retry), kept whole until delivered or given up.
type batch struct {
	id       string
	items    []item
	count    int
	bytes    int
	attempts int
	body     []byte // encoded on the first attempt; every retry sends the same bytes
	gzipped  bool
}

// Logger sends entries to the gateway. Its methods are safe for concurrent use. Create it with
// New, call Start, log, and call Stop before the program ends (Go has no exit hook to do it).
type Logger struct {
	appID, source  string
	batchSize      int
	flushInterval  time.Duration
	maxRetries     int
	maxEntries     int
	maxBytes       int
	stopTimeout    time.Duration
	minLevel       Level
	sampleRate     float64
	random         func() float64
	onEvent        func(Event)
	sender         *httpSender
	ownClient      bool
	stderr         io.Writer // test hook
	sampled        atomic.Int64
	lastComplained atomic.Int64 // unix nanoseconds of the last line on stderr
	dispatcher     atomic.Int64 // the goroutine running OnEvent callbacks, 0 when none

	// wake tells the pump to look again (a full batch, a new deadline, Flush, Stop).
	wake chan struct{}

	mu          sync.Mutex
	state       State
	queue       []item // waiting entries from queue[head]
	head        int
	queuedBytes int
	inflight    *batch
	timerAt     time.Time // the batch timer's deadline; zero: not armed
	retrying    bool      // a retry wait is on …
	retryAt     time.Time // … until then
	draining    bool      // Flush or Stop asked for partial batches until the buffer is empty
	waiters     []chan struct{}
	lostCount   int64
	lostSince   string
	sent        int64
	failed      int64
	dropped     int64
	retries     int64
	sendCtx     context.Context // cancelled when Stop gives up on the request in flight
	cancelSends context.CancelFunc
	pumpDone    chan struct{} // closed when the pump goroutine returned; nil: none running
	stopDone    chan struct{} // non-nil while a Stop runs; closed at its end
	stopErr     error
	complaint   string // a line for stderr, written after the lock is released
	events      []Event
	dispatching bool
	eventsIdle  chan struct{}
}

// New makes a Logger from cfg, SLUICE_URL, SLUICE_TOKEN, SLUICE_SERVICE and the defaults. It
// does not connect: Start begins delivery.
func New(cfg Config) *Logger {
	endpoint := firstNonEmpty(cfg.Endpoint, os.Getenv("SLUICE_URL"), DefaultEndpoint)
	l := &Logger{
		appID:         firstNonEmpty(cfg.ServiceName, os.Getenv("SLUICE_SERVICE")),
		source:        cfg.ComponentName,
		batchSize:     positiveInt(cfg.BatchSize, 100),
		flushInterval: positiveDuration(cfg.FlushInterval, 5*time.Second),
		maxRetries:    cfg.MaxRetries,
		maxEntries:    positiveInt(cfg.MaxBufferEntries, 10_000),
		maxBytes:      positiveInt(cfg.MaxBufferBytes, 8<<20),
		stopTimeout:   positiveDuration(cfg.StopTimeout, 10*time.Second),
		minLevel:      cfg.MinLevel,
		sampleRate:    cfg.SampleRate,
		random:        cfg.Random,
		onEvent:       cfg.OnEvent,
		ownClient:     cfg.HTTPClient == nil,
		stderr:        stderrOutput,
		wake:          make(chan struct{}, 1),
		state:         StateStopped,
	}
	switch {
	case l.maxRetries == 0:
		l.maxRetries = 5
	case l.maxRetries < 0:
		l.maxRetries = 0
	}
	if !(l.sampleRate > 0 && l.sampleRate <= 1) {
		l.sampleRate = 1
	}
	if l.random == nil {
		// Go 1.19's global math/rand starts from the same seed in every process: processes
		// retrying in step is what the jitter is there to prevent.
		src := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())<<32))
		var mu sync.Mutex
		l.random = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return src.Float64()
		}
	}
	// "(go 1.19.8)": runtime and version apart, as every Sluice client writes them (PROGRAM.md).
	userAgent := fmt.Sprintf("sluice-go/%s (go %s)", Version, strings.TrimPrefix(runtime.Version(), "go"))
	l.sender = newHTTPSender(endpoint, firstNonEmpty(cfg.APIKey, os.Getenv("SLUICE_TOKEN")), userAgent,
		positiveDuration(cfg.RequestTimeout, 10*time.Second), cfg.HTTPClient)
	return l
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func positiveInt(v, dflt int) int {
	if v > 0 {
		return v
	}
	return dflt
}

func positiveDuration(v, dflt time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return dflt
}

// Stats returns the counters and the state.
func (l *Logger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Sent: l.sent, Failed: l.failed, Dropped: l.dropped, Retries: l.retries, Sampled: l.sampled.Load(),
		Buffered: l.pending(), State: l.state}
	if l.inflight != nil {
		s.Buffered += l.inflight.count
	}
	return s
}

// State returns the current state.
func (l *Logger) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// ---------------------------------------------------------------------------------------------
// Life cycle
// ---------------------------------------------------------------------------------------------

// Start begins delivery: StateStopped → StateStarting → StateBatching. Entries logged before
// Start waited in the buffer and go now. It does nothing unless the logger is stopped (or while
// a Stop is still finishing). It returns l.
func (l *Logger) Start() *Logger {
	l.mu.Lock()
	defer l.unlock()
	if l.state != StateStopped || l.stopDone != nil {
		return l
	}
	l.setState(StateStarting)
	l.startPump()
	l.setState(StateBatching)
	if n := l.pending(); n >= l.batchSize {
		l.poke()
	} else if n > 0 {
		l.armTimer()
	}
	return l
}

// startPump starts the delivery goroutine (l.mu held).
func (l *Logger) startPump() {
	if l.pumpDone != nil {
		return
	}
	l.sendCtx, l.cancelSends = context.WithCancel(context.Background())
	l.pumpDone = make(chan struct{})
	go l.run(l.pumpDone)
}

// Flush sends everything buffered now, in partial batches if need be, and returns (after
// OnEvent has seen the events so far) when the buffer is empty (nil), when the logger has failed or stopped with entries left (an error
// wrapping ErrUndelivered), or when ctx ends (ctx.Err()). On a logger that is not started it
// returns at once; the entries stay buffered for Start.
func (l *Logger) Flush(ctx context.Context) error {
	l.mu.Lock()
	if l.idle() {
		l.unlock()
		return nil
	}
	if l.state == StateStopped && l.stopDone == nil {
		n := l.buffered()
		l.unlock()
		return fmt.Errorf("%w: %d entries buffered, logger not started", ErrUndelivered, n)
	}
	w := make(chan struct{})
	l.waiters = append(l.waiters, w)
	l.draining = true
	l.poke()
	l.unlock()
	select {
	case <-w:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.waitEvents()
	l.mu.Lock()
	defer l.unlock()
	if n := l.buffered(); n > 0 {
		return fmt.Errorf("%w: %d entries still buffered (state %s)", ErrUndelivered, n, l.state)
	}
	return nil
}

// Stop delivers what is buffered, from any state (StateStopping), for up to Config.StopTimeout
// or until ctx ends, whichever comes first; then it counts what is left as failed (EventDropped,
// reason "stop"), releases the connection and returns in StateStopped. The error wraps
// ErrUndelivered when entries were left. A concurrent Stop waits for the same end. Entries logged
// afterwards wait in the buffer for the next Start.
func (l *Logger) Stop(ctx context.Context) error {
	l.mu.Lock()
	if done := l.stopDone; done != nil {
		l.unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
		defer l.unlock()
		return l.stopErr
	}
	if l.state == StateStopped && l.idle() {
		l.unlock()
		return nil
	}
	done := make(chan struct{})
	l.stopDone = done
	l.stopErr = nil
	l.setState(StateStopping)
	l.timerAt = time.Time{}
	if l.retrying {
		// The retry wait is cut short: stopping is the last chance to deliver.
		l.retryAt = time.Time{}
	}
	l.draining = true
	l.startPump()
	pumpDone := l.pumpDone
	l.poke()
	l.unlock()

	deadline := time.NewTimer(l.stopTimeout)
	select {
	case <-pumpDone: // the buffer is empty
	case <-deadline.C:
	case <-ctx.Done():
	}
	deadline.Stop()

	l.mu.Lock()
	var err error
	if n := l.abandonAll("stop timed out before delivery"); n > 0 {
		err = fmt.Errorf("%w: %d entries not delivered before the stop deadline", ErrUndelivered, n)
	}
	l.cancelSends()
	// Stopped now, before the pump has returned: an entry logged meanwhile waits for the next
	// Start instead of being sent (or retried) on a cancelled connection.
	l.setState(StateStopped)
	l.poke()
	l.unlock()
	<-pumpDone

	if l.ownClient {
		l.sender.close()
	}
	l.mu.Lock()
	l.pumpDone = nil
	l.stopDone = nil
	l.stopErr = err
	l.resolveWaiters()
	l.unlock()
	l.waitEvents()
	close(done)
	return err
}

// ---------------------------------------------------------------------------------------------
// Log calls: never block on I/O, never panic
// ---------------------------------------------------------------------------------------------

// Debug logs at DEBUG. fields become the entry's context: an error under "error" or "err" gives
// the stack_trace, "tags" (a []string) the entry's tags.
func (l *Logger) Debug(msg string, fields map[string]any) {
	l.log(LevelDebug, msg, fields, entryExtra{})
}

// Info logs at INFO; fields as for Debug.
func (l *Logger) Info(msg string, fields map[string]any) { l.log(LevelInfo, msg, fields, entryExtra{}) }

// Warning logs at WARN; fields as for Debug.
func (l *Logger) Warning(msg string, fields map[string]any) {
	l.log(LevelWarn, msg, fields, entryExtra{})
}

// Warn logs at WARN; fields as for Debug.
func (l *Logger) Warn(msg string, fields map[string]any) { l.log(LevelWarn, msg, fields, entryExtra{}) }

// Error logs at ERROR; fields as for Debug.
func (l *Logger) Error(msg string, fields map[string]any) {
	l.log(LevelError, msg, fields, entryExtra{})
}

// Fatal logs at FATAL; fields as for Debug. Unlike log.Fatal it does not exit the process: an
// app that means to exit calls Stop first, so the entry is delivered.
func (l *Logger) Fatal(msg string, fields map[string]any) {
	l.log(LevelFatal, msg, fields, entryExtra{})
}

// Log logs at level (an unknown level is INFO); fields as for Debug.
func (l *Logger) Log(level Level, msg string, fields map[string]any) {
	l.log(level, msg, fields, entryExtra{})
}

// Custom records a business event: an INFO entry with category "event" and tag "custom", the
// event's name as message and data as context.
func (l *Logger) Custom(event string, data map[string]any) {
	l.log(LevelInfo, event, data, entryExtra{category: "event", tags: []string{"custom"}})
}

// log is the one path of every log call (errorStack counts on its depth: callerSkip).
func (l *Logger) log(level Level, msg string, fields map[string]any, extra entryExtra) {
	defer func() {
		if r := recover(); r != nil {
			what := fmt.Sprintf("log call failed: %v", r)
			l.mu.Lock()
			l.emit(&ErrorEvent{Err: what})
			l.mu.Unlock()
			l.complainNow(what)
		}
	}()
	if level < LevelDebug || level > LevelFatal {
		level = LevelInfo
	}
	if level < l.minLevel {
		return
	}
	if l.sampleRate < 1 && level < LevelError && l.random() >= l.sampleRate {
		l.sampled.Add(1)
		return
	}
	l.enqueue(encodeEntry(l.appID, l.source, level, msg, fields, extra, time.Now()))
}

// ---------------------------------------------------------------------------------------------
// The buffer (l.mu held in every method below)
// ---------------------------------------------------------------------------------------------

func (l *Logger) enqueue(json []byte) {
	l.mu.Lock()
	defer l.unlockFromLogCall()
	l.queue = append(l.queue, item{json: json})
	l.queuedBytes += len(json)
	l.enforceBounds()
	if l.state == StateBatching {
		if l.pending() >= l.batchSize {
			l.poke()
		} else {
			l.armTimer()
		}
	}
}

func (l *Logger) pending() int { return len(l.queue) - l.head }

func (l *Logger) buffered() int {
	n := l.pending()
	if l.inflight != nil {
		n += l.inflight.count
	}
	return n
}

func (l *Logger) idle() bool { return l.pending() == 0 && l.inflight == nil }

// poke wakes the pump without ever blocking.
func (l *Logger) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// armTimer starts the flush interval of the entries waiting, unless it runs already.
func (l *Logger) armTimer() {
	if !l.timerAt.IsZero() || l.pending() == 0 {
		return
	}
	l.timerAt = time.Now().Add(l.flushInterval)
	l.poke()
}

// enforceBounds drops the oldest waiting entries until the buffer (waiting and in flight) fits
// its bounds. The batch in flight is never cut, and the loss report is never dropped: losing it
// would hide the very gap it reports.
func (l *Logger) enforceBounds() {
	inCount, inBytes := 0, 0
	if l.inflight != nil {
		inCount, inBytes = l.inflight.count, l.inflight.bytes
	}
	var dropped int64
	for l.pending() > 0 && (l.pending()+inCount > l.maxEntries || l.queuedBytes+inBytes > l.maxBytes) {
		victim := l.queue[l.head]
		if victim.report {
			if l.pending() < 2 {
				break
			}
			// Drop the entry after the report; the report moves up into its place.
			victim = l.queue[l.head+1]
			l.queue[l.head+1] = l.queue[l.head]
		}
		l.queue[l.head] = item{}
		l.head++
		l.queuedBytes -= len(victim.json)
		dropped++
	}
	l.compact()
	if dropped == 0 {
		return
	}
	if l.lostCount == 0 {
		l.lostSince = timestamp(time.Now())
	}
	l.lostCount += dropped
	l.dropped += dropped
	l.emit(&DroppedEvent{Count: int(dropped), Reason: "overflow"})
	l.complain(fmt.Sprintf("buffer full, %d oldest entries dropped", dropped))
}

// compact reuses the queue's array once most of it lies before head.
func (l *Logger) compact() {
	if l.head == len(l.queue) {
		l.queue = l.queue[:0]
		l.head = 0
		return
	}
	if l.head > 1024 && l.head*2 > len(l.queue) {
		n := copy(l.queue, l.queue[l.head:])
		for i := n; i < len(l.queue); i++ {
			l.queue[i] = item{}
		}
		l.queue = l.queue[:n]
		l.head = 0
	}
}

// takeBatch moves up to BatchSize waiting entries into a new batch.
func (l *Logger) takeBatch() *batch {
	n := l.pending()
	if n > l.batchSize {
		n = l.batchSize
	}
	if n == 0 {
		return nil
	}
	b := &batch{id: newUUID(), items: make([]item, n), count: n}
	copy(b.items, l.queue[l.head:l.head+n])
	for i := l.head; i < l.head+n; i++ {
		l.queue[i] = item{}
	}
	l.head += n
	for _, it := range b.items {
		b.bytes += len(it.json)
	}
	l.queuedBytes -= b.bytes
	l.compact()
	return b
}

// abandonAll counts the batch in flight and everything waiting as failed; it returns how many.
func (l *Logger) abandonAll(reason string) int {
	var batches []*batch
	if l.inflight != nil {
		batches = append(batches, l.inflight)
		l.inflight = nil
	}
	l.retrying = false
	for b := l.takeBatch(); b != nil; b = l.takeBatch() {
		batches = append(batches, b)
	}
	count := 0
	for _, b := range batches {
		count += b.count
		l.failed += int64(b.count)
		l.emit(&BatchFailedEvent{BatchID: b.id, Count: b.count, Err: reason, Permanent: true})
	}
	if count > 0 {
		l.emit(&DroppedEvent{Count: count, Reason: "stop"})
		l.complain(fmt.Sprintf("%d entries not delivered: %s", count, reason))
	}
	return count
}

// reportLoss puts one WARN entry first in line after a delivery: how many entries the full
// buffer cost and since when, so the gap shows where it happened.
func (l *Logger) reportLoss() {
	if l.lostCount == 0 {
		return
	}
	count, since := l.lostCount, l.lostSince
	l.lostCount, l.lostSince = 0, ""
	json := encodeEntry(l.appID, l.source, LevelWarn,
		fmt.Sprintf("sluice client: buffer overflow, %d entries dropped since %s", count, since),
		map[string]any{"dropped": count, "since": since},
		entryExtra{category: "sluice.client", tags: []string{"sluice-client", "dropped"}}, time.Now())
	it := item{json: json, report: true}
	if l.head > 0 {
		l.head--
		l.queue[l.head] = it
	} else {
		l.queue = append(l.queue, item{})
		copy(l.queue[1:], l.queue)
		l.queue[0] = it
	}
	l.queuedBytes += len(json)
}

func (l *Logger) resolveWaiters() {
	if l.idle() {
		l.draining = false
	}
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
}

// ---------------------------------------------------------------------------------------------
// The pump: batching ⇄ sending, error → retrying, failed
// ---------------------------------------------------------------------------------------------

// run is the delivery goroutine: it sends one batch at a time, and returns once stopped, or
// once idle while stopping.
func (l *Logger) run(done chan struct{}) {
	defer close(done)
	for {
		l.mu.Lock()
		if l.state == StateStopped || (l.state == StateStopping && l.idle()) {
			l.unlock()
			return
		}
		if l.retrying {
			if wait := time.Until(l.retryAt); wait > 0 {
				l.unlock()
				l.sleep(wait)
				continue
			}
			l.retrying = false
			l.retries++
		}
		if l.inflight == nil {
			timerDue := !l.timerAt.IsZero() && !time.Now().Before(l.timerAt)
			partialOK := timerDue || l.draining || l.state == StateStopping
			if n := l.pending(); n == 0 || (n < l.batchSize && !partialOK) {
				l.armTimer()
				if l.idle() {
					l.resolveWaiters()
				}
				wait := time.Duration(-1) // until poked
				if !l.timerAt.IsZero() {
					if wait = time.Until(l.timerAt); wait < 0 {
						wait = 0 // it came due since timerDue was read
					}
				}
				l.unlock()
				l.sleep(wait)
				continue
			}
			l.timerAt = time.Time{}
			l.inflight = l.takeBatch()
		}
		b := l.inflight
		if l.state != StateStopping && l.state != StateFailed {
			// A failed logger's probes leave it failed until one succeeds.
			l.setState(StateSending)
		}
		b.attempts++
		ctx := l.sendCtx
		l.unlock()

		if b.body == nil {
			b.body, b.gzipped = encodeBatch(b.id, b.items)
			b.items = nil // the body is what every retry sends
		}
		res := l.sender.send(ctx, b.body, b.gzipped)

		l.mu.Lock()
		l.settle(b, res)
		l.unlock()
	}
}

// sleep waits d (forever when d < 0) or until poked.
func (l *Logger) sleep(d time.Duration) {
	if d < 0 {
		<-l.wake
		return
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-l.wake:
	}
	t.Stop()
}

// settle applies what a send attempt came to (l.mu held).
func (l *Logger) settle(b *batch, res sendResult) {
	if l.inflight != b {
		return // Stop gave up on it while it was on the wire: already counted as failed
	}
	if res.ok {
		l.inflight = nil
		l.sent += int64(b.count)
		l.emit(&BatchSentEvent{BatchID: b.id, Count: b.count, Status: res.status, Duplicate: res.duplicate, Attempts: b.attempts})
		l.reportLoss()
		l.afterBatch()
		return
	}
	if !res.retryable {
		l.inflight = nil
		l.failed += int64(b.count)
		l.emit(&BatchFailedEvent{BatchID: b.id, Count: b.count, Status: res.status, Err: res.err, Permanent: true})
		l.complain(fmt.Sprintf("batch of %d refused: %s", b.count, res.err))
		l.afterBatch()
		return
	}
	// Retryable: the same batch, same batch_id and bytes, after a backoff.
	stopping := l.state == StateStopping
	wasFailed := l.state == StateFailed
	if !stopping && !wasFailed {
		l.setState(StateError)
	}
	l.complain(fmt.Sprintf("send failed (%s), retrying", res.err))
	retryNumber := b.attempts - 1
	giveUp := retryNumber >= l.maxRetries
	if giveUp && !stopping && !wasFailed {
		l.emit(&BatchFailedEvent{BatchID: b.id, Count: b.count, Status: res.status,
			Err: fmt.Sprintf("%s (after %d retries; buffering)", res.err, l.maxRetries)})
	}
	delay := BackoffDelay(retryNumber, res.retryAfter, l.random)
	l.emit(&RetryEvent{BatchID: b.id, Count: b.count, Attempt: b.attempts, Status: res.status, Err: res.err, Wait: delay})
	if !stopping {
		if giveUp {
			l.setState(StateFailed)
			// Flush gives up with the logger; Stop keeps trying until its own deadline.
			l.resolveWaiters()
		} else if !wasFailed {
			l.setState(StateRetrying)
		}
	}
	l.retrying = true
	l.retryAt = time.Now().Add(delay)
}

func (l *Logger) afterBatch() {
	if l.state != StateStopping {
		l.setState(StateBatching)
	}
	if l.idle() {
		l.draining = false
		l.resolveWaiters()
		return
	}
	if l.pending() < l.batchSize && !l.draining && l.state != StateStopping {
		l.armTimer()
	}
}

// ---------------------------------------------------------------------------------------------
// Events and complaints
// ---------------------------------------------------------------------------------------------

func (l *Logger) setState(to State) {
	from := l.state
	if from == to {
		return
	}
	l.state = to
	l.emit(&StateEvent{From: from, To: to})
}

// emit queues an event for the dispatch goroutine (l.mu held): callbacks never run under the
// lock or on a log call's goroutine.
func (l *Logger) emit(e Event) {
	if l.onEvent == nil {
		return
	}
	l.events = append(l.events, e)
	if !l.dispatching {
		l.dispatching = true
		go l.dispatch()
	}
}

func (l *Logger) dispatch() {
	l.dispatcher.Store(goroutineID())
	defer l.dispatcher.Store(0)
	for {
		l.mu.Lock()
		evs := l.events
		l.events = nil
		if len(evs) == 0 {
			l.dispatching = false
			if l.eventsIdle != nil {
				close(l.eventsIdle)
				l.eventsIdle = nil
			}
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		for _, e := range evs {
			l.callback(e)
		}
	}
}

func (l *Logger) callback(e Event) {
	defer func() {
		if r := recover(); r != nil {
			l.complainNow(fmt.Sprintf("OnEvent panicked: %v", r))
		}
	}()
	l.onEvent(e)
}

// waitEvents returns once every event emitted so far was handled; at once when called from
// OnEvent itself (a callback calling Stop or Flush would otherwise wait for itself).
func (l *Logger) waitEvents() {
	if id := l.dispatcher.Load(); id != 0 && id == goroutineID() {
		return
	}
	l.mu.Lock()
	if !l.dispatching {
		l.mu.Unlock()
		return
	}
	if l.eventsIdle == nil {
		l.eventsIdle = make(chan struct{})
	}
	ch := l.eventsIdle
	l.mu.Unlock()
	<-ch
}

// complain keeps a line for stderr if none was written in the last minute (l.mu held; written
// by unlock, after the lock is released). Events carry every detail.
func (l *Logger) complain(what string) {
	if l.complaint != "" || !l.mayComplain() {
		return
	}
	l.complaint = what
}

func (l *Logger) mayComplain() bool {
	now := time.Now().UnixNano()
	last := l.lastComplained.Load()
	if last != 0 && now-last < int64(time.Minute) {
		return false
	}
	return l.lastComplained.CompareAndSwap(last, now)
}

// complainNow writes a line at once, within the same once-a-minute budget (no lock held).
func (l *Logger) complainNow(what string) {
	if l.mayComplain() {
		l.writeComplaint(what)
	}
}

func (l *Logger) writeComplaint(what string) {
	defer func() { _ = recover() }()
	fmt.Fprintf(l.stderr, "[sluice-client] %s\n", what)
}

// unlock releases l.mu, then writes the pending complaint.
func (l *Logger) unlock() {
	what := l.complaint
	l.complaint = ""
	l.mu.Unlock()
	if what != "" {
		l.writeComplaint(what)
	}
}

// unlockFromLogCall is unlock for a log call's goroutine, which must not wait on stderr (a full
// pipe would block the app): the line is written by a goroutine of its own.
func (l *Logger) unlockFromLogCall() {
	what := l.complaint
	l.complaint = ""
	l.mu.Unlock()
	if what != "" {
		go l.writeComplaint(what)
	}
}

// goroutineID is the calling goroutine's number, read from its stack header ("goroutine 7 [").
// Only Stop, Flush and a burst of events ask for it.
func goroutineID() int64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	var id int64
	for _, c := range buf[len("goroutine "):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}
