package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/workloadid"
)

// TestIdentityChangeModeRestart: a workload identity with a short ttl
// and change_mode = "restart" restarts its task at each renewal, as a
// template's change_mode = "restart" does: a new process each time, with
// events naming the identity, and the restarts not counted against the
// restart policy (which allows none: a counted restart would fail the
// task). Each run starts with fresh tokens: the file verifies against
// the servers' keys, and a variable identity (env = true, which cannot
// change in a running process) has a new token in each run's
// environment.
func TestIdentityChangeModeRestart(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "idrestart")
	submit(t, srv.Client, `
job "idrestart" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ >> $NOMAD_ALLOC_DIR/pids; echo $NOMAD_TOKEN_db >> $NOMAD_ALLOC_DIR/dbtokens; while true; do sleep 0.05; done"]
      }
      kill_signal  = "SIGTERM"
      kill_timeout = "2s"
      resources {
        cpu    = 20
        memory = 32
      }
      identity {
        name        = "vault"
        aud         = ["vault.io"]
        ttl         = "3s"
        file        = true
        change_mode = "restart"
      }
      identity {
        name        = "db"
        aud         = ["db.io"]
        ttl         = "1h"
        env         = true
        change_mode = "restart"
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "idrestart", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	dir := allocDirOf(ta, allocs[0].ID)
	pidsFile := filepath.Join(dir, "alloc", "pids")
	lines := func(path string) []string {
		b, _ := os.ReadFile(path)
		return strings.Fields(string(b))
	}
	start := time.Now()
	allocs = waitAllocs(t, srv.Client, "idrestart", "two identity restarts", func(as []*cluster.Allocation) bool {
		if len(as) != 1 {
			return false
		}
		st := as[0].TaskStates["t"]
		return st != nil && (st.Restarts >= 2 && st.State == cluster.TaskStateRunning || st.State == cluster.TaskStateDead)
	})
	t.Logf("two identity restarts in %v", time.Since(start))
	st := allocs[0].TaskStates["t"]
	if st.State != cluster.TaskStateRunning || st.Failed || allocs[0].ClientStatus != cluster.AllocClientRunning {
		t.Fatalf("the restart policy (no attempts) stopped the task: identity restarts were counted:\n%s", describeAllocs(allocs))
	}
	const signaled = `Workload identity "vault" with change_mode restart renewed`
	if !hasEvent(st, allocrunner.EventRestartSignal, signaled) || !hasEvent(st, allocrunner.EventRestarting, signaled+"; task restarting now") {
		t.Errorf("no restart events naming the identity:\n%s", describeAllocs(allocs))
	}

	// A new process per run: three runs, three pids (the third run may
	// still be writing its line).
	deadline := time.Now().Add(waitTimeout)
	for len(lines(pidsFile)) < 3 || len(lines(filepath.Join(dir, "alloc", "dbtokens"))) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("pids %q after two restarts", lines(pidsFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pids := lines(pidsFile)
	seen := map[string]bool{}
	for _, p := range pids {
		if seen[p] {
			t.Errorf("pid %s ran twice: %q; want a new process per restart", p, pids)
		}
		seen[p] = true
	}

	keys := agentJWKS(t, srv)
	// Each run's environment has its own, valid, db token.
	dbTokens := lines(filepath.Join(dir, "alloc", "dbtokens"))
	seen = map[string]bool{}
	for i, tok := range dbTokens {
		c, err := workloadid.Verify(tok, keys, time.Now(), "db.io")
		if err != nil {
			t.Errorf("run %d: NOMAD_TOKEN_db does not verify: %v", i+1, err)
			continue
		}
		if seen[c.ID] || c.AllocationID != allocs[0].ID || c.TaskName != "t" {
			t.Errorf("run %d: NOMAD_TOKEN_db claims %+v (a repeated token, or not this task's)", i+1, c)
		}
		seen[c.ID] = true
	}
	// The token file verifies against the servers' keys, and belongs to
	// this task.
	tokenFile := filepath.Join(dir, "t", "secrets", "nomad_vault.jwt")
	deadline = time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(tokenFile)
		c, err := workloadid.Verify(string(b), keys, time.Now(), "vault.io")
		if err == nil {
			if c.AllocationID != allocs[0].ID || c.TaskName != "t" || c.Expiry == 0 {
				t.Errorf("nomad_vault.jwt claims %+v", c)
			}
			break
		}
		// A restart may be replacing the file this instant.
		if time.Now().After(deadline) {
			t.Fatalf("nomad_vault.jwt does not verify: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentRestartAppliesEnvTemplateChange: an env = true template
// without a destination has no file to compare with after an agent
// restart; the agent keeps a keyed digest of its last render in its
// local state instead. A restart with the data unchanged restarts
// nothing; a change made while the agent was down is applied (here
// change_mode = "restart", not counted against a policy that allows no
// restart) once the agent is back, and the new run has the new value.
// The digests hold neither the rendered text nor its plain hash.
func TestAgentRestartAppliesEnvTemplateChange(t *testing.T) {
	srv := servertest.Single(t, func(c *server.Config) { c.HeartbeatTTL = time.Hour })
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "envtmpl")
	const path = "nomad/jobs/envtmpl"
	const one, two = "s3cret-one-5b1e0c", "s3cret-two-93d7aa"
	putVar(t, srv.Client, path, map[string]string{"pw": one})
	submitEnvOnly(t, srv.Client, `
job "envtmpl" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ $PW >> $NOMAD_ALLOC_DIR/runs; while true; do sleep 0.05; done"]
      }
      kill_signal  = "SIGTERM"
      kill_timeout = "2s"
      resources {
        cpu    = 20
        memory = 32
      }
      template {
        data        = "{{ with nomadVar \"nomad/jobs/envtmpl\" }}PW={{ .pw }}{{ end }}\n"
        destination = "cleared by submitEnvOnly"
        env         = true
        change_mode = "restart"
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "envtmpl", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	runs := filepath.Join(allocDirOf(ta, allocs[0].ID), "alloc", "runs")
	first := waitFile(t, runs)
	if !strings.HasSuffix(first, " "+one+"\n") {
		t.Fatalf("runs = %q, want the first value", first)
	}
	// noText checks the digests the stopped agent kept: there are
	// some, and they hold neither the rendered text nor its plain
	// SHA-256 (a guessed secret would be looked up by it).
	noText := func(text string) {
		t.Helper()
		db, err := localstate.Open(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		sums, err := db.TemplateSums(allocs[0].ID, "t")
		if err != nil || sums == nil || len(sums.Sums) != 1 {
			t.Fatalf("template digests = %+v, %v", sums, err)
		}
		rec, _ := json.Marshal(sums)
		plain := sha256.Sum256([]byte(text))
		if bytes.Contains(rec, []byte(text)) || bytes.Equal(sums.Sums[0], plain[:]) || bytes.Contains(rec, []byte(hex.EncodeToString(plain[:]))) {
			t.Errorf("the digests record holds the text or its plain hash: %s", rec)
		}
	}

	// A restart with nothing changed: the first render after it matches
	// the digest, nothing restarts.
	ta.stop(t)
	noText("PW=" + one + "\n")
	ta = startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "envtmpl") // again: the new agent must run when it does
	time.Sleep(time.Second)         // the render on restore is immediate; give it time to (wrongly) restart

	// Change the variable while the agent is down.
	ta.stop(t)
	if b, _ := os.ReadFile(runs); string(b) != first {
		t.Fatalf("runs = %q after a restart with nothing changed, want the one run %q", b, first)
	}
	putVar(t, srv.Client, path, map[string]string{"pw": two})
	start := time.Now()
	startAgent(t, agentConfig(t, srv, dataDir, "n1")) // stopped by its cleanup
	cleanupTasks(t, srv, "envtmpl")
	allocs = waitAllocs(t, srv.Client, "envtmpl", "the template restart", func(as []*cluster.Allocation) bool {
		if len(as) != 1 {
			return false
		}
		st := as[0].TaskStates["t"]
		return st != nil && (st.Restarts >= 1 && st.State == cluster.TaskStateRunning || st.State == cluster.TaskStateDead)
	})
	t.Logf("change made while the agent was down → task restarted %v after the agent started", time.Since(start))
	st := allocs[0].TaskStates["t"]
	if st.State != cluster.TaskStateRunning || st.Failed || st.Restarts != 1 ||
		!hasEvent(st, allocrunner.EventRestarting, "Template with change_mode restart re-rendered; task restarting now") {
		t.Fatalf("want one template restart, not counted against the policy:\n%s", describeAllocs(allocs))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(runs)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 2 && strings.HasSuffix(lines[1], " "+two) && lines[0]+"\n" == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs = %q, want a second run with the new value", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submitEnvOnly registers the job in src with its templates'
// destinations cleared: HCL requires a destination (as Nomad's does),
// the job API takes an env = true template without one.
func submitEnvOnly(t *testing.T, c *api.Client, src string) {
	t.Helper()
	j := parseJob(t, src)
	for _, g := range j.Groups {
		for _, task := range g.Tasks {
			for i := range task.Templates {
				task.Templates[i].Destination = ""
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: j}); err != nil {
		t.Fatalf("register job: %v", err)
	}
}
