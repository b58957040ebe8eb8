package sluice

import (
	"log"
	"strings"
	"testing"
)

func TestWriterForTheLogPackage(t *testing.T) {
	l := unstarted(t)
	std := log.New(l.Writer(LevelWarn), "cache: ", 0)
	std.Print("hit rate below 50%")
	std.Printf("two\nlines")
	w := l.Writer(LevelError)
	n, err := w.Write([]byte("crlf\r\n\n\nno newline"))
	if n != len("crlf\r\n\n\nno newline") || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Errorf("empty Write = %d, %v", n, err)
	}
	var got []string
	for _, e := range queuedEntries(t, l) {
		got = append(got, e["level"].(string)+" "+e["message"].(string))
	}
	want := []string{"WARN cache: hit rate below 50%", "WARN cache: two", "WARN lines", "ERROR crlf", "ERROR no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries\n got %q\nwant %q", got, want)
	}
}
