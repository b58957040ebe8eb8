package sluice

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffIsFullJitterUpToTheCap(t *testing.T) {
	half := func() float64 { return 0.5 }
	almostOne := func() float64 { return 0.999999 }
	for n, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second} {
		if got := BackoffDelay(n, -1, half); got != want {
			t.Errorf("retry %d at 0.5: %s, want %s", n, got, want)
		}
	}
	if got := BackoffDelay(0, -1, zero); got != 0 {
		t.Errorf("random 0: %s, want 0", got)
	}
	for _, n := range []int{5, 6, 30, 31, 1000} {
		if got := BackoffDelay(n, -1, almostOne); got > BackoffCap || got < BackoffCap-time.Millisecond {
			t.Errorf("retry %d: %s, want just under the cap %s", n, got, BackoffCap)
		}
	}
	if got := BackoffDelay(2, -1, func() float64 { return 1.5 }); got != 0 {
		t.Errorf("a random value out of [0,1) must not stretch the wait: %s", got)
	}
}

func TestRetryAfterWinsOverTheBackoff(t *testing.T) {
	if got := BackoffDelay(0, 3*time.Second, half()); got != 3*time.Second {
		t.Errorf("Retry-After 3 s: %s", got)
	}
	if got := BackoffDelay(0, 0, half()); got != 0 {
		t.Errorf("Retry-After 0: %s", got)
	}
	if got := BackoffDelay(9, time.Hour, half()); got != RetryAfterMax {
		t.Errorf("Retry-After 1 h: %s, want the %s cap", got, RetryAfterMax)
	}
}

func half() func() float64 { return func() float64 { return 0.5 } }

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":      -1,
		"soon":  -1,
		"-3":    -1,
		"5":     5 * time.Second,
		" 2 ":   2 * time.Second,
		"1.5":   1500 * time.Millisecond,
		"86400": RetryAfterMax,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		"Sun, 06 Nov 1994 08:49:37 GMT":                   0,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
