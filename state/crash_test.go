package state_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

const crashDirEnv = "DROVER_STATE_CRASH_DIR"

// TestCrashHelper is the child process of TestCrashRecovery: it writes
// jobs as fast as it can from several goroutines, printing every
// acknowledged write, until it is killed. It does nothing in a normal run.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	cfg := statetest.Config(dir, "solo")
	cfg.Bootstrap = true
	r, err := state.Open(cfg, discardLogger())
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	for !r.IsLeader() {
		time.Sleep(5 * time.Millisecond)
	}
	var mu sync.Mutex
	var acked atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-job-%d", w, i)
				idx, _, err := r.Apply(ctx, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, "c", 1), Now: t0})
				if err != nil {
					fmt.Println("apply failed:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ack %s %d\n", id, idx)
				mu.Unlock()
				// A snapshot part way makes recovery use both the
				// snapshot and the log after it.
				if acked.Add(1) == 150 {
					if err := r.TakeSnapshot(ctx); err != nil {
						fmt.Println("snapshot failed:", err)
						os.Exit(2)
					}
					fmt.Println("snapshot taken")
				}
			}
		}()
	}
	wg.Wait()
}

// TestCrashRecovery kills a server with SIGKILL in the middle of a write
// storm and checks that every write it acknowledged is there after a
// restart: acknowledged means fsynced, whatever happens after.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := map[string]uint64{}
	snapshot := false
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ack "):
			f := strings.Fields(line)
			idx, _ := strconv.ParseUint(f[2], 10, 64)
			acked[f[1]] = idx
		case line == "snapshot taken":
			snapshot = true
		case strings.Contains(line, "failed"):
			t.Fatalf("child: %s", line)
		}
		if !killed && snapshot && len(acked) >= 400 {
			// SIGKILL: no shutdown, no flush, no deferred anything.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child exited on its own after %d acks (snapshot %v)", len(acked), snapshot)
	}
	t.Logf("killed the child after %d acknowledged writes", len(acked))

	r := openSingle(t, dir)
	s := r.Store().Snapshot()
	missing := 0
	for id, idx := range acked {
		j := s.Job("default", id)
		if j == nil {
			missing++
			continue
		}
		if j.JobModifyIndex != idx {
			t.Errorf("job %s: modify index %d, acknowledged at %d", id, j.JobModifyIndex, idx)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acked))
	}
	if n := len(s.Jobs()); n < len(acked) {
		t.Fatalf("%d jobs after recovery, %d acknowledged", n, len(acked))
	}
	// The recovered server goes on working.
	writeSome(t, r, 9)
}
