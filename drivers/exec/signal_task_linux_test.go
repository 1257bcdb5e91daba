//go:build linux

package exec

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSignalTask: Signal delivers a signal to the running task (what a
// template's change_mode = "signal" sends), which keeps running; an
// unknown signal and a task that exited are errors.
func TestSignalTask(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, `trap 'echo hup >> got' HUP; echo $$ > ready; while :; do sleep 0.05; done`)
	h := start(t, d, cfg)
	waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "ready")))
	for range 2 {
		if err := d.Signal(testCtx(t), h, "SIGHUP"); err != nil {
			t.Fatalf("Signal: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, "two HUPs handled", func() bool {
		return exists(filepath.Join(cfg.Dir, "got"))() && readFile(t, filepath.Join(cfg.Dir, "got")) == "hup\nhup\n"
	})
	if err := d.Signal(testCtx(t), h, "SIGNOPE"); err == nil || !strings.Contains(err.Error(), "SIGNOPE") {
		t.Errorf("unknown signal: %v", err)
	}
	if err := d.Stop(testCtx(t), h, "SIGKILL", time.Second); err != nil {
		t.Fatal(err)
	}
	wait(t, d, h)
	if err := d.Signal(testCtx(t), h, "SIGHUP"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("signal to an exited task: %v", err)
	}
}
