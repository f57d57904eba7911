package cloudlog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog/cloudlogtest"
)

// noTime drops the time, so that lines can be compared whole.
var noTime = &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}}

func TestTextLines(t *testing.T) {
	at := time.Date(2026, 11, 23, 23, 19, 17, 631554582, time.UTC)
	tests := []struct {
		name string
		opts *slog.HandlerOptions
		log  func(*slog.Logger)
		want string
	}{
		{"labels first, ungrouped", noTime, func(l *slog.Logger) {
			l.With(Label("pr_url", "https://github.com/o/r/pull/1"), "attempt", 2).WithGroup("github").
				Info("check run written", "status", "completed", Label("sha", "abc"), Label("outcome", "reconciled"))
		}, `level=INFO msg="check run written" pr_url=https://github.com/o/r/pull/1 sha=abc outcome=reconciled attempt=2 github.status=completed`},
		{"later label wins", noTime, func(l *slog.Logger) {
			l.With(Label("sha", "old")).Warn("retry", Label("sha", "new"), "err", io.EOF)
		}, `level=WARN msg=retry sha=new err=EOF`},
		{"an attribute named like a built-in", noTime, func(l *slog.Logger) {
			l.Error("failed", "msg", "shadow", "level", 3)
		}, `level=ERROR msg=failed fields.msg=shadow fields.level=3`},
		{"time and no labels", nil, func(l *slog.Logger) {
			r := slog.NewRecord(at, slog.LevelDebug, "plain", 0)
			_ = l.Handler().Handle(context.Background(), r)
		}, `time=2026-11-23T23:19:17.631Z level=DEBUG msg=plain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewTextHandler(&buf, tt.opts)))
			if got := strings.TrimSuffix(buf.String(), "\n"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDefaultFormat: text when stdout is a terminal, JSON elsewhere, unless Format says;
// the API destination writes JSON on stdout whatever Format says.
func TestDefaultFormat(t *testing.T) {
	// /dev/null is a character device, as a terminal is: all the choice looks at.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { devNull.Close() })
	r, pipe, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); pipe.Close() })
	go io.Copy(io.Discard, r)
	fake := cloudlogtest.NewTestServer(t)

	tests := []struct {
		name   string
		dest   Destination
		format Format
		stdout io.Writer
		want   *format
	}{
		{"a buffer", Stdout, "", &bytes.Buffer{}, jsonFormat},
		{"a pipe", Stdout, "", pipe, jsonFormat},
		{"a character device", Stdout, "", devNull, textFormat},
		{"a character device, json asked", Stdout, JSON, devNull, jsonFormat},
		{"a buffer, text asked", Stdout, Text, &bytes.Buffer{}, textFormat},
		{"the API, text asked", API, Text, devNull, jsonFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(context.Background(), Options{Destination: tt.dest, Format: tt.format, Stdout: tt.stdout, Project: "p",
				Env: Env{Getenv: func(string) string { return "" }}, ClientOptions: fake.ClientOptions()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close(context.Background()) })
			got := l.stdout.(*handler).format
			if tt.dest == Stdout {
				got = l.Handler().(*handler).format
			}
			if got != tt.want {
				t.Errorf("stdout lines in the %s format, want %s", name(got), name(tt.want))
			}
		})
	}
}

func name(f *format) string {
	if f == textFormat {
		return "text"
	}
	return "JSON"
}
