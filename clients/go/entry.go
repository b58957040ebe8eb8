package sluice

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Level is an entry's severity. The zero value means "not set" (for Config.MinLevel: no filter).
type Level int

// The levels Sluice stores, from least to most severe.
const (
	LevelDebug Level = iota + 1
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

// String returns the level as the gateway stores it: DEBUG, INFO, WARN, ERROR or FATAL.
func (lv Level) String() string {
	switch lv {
	case LevelDebug:
		return "DEBUG"
	case LevelInfo:
		return "INFO"
	case LevelWarn:
		return "WARN"
	case LevelError:
		return "ERROR"
	case LevelFatal:
		return "FATAL"
	}
	return "INFO"
}

// ParseLevel reads a level name in any case as other loggers write them: trace/debug, info/notice,
// warn/warning, error/err, fatal/critical/crit/alert/emerg/panic (Python's critical is FATAL).
// ok is false for a name no logger uses.
func ParseLevel(name string) (lv Level, ok bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "trace", "debug", "verbose", "silly":
		return LevelDebug, true
	case "info", "information", "notice", "http":
		return LevelInfo, true
	case "warn", "warning":
		return LevelWarn, true
	case "error", "err":
		return LevelError, true
	case "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic":
		return LevelFatal, true
	}
	return 0, false
}

// timestampFormat is the gateway's ISO form with microseconds.
const timestampFormat = "2006-01-02T15:04:05.000000Z"

func timestamp(t time.Time) string {
	return t.UTC().Format(timestampFormat)
}

// uuidSource hands out random bytes from a block read once per 256 UUIDs: one getrandom call per
// log call would be most of the call's cost.
var uuidSource struct {
	sync.Mutex
	buf [4096]byte
	off int
}

func init() { uuidSource.off = len(uuidSource.buf) }

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	uuidSource.Lock()
	if uuidSource.off+16 > len(uuidSource.buf) {
		if _, err := rand.Read(uuidSource.buf[:]); err != nil {
			// crypto/rand does not fail on Linux; if it ever did, a time-based fill keeps the
			// ids distinct enough for request_id and batch_id (the gateway deduplicates by batch_id).
			n := time.Now().UnixNano()
			for i := range uuidSource.buf {
				n = n*6364136223846793005 + 1442695040888963407
				uuidSource.buf[i] = byte(n >> 56)
			}
		}
		uuidSource.off = 0
	}
	copy(b[:], uuidSource.buf[uuidSource.off:])
	uuidSource.off += 16
	uuidSource.Unlock()
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// wireEntry is one entry of POST /api/logs, fields in the order the other libraries write them.
type wireEntry struct {
	Timestamp  string         `json:"timestamp"`
	Level      string         `json:"level"`
	Message    string         `json:"message"`
	AppID      string         `json:"app_id,omitempty"`
	Source     string         `json:"source,omitempty"`
	Context    map[string]any `json:"context"`
	StackTrace string         `json:"stack_trace,omitempty"`
	Category   string         `json:"category,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
}

// entryExtra is what Custom and the loss report add on top of the fields.
type entryExtra struct {
	category string
	tags     []string
}

// callerSkip is how many frames lie between runtime.Callers in errorStack and the app's call
// (errorStack, encodeEntry, Logger.log, the public method): every public log method calls
// Logger.log directly, so the depth is the same for all of them.
const callerSkip = 5

// encodeEntry builds one entry as JSON at the log call, so the buffer holds bytes the app can
// no longer change. fields become context (plus a fresh request_id); an error under "error" or
// "err" gives stack_trace; "tags" (a []string or []any) becomes the entry's tags. A value that
// cannot be serialised is replaced by a note in context.unserializable_metadata; the entry
// always goes.
func encodeEntry(appID, source string, lv Level, msg string, fields map[string]any, extra entryExtra, now time.Time) []byte {
	e := wireEntry{
		Timestamp: timestamp(now),
		Level:     lv.String(),
		Message:   msg,
		AppID:     appID,
		Source:    source,
		Category:  extra.category,
		Context:   make(map[string]any, len(fields)+1),
	}
	e.Context["request_id"] = newUUID()
	var tags []string
	for k, v := range fields {
		if k == "tags" {
			if t, ok := tagList(v); ok {
				tags = t
				continue
			}
		}
		if err, ok := v.(error); ok {
			if isNilPointer(err) {
				e.Context[k] = nil
				continue
			}
			if k == "error" || k == "err" {
				e.Context[k] = safeErrorString(err)
				e.StackTrace = errorStack(err)
			} else {
				// encoding/json would write most errors as {}: keep what tells them apart.
				e.Context[k] = map[string]any{"type": fmt.Sprintf("%T", err), "message": safeErrorString(err)}
			}
			continue
		}
		e.Context[k] = v
	}
	if len(extra.tags) > 0 || tags != nil {
		e.Tags = append(append([]string{}, extra.tags...), tags...)
	}
	if b, err := safeMarshal(e); err == nil {
		return b
	}
	// Some value cannot be serialised (a channel, a func, NaN, a cycle, a MarshalJSON that fails
	// or panics): keep every value that can, and say which could not and why.
	keys := make([]string, 0, len(e.Context))
	for k := range e.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var notes []string
	for _, k := range keys {
		if k == "request_id" {
			continue
		}
		if _, err := safeMarshal(e.Context[k]); err != nil {
			notes = append(notes, k+": "+err.Error())
			delete(e.Context, k)
		}
	}
	e.Context["unserializable_metadata"] = strings.Join(notes, "; ")
	if b, err := safeMarshal(e); err == nil {
		return b
	}
	// Only the message itself could still be at fault (invalid UTF-8 is replaced, not refused,
	// so this is not expected): send the bare entry.
	e.Context = map[string]any{"request_id": e.Context["request_id"], "unserializable_metadata": "entry could not be serialised"}
	b, _ := safeMarshal(e)
	return b
}

// safeMarshal is json.Marshal that turns a panicking MarshalJSON into an error.
func safeMarshal(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("panic while serialising: %v", r)
		}
	}()
	return json.Marshal(v)
}

func tagList(v any) ([]string, bool) {
	switch t := v.(type) {
	case []string:
		return append([]string{}, t...), true
	case []any:
		out := make([]string, len(t))
		for i, x := range t {
			if s, ok := x.(string); ok {
				out[i] = s
			} else {
				out[i] = fmt.Sprint(x)
			}
		}
		return out, true
	}
	return nil, false
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func safeErrorString(err error) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%T (Error() panicked: %v)", err, r)
		}
	}()
	return err.Error()
}

// errorStack is the stack_trace of an error. An error that formats itself with %+v (pkg/errors
// and the like, anywhere in its Unwrap chain) carries a stack: that output is used. Plain Go
// errors carry none: the trace is then the error's type and message, each wrapped cause, and
// the stack of the log call, which is where the app noticed the error.
func errorStack(err error) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%T (formatting panicked: %v)", err, r)
		}
	}()
	for x := err; x != nil; x = errors.Unwrap(x) {
		f, ok := x.(fmt.Formatter)
		if !ok {
			continue
		}
		verbose := fmt.Sprintf("%+v", f)
		if verbose == x.Error() {
			continue
		}
		if x != err {
			// The outer messages (fmt.Errorf("…: %w")) say what the app was doing.
			return err.Error() + "\n" + verbose
		}
		return verbose
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%T: %s", err, err.Error())
	for x := errors.Unwrap(err); x != nil; x = errors.Unwrap(x) {
		fmt.Fprintf(&b, "\ncaused by %T: %s", x, x.Error())
	}
	var pcs [32]uintptr
	n := runtime.Callers(callerSkip, pcs[:])
	if n > 0 {
		b.WriteString("\n\nlogged at:")
		frames := runtime.CallersFrames(pcs[:n])
		for {
			fr, more := frames.Next()
			if fr.Function == "runtime.main" || fr.Function == "runtime.goexit" {
				break
			}
			fmt.Fprintf(&b, "\n%s()\n\t%s:%d", fr.Function, fr.File, fr.Line)
			if !more {
				break
			}
		}
	}
	return b.String()
}
