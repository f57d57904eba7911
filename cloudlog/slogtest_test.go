package cloudlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"testing/slogtest"
)

// TestSlogConformance runs the standard library's handler conformance tests, with the Cloud
// Logging keys mapped back to slog's.
func TestSlogConformance(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf.Reset()
		return NewHandler(&buf, nil)
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		m["level"] = m["severity"]
		m["msg"] = m["message"]
		delete(m, "severity")
		delete(m, "message")
		return m
	})
}
