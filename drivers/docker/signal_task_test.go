package docker

import (
	"strings"
	"testing"
	"time"
)

// TestSignalContainer: Signal reaches the container's main process (the
// test server, a Go program, dies of an unhandled SIGHUP) and returns
// without waiting; a stopped container is an error.
func TestSignalContainer(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	cfg, _ := httpTask(t, "signal1")
	h := start(t, d, cfg)
	began := time.Now()
	if err := d.Signal(testCtx(t), h, "SIGHUP"); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("Signal took %v: it must not wait for the task", took)
	}
	res, err := d.Wait(testCtx(t), h)
	if err != nil || res.Successful() {
		t.Fatalf("after SIGHUP: exit %+v, %v; want the server killed by it", res, err)
	}
	if err := d.Signal(testCtx(t), h, "SIGHUP"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("signal to a stopped container: %v", err)
	}
}
