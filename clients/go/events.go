package sluice

import "time"

// Event is what Config.OnEvent receives: one of *StateEvent, *BatchSentEvent,
// *BatchFailedEvent, *RetryEvent, *DroppedEvent or *ErrorEvent (switch on the type, or on Kind).
type Event interface {
	// Kind names the event as the Node client does: "state", "batch_sent", "batch_failed",
	// "retry", "dropped", "error".
	Kind() string
}

// StateEvent: the logger went from one state to another.
type StateEvent struct {
	From, To State
}

// BatchSentEvent: the gateway stored a batch (Status 201), or had stored it already (200,
// Duplicate: a retry after a lost answer). Attempts counts the tries it took.
type BatchSentEvent struct {
	BatchID   string
	Count     int
	Status    int
	Duplicate bool
	Attempts  int
}

// BatchFailedEvent: a batch was not delivered. Permanent: refused for good (a 4xx other than
// 408/429), or abandoned when Stop's deadline passed, and counted in Stats.Failed; the next
// batch goes on. Not permanent: the batch used up MaxRetries and the logger is now failed; it
// stays buffered and is tried again at the backoff cap.
type BatchFailedEvent struct {
	BatchID   string
	Count     int
	Status    int // 0 when there was no answer
	Err       string
	Permanent bool
}

// RetryEvent: an attempt failed in a way worth retrying (no answer, timeout, 408, 429, 5xx);
// the same batch, with the same batch_id, is sent again after Wait.
type RetryEvent struct {
	BatchID string
	Count   int
	Attempt int // the attempt that failed, from 1
	Status  int // 0 when there was no answer
	Err     string
	Wait    time.Duration
}

// DroppedEvent: entries were lost. Reason "overflow": the buffer was full and its oldest
// waiting entries went (counted in Stats.Dropped, reported by a WARN entry after the next
// delivery). Reason "stop": Stop's deadline passed with these entries undelivered (counted in
// Stats.Failed).
type DroppedEvent struct {
	Count  int
	Reason string
}

// ErrorEvent: something inside the library went wrong that is not a delivery failure (a log
// call that panicked while encoding its fields, for instance). The log call still returned.
type ErrorEvent struct {
	Err string
}

func (*StateEvent) Kind() string       { return "state" }
func (*BatchSentEvent) Kind() string   { return "batch_sent" }
func (*BatchFailedEvent) Kind() string { return "batch_failed" }
func (*RetryEvent) Kind() string       { return "retry" }
func (*DroppedEvent) Kind() string     { return "dropped" }
func (*ErrorEvent) Kind() string       { return "error" }
