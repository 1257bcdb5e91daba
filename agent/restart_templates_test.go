package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/workloadid"
)

// A task an agent re-attached to after a restart keeps what its start
// gave it, as Nomad's template and identity hooks give it on restore:
// live templates that render again when their data changes, and
// workload identities that are renewed.

// TestAgentRestartKeepsTemplatesLive: across two agent restarts the task
// runs on (one pid, no restart); a restart with the variable unchanged
// sends no signal, a change after it re-renders the file and signals
// (the watchers run again), and a change made while the agent was down
// is rendered and signalled once the agent is back.
func TestAgentRestartKeepsTemplatesLive(t *testing.T) {
	// No heartbeat deadline while the agent restarts: a slow restart on
	// a loaded machine must not mark the node down.
	srv := servertest.Single(t, func(c *server.Config) { c.HeartbeatTTL = time.Hour })
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "restartvar")
	const path = "nomad/jobs/restartvar"
	putVar(t, srv.Client, path, map[string]string{"pw": "one"})
	submit(t, srv.Client, `
job "restartvar" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", `
      template {
        data          = "{{ with nomadVar \"nomad/jobs/restartvar\" }}pw={{ .pw }}{{ end }}\n"
        destination   = "local/app.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }`, 1)+`
  }
}`)
	allocs := waitAllocs(t, srv.Client, "restartvar", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	dir := allocDirOf(ta, allocs[0].ID)
	conf := filepath.Join(dir, "t", "local", "app.conf")
	hup := filepath.Join(dir, "alloc", "hup.txt")
	waitFileContent(t, conf, "pw=one\n", waitTimeout)
	pid := waitFile(t, filepath.Join(dir, "alloc", "pids"))

	signals := func(n int) func([]*cluster.Allocation) bool {
		return func(as []*cluster.Allocation) bool {
			if len(as) != 1 {
				return false
			}
			c := 0
			for _, e := range as[0].TaskStates["t"].Events {
				if e.Type == allocrunner.EventSignaling && e.Message == "Template re-rendered: sending SIGHUP" {
					c++
				}
			}
			return c >= n
		}
	}

	// Restart with nothing changed, then change the variable.
	ta.stop(t)
	ta = startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "restartvar") // again: the new agent must run when it does
	putVar(t, srv.Client, path, map[string]string{"pw": "two"})
	took := waitFileContent(t, conf, "pw=two\n", 15*time.Second)
	t.Logf("after the restart: variable change → file re-rendered in %v", took)
	waitAllocs(t, srv.Client, "restartvar", "the Signaling event", signals(1))
	// One HUP: the render on restore found the file unchanged and did
	// not signal; the change did.
	if got := waitFile(t, hup); got != "HUP\n" {
		t.Errorf("hup.txt = %q after a restart and one change, want one HUP", got)
	}

	// Change the variable while the agent is down.
	ta.stop(t)
	putVar(t, srv.Client, path, map[string]string{"pw": "three"})
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(conf); string(b) != "pw=two\n" {
		t.Fatalf("app.conf = %q while no agent ran", b)
	}
	startAgent(t, agentConfig(t, srv, dataDir, "n1")) // stopped by its cleanup
	cleanupTasks(t, srv, "restartvar")
	took = waitFileContent(t, conf, "pw=three\n", 15*time.Second)
	t.Logf("change made while the agent was down → rendered %v after it started", took)
	allocs = waitAllocs(t, srv.Client, "restartvar", "the second Signaling event", signals(2))
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(hup); string(b) != "HUP\nHUP\n"; b, _ = os.ReadFile(hup) {
		if time.Now().After(deadline) {
			t.Fatalf("hup.txt = %q, want two HUPs", b)
		}
		time.Sleep(10 * time.Millisecond)
	}

	st := allocs[0].TaskStates["t"]
	if st.State != cluster.TaskStateRunning || st.Restarts != 0 || st.Failed {
		t.Errorf("task restarted or stopped:\n%s", describeAllocs(allocs))
	}
	if got := waitFile(t, filepath.Join(dir, "alloc", "pids")); got != pid {
		t.Errorf("pids = %q, want the one process %q", got, pid)
	}
}

// agentJWKS reads the servers' public keys, as a verifier of workload
// identities would.
func agentJWKS(t *testing.T, srv *servertest.Server) workloadid.JWKS {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set workloadid.JWKS
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %v", resp.StatusCode, err)
	}
	return set
}

// TestAgentRestartRenewsIdentity: an identity with a short ttl, whose
// token expired while the agent was down, is in the task's secrets
// directory fresh (it verifies against the servers' keys) soon after
// the agent is back, and renewal goes on; the task is not restarted.
func TestAgentRestartRenewsIdentity(t *testing.T) {
	// The agent is away longer than the test servers' heartbeat TTL
	// (2s): the node must not be marked down and its allocation lost.
	srv := servertest.Single(t, func(c *server.Config) { c.HeartbeatTTL = time.Hour })
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "restartid")
	submit(t, srv.Client, `
job "restartid" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", `
      identity {
        name = "vault"
        aud  = ["vault.io"]
        ttl  = "3s"
        file = true
      }`, 1)+`
  }
}`)
	allocs := waitAllocs(t, srv.Client, "restartid", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	dir := allocDirOf(ta, allocs[0].ID)
	tokenFile := filepath.Join(dir, "t", "secrets", "nomad_vault.jwt")
	pid := waitFile(t, filepath.Join(dir, "alloc", "pids"))
	keys := agentJWKS(t, srv)
	read := func() string { b, _ := os.ReadFile(tokenFile); return string(b) }
	// waitValid waits for a token in the file, other than not, that
	// verifies now.
	waitValid := func(what, not string, within time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			tok := read()
			_, err := workloadid.Verify(tok, keys, time.Now(), "vault.io")
			if err == nil && tok != not {
				return tok
			}
			if time.Now().After(deadline) {
				as := waitAllocs(t, srv.Client, "restartid", "the task state", func([]*cluster.Allocation) bool { return true })
				t.Fatalf("%s: no valid token in %s after %v (last: %v)\n%s", what, tokenFile, within, err, describeAllocs(as))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := waitValid("the first token", "", waitTimeout)
	waitValid("a renewal before the restart", first, 10*time.Second)

	ta.stop(t)
	// Nobody renews the token now: it expires.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := workloadid.Verify(read(), keys, time.Now(), "vault.io")
		if errors.Is(err, workloadid.ErrExpired) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token did not expire with no agent: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expired := read()

	start := time.Now()
	startAgent(t, agentConfig(t, srv, dataDir, "n1")) // stopped by its cleanup
	cleanupTasks(t, srv, "restartid")
	fresh := waitValid("a fresh token after the restart", expired, 15*time.Second)
	t.Logf("agent started → fresh token in the file in %v", time.Since(start))
	// Renewal goes on: another token before this one expires.
	waitValid("a renewal after the restart", fresh, 10*time.Second)

	allocs = waitAllocs(t, srv.Client, "restartid", "the task state", func([]*cluster.Allocation) bool { return true })
	st := allocs[0].TaskStates["t"]
	if st.State != cluster.TaskStateRunning || st.Restarts != 0 || st.Failed {
		t.Errorf("task restarted or stopped:\n%s", describeAllocs(allocs))
	}
	if got := waitFile(t, filepath.Join(dir, "alloc", "pids")); got != pid {
		t.Errorf("pids = %q, want the one process %q", got, pid)
	}
}
