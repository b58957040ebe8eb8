package sluice

import (
	"bytes"
	"io"
)

// Writer returns an io.Writer that logs each line written to it as one entry at level, for the
// standard library's log package:
//
//	log.SetOutput(logger.Writer(sluice.LevelInfo))
//
// A Write may carry several lines (each is an entry; the newline is not part of the message,
// nor a trailing \r) and need not end in a newline (the log package always writes one line per
// call). Empty lines are skipped. The log package's prefix and flags stay in the message. Write
// never fails and never blocks on the network.
func (l *Logger) Writer(level Level) io.Writer {
	return &lineWriter{l: l, level: level}
}

type lineWriter struct {
	l     *Logger
	level Level
}

func (w *lineWriter) Write(p []byte) (int, error) {
	rest := p
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > 0 {
			w.l.log(w.level, string(line), nil, entryExtra{})
		}
	}
	return len(p), nil
}
