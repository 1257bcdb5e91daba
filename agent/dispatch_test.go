package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// TestDispatchedJobRuns: a dispatched child runs on a real agent with its
// payload in local/<dispatch_payload.file> and its meta and parent in the
// environment; the group's max_run_duration of 2s kills its `sleep 3600`
// after about 2s, fails the task with the reason as its event, and the
// poststop task never starts.
func TestDispatchedJobRuns(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	submit(t, srv.Client, `
job "encode" {
  datacenters = ["dc1"]
  type        = "batch"
  meta {
    team = "media"
  }
  parameterized {
    payload       = "required"
    meta_required = ["input_url"]
  }
  group "g" {
    max_run_duration = "2s"
    reschedule {
      attempts  = 0
      unlimited = false
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "work" {
      driver = "exec"
      dispatch_payload {
        file = "in/payload.txt"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/in/payload.txt > $NOMAD_ALLOC_DIR/seen; echo \" $NOMAD_META_INPUT_URL $NOMAD_META_team $NOMAD_JOB_PARENT_ID\" >> $NOMAD_ALLOC_DIR/seen; exec sleep 3600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
    task "after" {
      driver = "exec"
      lifecycle {
        hook = "poststop"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "echo ran > $NOMAD_ALLOC_DIR/poststop"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := srv.Client.Jobs().Dispatch(ctx, "encode", "", &api.JobDispatchRequest{
		Payload: []byte("hello from dispatch"), Meta: map[string]string{"input_url": "s3://in/1.mp4"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanupTasks(t, srv, resp.DispatchedJobID)
	running := waitAllocs(t, srv.Client, resp.DispatchedJobID, "the child to run", allStatus(cluster.AllocClientRunning, 1))
	seen := waitFile(t, filepath.Join(allocDirOf(ta, running[0].ID), "alloc", "seen"))
	if want := "hello from dispatch s3://in/1.mp4 media encode\n"; seen != want {
		t.Errorf("the task saw %q, want %q", seen, want)
	}
	started := running[0].TaskStates["work"].StartedAt
	allocs := waitAllocs(t, srv.Client, resp.DispatchedJobID, "the child to fail", allStatus(cluster.AllocClientFailed, 1))
	a := allocs[0]
	st := a.TaskStates["work"]
	if !st.Failed || !hasEvent(st, "Killed", "Task exceeded max_run_duration of 2s") {
		t.Fatalf("want the task failed by max_run_duration:\n%s", describeAllocs(allocs))
	}
	if ran := st.FinishedAt.Sub(started); ran < 2*time.Second || ran > 10*time.Second {
		t.Errorf("the task ran %v, want about 2s", ran)
	}
	if hasEvent(a.TaskStates["after"], "Started", "") {
		t.Errorf("the poststop task started after a max_run_duration kill:\n%s", describeAllocs(allocs))
	}
}
