package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/agent"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state/statetest"
)

// shimEnv makes the test binary act as the exec driver's shim, so that
// the agent in BenchmarkCommitToRunning runs real processes.
const shimEnv = "DROVER_SERVER_TEST_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(shimEnv) == "1" {
		os.Exit(exec.ShimMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// commitsPerOp is how many commits one benchmark op makes; p50 and p99
// are over these.
const commitsPerOp = 15

// benchJob is a one-allocation service running sleep. Each commit
// changes its env, a destructive update: the old allocation is stopped
// and a new one placed, which is what a real edit (a new image, new
// arguments, new env) does. The update block waits for nothing: health
// from task states with min_healthy_time 0s, so a deployment is healthy
// as soon as its allocation runs and never holds back the next commit.
func benchJob(rev int) string {
	return fmt.Sprintf(`job "bench" {
  datacenters = ["dc1"]
  update {
    max_parallel     = 1
    health_check     = "task_states"
    min_healthy_time = "0s"
    healthy_deadline = "1m"
  }
  group "g" {
    count = 1
    task "t" {
      driver       = "exec"
      kill_timeout = "1s"
      config {
        command = "/bin/sleep"
        args    = ["100000"]
      }
      env {
        REV = "%d"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, rev)
}

// startBenchAgent starts a real agent with the exec driver against srv.
func startBenchAgent(b *testing.B, srv *servertest.Server, withTLS bool) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	dcfg := exec.DefaultConfig()
	dcfg.ShimCommand = []string{exe}
	dcfg.ShimEnv = []string{shimEnv + "=1"}
	dcfg.CgroupParent = "drover-server-bench"
	d, err := exec.New(dcfg)
	if err != nil {
		b.Fatal(err)
	}
	cfg := agent.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.Servers = []string{srv.HTTPAddr()}
	cfg.NodeName = "bench"
	cfg.Drivers = []drivers.Driver{d}
	cfg.MaxBackoff = 500 * time.Millisecond
	cfg.StopTasksOnShutdown = true
	if withTLS {
		// The secure default: a client certificate from the client join
		// token, HTTPS to the server.
		tok, err := server.ReadJoinToken(srv.DataDir(), pki.RoleClient)
		if err != nil {
			b.Fatal(err)
		}
		cfg.JoinToken = tok
	}
	cfg.Logger = statetest.Logger(b).With("agent", "bench")
	a, err := agent.New(cfg)
	if err != nil {
		b.Fatalf("new agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(servertest.Timeout):
			b.Error("agent did not stop")
		}
	})
	select {
	case <-a.Registered():
	case err := <-done:
		b.Fatalf("agent exited: %v", err)
	case <-time.After(servertest.Timeout):
		b.Fatal("agent did not register")
	}
}

// waitRunning waits, with blocking queries on the job's allocations,
// until an allocation of the given job version runs on the client.
func waitRunning(b *testing.B, c *api.Client, version uint64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	var index uint64
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, "bench", &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			b.Fatalf("waiting for version %d to run: %v", version, err)
		}
		for _, a := range allocs {
			if a.JobVersion == version && a.ClientStatus == cluster.AllocClientRunning {
				return
			}
		}
		index = meta.LastIndex
	}
}

// checkVersion checks, outside the timed part, that version came from sha.
func checkVersion(b *testing.B, c *api.Client, version uint64, sha string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	j, _, err := c.Jobs().Info(ctx, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	if j.Version != version || j.Source == nil || j.Source.Commit != sha {
		b.Fatalf("job is version %d from %+v, want version %d from %s", j.Version, j.Source, version, sha)
	}
}

func currentVersion(b *testing.B, c *api.Client) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	j, _, err := c.Jobs().Info(ctx, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	return j.Version
}

// pushPayload is GitHub's real push payload (push__payload.json, a tag
// deletion as recorded) turned into a push of sha to main of repoURL.
func pushPayload(b *testing.B, raw []byte, repoURL, before, sha string) []byte {
	b.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	repo := m["repository"].(map[string]any)
	repo["clone_url"], repo["html_url"], repo["ssh_url"], repo["git_url"] = repoURL, repoURL, "", ""
	m["ref"], m["before"], m["after"], m["deleted"], m["created"] = "refs/heads/main", before, sha, false, false
	out, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func report(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkCommitToRunning measures commit → new allocation running in a
// dev-like cluster: one in-process server tracking a Git source and one
// real agent with the exec driver. Each op makes commitsPerOp commits,
// each changing the job's env (a destructive update), and times each
// until the allocation of the new job version has client status running,
// watched with blocking queries. p50/p99/max are over all commits of all
// ops.
//
//   - fsnotify: the source is the local repository itself; the clock
//     starts before `git commit` and polling is off (an hour), so only
//     the ref watcher triggers the pass.
//   - webhook: the source is a bare remote served over smart HTTP by git
//     http-backend; the clock starts after `git push` returns, and a
//     signed GitHub push webhook (push__payload.json rewritten to the
//     repository and commit) triggers the fetch.
func BenchmarkCommitToRunning(b *testing.B) {
	// fsnotify runs with the agent on plain HTTP and on HTTPS with its
	// client certificate, side by side (issue 12: TLS within 10 ms).
	for _, mode := range []string{"plaintext", "tls"} {
		b.Run("fsnotify/"+mode, func(b *testing.B) {
			r := gittest.New(b)
			rev := 0
			first := r.Commit("Add bench", map[string]string{"jobs/bench.hcl": benchJob(rev)})
			srv := servertest.Single(b, withSource("apps", r.Dir, ""))
			startBenchAgent(b, srv, mode == "tls")
			benchWaitApplied(b, srv.Client, first)
			version := currentVersion(b, srv.Client)
			waitRunning(b, srv.Client, version)

			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				for range commitsPerOp {
					rev++
					start := time.Now()
					sha := r.Commit(fmt.Sprintf("Rev %d", rev), map[string]string{"jobs/bench.hcl": benchJob(rev)})
					version++
					waitRunning(b, srv.Client, version)
					lat = append(lat, time.Since(start))
					b.StopTimer()
					checkVersion(b, srv.Client, version, sha)
					b.StartTimer()
				}
			}
			b.StopTimer()
			report(b, lat)
		})
	}

	b.Run("webhook", func(b *testing.B) {
		raw, err := os.ReadFile(filepath.Join(payloads, "push__payload.json"))
		if err != nil {
			b.Logf("GitHub payload fixtures: %v", err)
			b.Skip(skipNoSharedData)
		}
		const secret = "bench-secret"
		w := gittest.New(b)
		rev := 0
		first := w.Commit("Add bench", map[string]string{"jobs/bench.hcl": benchJob(rev)})
		bare := w.Bare()
		w.Git("push", "-q", "origin", "main")
		hs := gittest.ServeHTTP(b, filepath.Dir(bare), "", "")
		url := hs.URL + "/remote.git"
		srv := servertest.Single(b, withSource("apps", url, secretFile(b, secret)))
		startBenchAgent(b, srv, false)
		benchWaitApplied(b, srv.Client, first)
		version := currentVersion(b, srv.Client)
		waitRunning(b, srv.Client, version)
		endpoint := "http://" + srv.HTTPAddr() + "/v1/webhooks/github"

		var lat []time.Duration
		before := first
		b.ResetTimer()
		for range b.N {
			for range commitsPerOp {
				rev++
				b.StopTimer()
				sha := w.Commit(fmt.Sprintf("Rev %d", rev), map[string]string{"jobs/bench.hcl": benchJob(rev)})
				w.Git("push", "-q", "origin", "main")
				body := pushPayload(b, raw, url, before, sha)
				hdr := map[string]string{
					gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte(secret), body),
					gitsource.HeaderGitHubEvent:     "push",
					gitsource.HeaderGitHubDelivery:  fmt.Sprintf("bench-%d", rev),
				}
				b.StartTimer()
				start := time.Now()
				if code, out, resp := post(b, endpoint, hdr, body); code != http.StatusAccepted || out.Status != "accepted" {
					b.Fatalf("push webhook: %d %s", code, resp)
				}
				version++
				waitRunning(b, srv.Client, version)
				lat = append(lat, time.Since(start))
				b.StopTimer()
				checkVersion(b, srv.Client, version, sha)
				b.StartTimer()
				before = sha
			}
		}
		b.StopTimer()
		report(b, lat)
	})
}

// benchWaitApplied waits, with blocking queries, until sha is applied.
func benchWaitApplied(b *testing.B, c *api.Client, sha string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	var index uint64
	for {
		st, meta, err := c.Sync().Info(ctx, "apps", &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err == nil && st.LastApplied == sha {
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				b.Fatalf("waiting for %s to be applied: %v", sha, err)
			}
			time.Sleep(50 * time.Millisecond) // setup only: no status yet
			continue
		}
		index = meta.LastIndex
	}
}
