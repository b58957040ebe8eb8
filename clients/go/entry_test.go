package sluice

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// unstarted is a logger whose entries stay in its buffer, for reading them back.
func unstarted(t *testing.T) *Logger {
	t.Helper()
	return New(Config{Endpoint: "http://127.0.0.1:1", ServiceName: "my-app", ComponentName: "api"})
}

func one(t *testing.T, l *Logger) map[string]any {
	t.Helper()
	es := queuedEntries(t, l)
	if len(es) != 1 {
		t.Fatalf("%d entries buffered, want 1", len(es))
	}
	return es[0]
}

func TestTimestampHasMicroseconds(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.FixedZone("CET", 3600))
	if got := timestamp(at); got != "2026-03-04T04:06:07.890123Z" {
		t.Errorf("timestamp = %s", got)
	}
	if got := timestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != "2026-01-01T00:00:00.000000Z" {
		t.Errorf("timestamp keeps trailing zeros: %s", got)
	}
}

func TestUUIDsAreVersion4AndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := newUUID()
		if !uuidRE.MatchString(u) {
			t.Fatalf("%q is not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("%q twice", u)
		}
		seen[u] = true
	}
}

func TestLevels(t *testing.T) {
	for name, want := range map[string]Level{
		"debug": LevelDebug, "TRACE": LevelDebug, "info": LevelInfo, "notice": LevelInfo,
		"warn": LevelWarn, "Warning": LevelWarn, "error": LevelError, "err": LevelError,
		"fatal": LevelFatal, "critical": LevelFatal, "CRIT": LevelFatal, "emerg": LevelFatal, "panic": LevelFatal,
	} {
		if got, ok := ParseLevel(name); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v %v, want %v", name, got, ok, want)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel accepted an unknown name")
	}
	want := []string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	for i, lv := range []Level{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelFatal} {
		if lv.String() != want[i] {
			t.Errorf("%d.String() = %s", lv, lv.String())
		}
	}

	l := unstarted(t)
	l.Debug("d", nil)
	l.Info("i", nil)
	l.Warning("w1", nil)
	l.Warn("w2", nil)
	l.Error("e", nil)
	l.Fatal("f", nil)
	l.Log(Level(42), "unknown level", nil)
	var got []string
	for _, e := range queuedEntries(t, l) {
		got = append(got, e["level"].(string))
	}
	if strings.Join(got, ",") != "DEBUG,INFO,WARN,WARN,ERROR,FATAL,INFO" {
		t.Errorf("levels on the wire: %v", got)
	}
}

func TestEntryShape(t *testing.T) {
	l := unstarted(t)
	l.Info("User logged in successfully", map[string]any{"user_id": 12345, "login_method": "oauth", "tags": []string{"auth"}})
	e := one(t, l)
	if !timestampRE.MatchString(e["timestamp"].(string)) {
		t.Errorf("timestamp %v", e["timestamp"])
	}
	if e["level"] != "INFO" || e["message"] != "User logged in successfully" || e["app_id"] != "my-app" || e["source"] != "api" {
		t.Errorf("entry %v", e)
	}
	ctx := e["context"].(map[string]any)
	if !uuidRE.MatchString(ctx["request_id"].(string)) || ctx["user_id"] != 12345.0 || ctx["login_method"] != "oauth" {
		t.Errorf("context %v", ctx)
	}
	if _, ok := ctx["tags"]; ok {
		t.Errorf("tags stayed in context: %v", ctx)
	}
	if fmt.Sprint(e["tags"]) != "[auth]" {
		t.Errorf("tags %v", e["tags"])
	}
	if _, ok := e["stack_trace"]; ok {
		t.Errorf("stack_trace without an error: %v", e)
	}
	if _, ok := e["category"]; ok {
		t.Errorf("category on a plain entry: %v", e)
	}
}

func TestTagsAndFieldsEdgeCases(t *testing.T) {
	l := unstarted(t)
	l.Info("any tags", map[string]any{"tags": []any{"a", 7}})
	l.Info("not a list", map[string]any{"tags": "x"})
	l.Info("no fields", nil)
	fields := map[string]any{"n": 1}
	l.Info("mutated after", fields)
	fields["n"] = 2
	es := queuedEntries(t, l)
	if fmt.Sprint(es[0]["tags"]) != "[a 7]" {
		t.Errorf("[]any tags: %v", es[0]["tags"])
	}
	if es[1]["tags"] != nil || es[1]["context"].(map[string]any)["tags"] != "x" {
		t.Errorf("a non-list tags stays in context: %v", es[1])
	}
	if ctx := es[2]["context"].(map[string]any); len(ctx) != 1 || ctx["request_id"] == nil {
		t.Errorf("context without fields: %v", ctx)
	}
	if es[3]["context"].(map[string]any)["n"] != 1.0 {
		t.Errorf("the entry is serialised at the call: %v", es[3])
	}
}

func TestCustomEvent(t *testing.T) {
	l := unstarted(t)
	l.Custom("payment_completed", map[string]any{"amount": 99.99, "currency": "USD", "tags": []string{"billing"}})
	e := one(t, l)
	if e["level"] != "INFO" || e["message"] != "payment_completed" || e["category"] != "event" {
		t.Errorf("custom entry %v", e)
	}
	if fmt.Sprint(e["tags"]) != "[custom billing]" {
		t.Errorf("tags %v", e["tags"])
	}
	if ctx := e["context"].(map[string]any); ctx["amount"] != 99.99 || ctx["currency"] != "USD" {
		t.Errorf("context %v", ctx)
	}
}

// stackError formats itself with %+v as pkg/errors does.
type stackError struct{ msg string }

func (e *stackError) Error() string { return e.msg }
func (e *stackError) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('+') {
		io.WriteString(s, e.msg+"\nmain.handler\n\t/app/handler.go:42")
		return
	}
	io.WriteString(s, e.msg)
}

func TestErrorsGiveStackTraces(t *testing.T) {
	l := unstarted(t)
	plain := fmt.Errorf("connecting to users-db: %w", errors.New("CONN_TIMEOUT"))
	l.Error("plain", map[string]any{"error": plain, "database": "users-db"})
	l.Error("formatter", map[string]any{"err": &stackError{"boom"}})
	l.Error("wrapped formatter", map[string]any{"error": fmt.Errorf("saving: %w", &stackError{"disk full"})})
	l.Warn("other key", map[string]any{"cause": errors.New("nope")})
	var nilErr *stackError
	l.Warn("nil errors", map[string]any{"error": nilErr, "err": nil})
	es := queuedEntries(t, l)

	ctx := es[0]["context"].(map[string]any)
	if ctx["error"] != "connecting to users-db: CONN_TIMEOUT" || ctx["database"] != "users-db" {
		t.Errorf("context %v", ctx)
	}
	st := es[0]["stack_trace"].(string)
	for _, want := range []string{
		"*fmt.wrapError: connecting to users-db: CONN_TIMEOUT",
		"caused by *errors.errorString: CONN_TIMEOUT",
		"logged at:",
		"clients/go.TestErrorsGiveStackTraces()", // the app's frame first, not the library's
		"entry_test.go:",
	} {
		if !strings.Contains(st, want) {
			t.Errorf("stack_trace lacks %q:\n%s", want, st)
		}
	}
	if strings.Contains(st, "encodeEntry") || strings.Contains(st, "(*Logger).") {
		t.Errorf("stack_trace shows the library's own frames:\n%s", st)
	}

	if es[1]["stack_trace"] != "boom\nmain.handler\n\t/app/handler.go:42" || es[1]["context"].(map[string]any)["err"] != "boom" {
		t.Errorf("a %%+v formatter's output is the stack trace: %v", es[1])
	}
	if es[2]["stack_trace"] != "saving: disk full\ndisk full\nmain.handler\n\t/app/handler.go:42" {
		t.Errorf("a formatter inside the chain: %q", es[2]["stack_trace"])
	}
	if got := fmt.Sprint(es[3]["context"].(map[string]any)["cause"]); got != "map[message:nope type:*errors.errorString]" {
		t.Errorf("an error under another key: %s", got)
	}
	if _, ok := es[3]["stack_trace"]; ok {
		t.Error("an error under another key gave a stack_trace")
	}
	if ctx := es[4]["context"].(map[string]any); ctx["error"] != nil || ctx["err"] != nil || es[4]["stack_trace"] != nil {
		t.Errorf("nil errors: %v", es[4])
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("no") }

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, errors.New("refused") }

func TestUnserialisableFieldsStillSendTheEntry(t *testing.T) {
	l := unstarted(t)
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	l.Info("odd fields", map[string]any{
		"ok": 1, "ch": make(chan int), "fn": func() {}, "nan": math.NaN(),
		"panicky": panicky{}, "failing": failing{}, "cyclic": cyclic,
	})
	e := one(t, l)
	ctx := e["context"].(map[string]any)
	if ctx["ok"] != 1.0 || ctx["request_id"] == nil {
		t.Errorf("the serialisable fields are kept: %v", ctx)
	}
	note, _ := ctx["unserializable_metadata"].(string)
	for _, k := range []string{"ch:", "fn:", "nan:", "panicky:", "failing:", "cyclic:"} {
		if !strings.Contains(note, k) {
			t.Errorf("the note does not name %s: %q", k, note)
		}
		if _, ok := ctx[strings.TrimSuffix(k, ":")]; ok {
			t.Errorf("%s left in context", k)
		}
	}
	if e["message"] != "odd fields" || e["level"] != "INFO" {
		t.Errorf("entry %v", e)
	}
}

func TestMinLevelAndSampling(t *testing.T) {
	l := New(Config{Endpoint: "http://127.0.0.1:1", MinLevel: LevelWarn})
	l.Debug("no", nil)
	l.Info("no", nil)
	l.Warn("yes", nil)
	l.Fatal("yes", nil)
	if n := len(queuedEntries(t, l)); n != 2 {
		t.Errorf("MinLevel WARN kept %d of 4", n)
	}

	draws := 0
	s := New(Config{Endpoint: "http://127.0.0.1:1", SampleRate: 0.5, Random: func() float64 {
		draws++
		if draws%2 == 0 {
			return 0.75
		}
		return 0.25
	}})
	for i := 0; i < 10; i++ {
		s.Info("sampled", nil)
	}
	for i := 0; i < 3; i++ {
		s.Error("always", nil)
	}
	if n, st := len(queuedEntries(t, s)), s.Stats(); n != 8 || st.Sampled != 5 {
		t.Errorf("SampleRate 0.5: kept %d, sampled %d; want 8 and 5", n, st.Sampled)
	}
}
