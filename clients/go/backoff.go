package sluice

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The retry schedule (the same as the Node client's).
const (
	// BackoffBase is the ceiling of the first retry's wait; it doubles with every retry …
	BackoffBase = time.Second
	// BackoffCap … up to this ceiling, where a failed logger keeps probing.
	BackoffCap = 30 * time.Second
	// RetryAfterMax bounds a gateway's Retry-After, so a misconfigured proxy cannot park the
	// buffer for hours.
	RetryAfterMax = 5 * time.Minute
)

// BackoffDelay is the wait before retry number attempt (0 for the first retry): a random time in
// [0, min(BackoffCap, BackoffBase·2^attempt)] ("full jitter"), drawn with random (which returns
// values in [0, 1)). A Retry-After from the gateway (retryAfter >= 0) wins, cut to RetryAfterMax;
// pass a negative retryAfter when there was none.
func BackoffDelay(attempt int, retryAfter time.Duration, random func() float64) time.Duration {
	if retryAfter >= 0 {
		if retryAfter > RetryAfterMax {
			return RetryAfterMax
		}
		return retryAfter
	}
	if attempt < 0 {
		attempt = 0
	}
	if attempt > 30 {
		attempt = 30
	}
	ceiling := BackoffBase << uint(attempt)
	if ceiling > BackoffCap || ceiling <= 0 {
		ceiling = BackoffCap
	}
	r := random()
	if r < 0 || r >= 1 || math.IsNaN(r) {
		r = 0
	}
	return time.Duration(r * float64(ceiling))
}

// ParseRetryAfter reads a Retry-After header, delay-seconds or an HTTP date, as the wait from now.
// It returns -1 when the header is absent or unreadable.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	v := strings.TrimSpace(value)
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return -1
		}
		if secs > RetryAfterMax.Seconds() {
			return RetryAfterMax
		}
		return time.Duration(secs * float64(time.Second))
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return -1
	}
	if d := at.Sub(now); d > 0 {
		return d
	}
	return 0
}
