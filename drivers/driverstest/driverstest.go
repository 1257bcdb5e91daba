// Package driverstest is what the drivers' tests share: a logger into the
// test's log, and the handle as a restarted agent reads it back. Only
// tests import it.
package driverstest

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
)

// LogWriter writes into t's log, so that what a driver or a child process
// says shows beside the failure it explains, and only when -v or a failure
// asks for it.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Logger logs everything, debug included, into t's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// RoundTrip is h as a restarted agent reads it back from disk: through
// JSON, so a driver cannot rely on anything the handle does not persist.
func RoundTrip(t testing.TB, h *drivers.TaskHandle) *drivers.TaskHandle {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var out drivers.TaskHandle
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// State decodes the driver's private state of h.
func State[T any](t testing.TB, h *drivers.TaskHandle) T {
	t.Helper()
	var st T
	if err := json.Unmarshal(h.State, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
