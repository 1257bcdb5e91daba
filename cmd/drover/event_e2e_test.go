package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/droverhq/drover/api"
)

// The acceptance with the real binary: `drover event stream`
// against `drover dev` shows a job's Job, Allocation and Deployment
// events in index order; a stream stopped midway and resumed with -index
// from the last index it printed misses nothing and repeats nothing.
func TestEventStreamCommandFollowsRolloutAndResumes(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dev := startDevCluster(t)
	c := dev.client
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	_, meta, err := c.Jobs().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := strconv.FormatUint(meta.LastIndex, 10)

	cliEnv := dev.env
	topics := []string{"-topic", "Job", "-topic", "Allocation", "-topic", "Deployment"}
	ref := startProc(t, "event stream (whole)", cliEnv, append([]string{"event", "stream", "-json", "-index", start}, topics...)...)
	part1 := startProc(t, "event stream (part 1)", cliEnv, append([]string{"event", "stream", "-index", start}, topics...)...)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sleeper.nomad.hcl"), `
job "sleeper" {
  datacenters = ["dc1"]
  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "1m"
  }
  group "s" {
    count = 2
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)
	if r := runDrover(t, dir, cliEnv, "job", "run", "-detach", "sleeper.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}

	// Part 1 stops after the first placement.
	waitUntil(t, "part 1 to print a placement", func() bool { return strings.Contains(part1.out.String(), " Allocation PlanResult ") })
	part1.stop(syscall.SIGINT)
	if err := part1.cmd.ProcessState.ExitCode(); err != 0 {
		t.Errorf("event stream interrupted: exit %d, want 0", err)
	}
	first := strings.Split(strings.TrimSpace(part1.out.String()), "\n")
	lastSeen := strings.Fields(first[len(first)-1])[0]

	// The whole stream until the deployment succeeded.
	var all []api.Event
	waitUntil(t, "the deployment to succeed in the stream", func() bool {
		all = all[:0]
		for _, line := range strings.Split(strings.TrimSpace(ref.out.String()), "\n") {
			var e api.Event
			if json.Unmarshal([]byte(line), &e) == nil && e.Index > 0 {
				all = append(all, e)
			}
		}
		for i, e := range all {
			if e.Topic == "Deployment" && strings.Contains(string(e.Payload), `"status":"successful"`) {
				// Keep every event of that index, none after.
				for i+1 < len(all) && all[i+1].Index == e.Index {
					i++
				}
				all = all[:i+1]
				return true
			}
		}
		return false
	})
	ref.stop(syscall.SIGINT)
	var want []string
	for i, e := range all {
		if i > 0 && e.Index < all[i-1].Index {
			t.Fatalf("event %d has index %d after %d", i, e.Index, all[i-1].Index)
		}
		want = append(want, fmt.Sprintf("%d %s %s", e.Index, e.Topic, e.Type))
	}
	joined := strings.Join(want, "\n")
	for _, typ := range []string{"Job JobRegistered", "Allocation PlanResult", "Allocation AllocationUpdated", "Deployment DeploymentStatusUpdate"} {
		if !strings.Contains(joined, typ) {
			t.Errorf("no %s event in:\n%s", typ, joined)
		}
	}
	end := all[len(all)-1].Index

	// Resume after the last index part 1 printed.
	part2 := startProc(t, "event stream (part 2)", cliEnv, append([]string{"event", "stream", "-index", lastSeen}, topics...)...)
	var got []string
	resumed := func() []string {
		var out []string
		for _, line := range append(first, strings.Split(strings.TrimSpace(part2.out.String()), "\n")...) {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			if n, _ := strconv.ParseUint(f[0], 10, 64); n > end {
				break
			}
			out = append(out, strings.Join(f[:3], " "))
		}
		return out
	}
	waitUntil(t, "part 2 to reach the end", func() bool { got = resumed(); return len(got) >= len(want) })
	part2.stop(syscall.SIGINT)
	if strings.Join(got, "\n") != joined {
		t.Fatalf("stopped after index %s and resumed: gap or duplicate.\nresumed:\n%s\nwhole:\n%s", lastSeen, strings.Join(got, "\n"), joined)
	}
	t.Logf("human form, resumed after %s:\n%s%s", lastSeen, part1.out.String(), part2.out.String())
}
