package sluice

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// gzipAbove is the body size from which a batch is gzip-compressed (Content-Encoding: gzip).
const gzipAbove = 1024

// sendResult is what one attempt to deliver a batch came to.
type sendResult struct {
	ok         bool
	status     int // 0: no answer (connection error, timeout)
	duplicate  bool
	retryable  bool
	retryAfter time.Duration // -1: none
	err        string
}

// ingestURL: "http://host:9000", "http://host:9000/" and "http://host:9000/api/logs" all give
// the ingest URL.
func ingestURL(endpoint string) string {
	trimmed := strings.TrimRight(endpoint, "/")
	if strings.HasSuffix(trimmed, "/api/logs") {
		return trimmed
	}
	return trimmed + "/api/logs"
}

// isRetryableStatus: timeouts, rate limits and server errors are worth another try; any other
// refusal would be refused again.
func isRetryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// encodeBatch gives the request body of a batch once, so every retry sends the same bytes (and
// the same batch_id, which the gateway stores once).
func encodeBatch(id string, items []item) (body []byte, gzipped bool) {
	size := len(id) + 24
	for _, it := range items {
		size += len(it.json) + 1
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString(`{"batch_id":`)
	idJSON, _ := json.Marshal(id)
	buf.Write(idJSON)
	buf.WriteString(`,"logs":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it.json)
	}
	buf.WriteString("]}")
	if buf.Len() <= gzipAbove {
		return buf.Bytes(), false
	}
	var z bytes.Buffer
	z.Grow(buf.Len() / 4)
	// Level 1: log batches repeat their keys, which the fast level finds too, at a fraction of
	// the default level's time (the Node client's choice, measured there).
	w, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if err != nil {
		return buf.Bytes(), false
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return buf.Bytes(), false
	}
	if err := w.Close(); err != nil {
		return buf.Bytes(), false
	}
	return z.Bytes(), true
}

// httpSender posts batches to POST /api/logs over one kept-alive connection.
type httpSender struct {
	url       string
	auth      string // "Bearer …" or ""; never written anywhere else
	userAgent string
	timeout   time.Duration
	client    *http.Client
}

func newHTTPSender(endpoint, apiKey, userAgent string, timeout time.Duration, client *http.Client) *httpSender {
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// One batch is in flight at a time: one connection, kept between batches.
		tr.MaxIdleConnsPerHost = 1
		tr.IdleConnTimeout = 30 * time.Second
		client = &http.Client{Transport: tr}
	}
	// A redirect is not a delivery: report it instead of re-posting (or turning into a GET).
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &httpSender{url: ingestURL(endpoint), userAgent: userAgent, timeout: timeout, client: &c}
	if apiKey != "" {
		s.auth = "Bearer " + apiKey
	}
	return s
}

// send makes one attempt; ctx ends it early (the stop deadline).
func (s *httpSender) send(ctx context.Context, body []byte, gzipped bool) sendResult {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		// A malformed endpoint will not get better by retrying.
		return sendResult{retryAfter: -1, err: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	// Only the status is read: the gateway then leaves the stored entries out of its answer.
	req.Header.Set("Prefer", "return=minimal")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	res, err := s.client.Do(req)
	if err != nil {
		why := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("timeout after %s", s.timeout)
		}
		// Connection refused or reset, DNS, timeout: all worth another try.
		return sendResult{retryable: true, retryAfter: -1, err: why}
	}
	defer res.Body.Close()
	st := res.StatusCode
	if st == http.StatusCreated {
		// Not worth parsing (without return=minimal it echoes every stored entry), but read so
		// the connection is reused. A body cut short still leaves the status: the batch is stored.
		_, _ = io.Copy(io.Discard, res.Body)
		return sendResult{ok: true, status: st, retryAfter: -1}
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	var answer struct {
		Duplicate bool   `json:"duplicate"`
		Error     string `json:"error"`
		Message   string `json:"message"`
	}
	_ = json.Unmarshal(raw, &answer)
	if st >= 200 && st < 300 {
		return sendResult{ok: true, status: st, duplicate: answer.Duplicate, retryAfter: -1}
	}
	why := fmt.Sprintf("HTTP %d", st)
	if answer.Error != "" {
		why += " " + answer.Error
	}
	if answer.Message != "" {
		why += ": " + answer.Message
	}
	return sendResult{
		status:     st,
		retryable:  isRetryableStatus(st),
		retryAfter: ParseRetryAfter(res.Header.Get("Retry-After"), time.Now()),
		err:        why,
	}
}

func (s *httpSender) close() {
	s.client.CloseIdleConnections()
}
