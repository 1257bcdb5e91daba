package allocrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// TestPlanIdentityChange: renewed identities' change modes combine as
// templates' do: a restart wins over everything (one, named after the
// first identity asking for it); otherwise each signal; noop and
// identities the job no longer declares do nothing.
func TestPlanIdentityChange(t *testing.T) {
	blocks := []jobspec.WorkloadIdentity{
		{Name: "", File: true}, // the default identity, unnamed
		{Name: "vault", File: true, ChangeMode: "signal", ChangeSignal: "SIGHUP"},
		{Name: "consul", File: true, ChangeMode: "restart"},
		{Name: "db", Env: true, ChangeMode: "restart"},
		{Name: "aws", File: true, ChangeMode: "signal", ChangeSignal: "SIGUSR1"},
	}
	for _, tc := range []struct {
		name    string
		renewed []string
		want    identityPlan
	}{
		{"nothing renewed", nil, identityPlan{}},
		{"noop (the default identity)", []string{"default"}, identityPlan{}},
		{"one signal", []string{"vault"}, identityPlan{signals: []identitySignal{{"vault", "SIGHUP"}}}},
		{"two signals in order", []string{"aws", "vault"}, identityPlan{signals: []identitySignal{{"aws", "SIGUSR1"}, {"vault", "SIGHUP"}}}},
		{"restart wins over signals", []string{"vault", "consul", "db"}, identityPlan{restart: "consul"}},
		{"restart of a variable identity", []string{"default", "db"}, identityPlan{restart: "db"}},
		{"undeclared identity", []string{"gone"}, identityPlan{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planIdentityChange(blocks, tc.renewed); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNextRenewal: an identity is renewed halfway to its expiry when the
// task can see a new token: a file, or a variable whose identity
// restarts the task. Identities without a ttl, and variables that
// cannot change in the running process, are not renewed.
func TestNextRenewal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	blocks := []jobspec.WorkloadIdentity{
		{Name: "default", Env: true, File: true},
		{Name: "file", File: true, TTL: time.Hour},
		{Name: "envnoop", Env: true, TTL: time.Minute},
		{Name: "envrestart", Env: true, TTL: time.Hour, ChangeMode: "restart"},
	}
	exp := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name    string
		ids     []SignedIdentity
		want    time.Time
		renewed []string
	}{
		{"none expires", []SignedIdentity{{Name: "default", Env: true, File: true}}, time.Time{}, nil},
		{"a file", []SignedIdentity{{Name: "file", File: true, Expiration: exp(time.Hour)}}, exp(30 * time.Minute), []string{"file"}},
		{"a variable without restart", []SignedIdentity{{Name: "envnoop", Env: true, Expiration: exp(time.Minute)}}, time.Time{}, nil},
		{"a variable with restart", []SignedIdentity{{Name: "envrestart", Env: true, Expiration: exp(20 * time.Minute)}}, exp(10 * time.Minute), []string{"envrestart"}},
		{"the soonest", []SignedIdentity{
			{Name: "default", Env: true, File: true},
			{Name: "file", File: true, Expiration: exp(time.Hour)},
			{Name: "envnoop", Env: true, Expiration: exp(time.Minute)},
			{Name: "envrestart", Env: true, Expiration: exp(40 * time.Minute)},
		}, exp(20 * time.Minute), []string{"file", "envrestart"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextRenewal(blocks, tc.ids, now); !got.Equal(tc.want) {
				t.Errorf("next = %v, want %v", got, tc.want)
			}
			if got := renewedIdentities(blocks, tc.ids); !reflect.DeepEqual(got, tc.renewed) {
				t.Errorf("renewed = %q, want %q", got, tc.renewed)
			}
		})
	}
}

// restartIDRun runs one task with one identity block wi (with a ttl) on
// a driver whose Stop ends the run, with a fetcher that signs
// "<name>-N" tokens, and a restart policy that allows no restart.
type restartIDRun struct {
	r       *Runner
	sd      *scriptDriver
	mu      sync.Mutex
	fetches int
}

func (ir *restartIDRun) fetchN() int {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	return ir.fetches
}

func startRestartIDRun(t *testing.T, wi jobspec.WorkloadIdentity) *restartIDRun {
	t.Helper()
	l := newLayout(t)
	job := &jobspec.Job{ID: "j", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{
		Name: "t", Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64},
		Restart:    &jobspec.RestartPolicy{Mode: "fail"}, // no attempts: a counted restart fails the task
		Identities: []jobspec.WorkloadIdentity{wi},
	}}}}}
	sd := &scriptDriver{}
	reg, err := drivers.NewRegistry(stoppingDriver{sd})
	if err != nil {
		t.Fatal(err)
	}
	ir := &restartIDRun{sd: sd}
	fetch := func(_ context.Context, _ string, _ []string) ([]SignedIdentity, error) {
		ir.mu.Lock()
		defer ir.mu.Unlock()
		ir.fetches++
		return []SignedIdentity{{Task: "t", Name: wi.Name, JWT: fmt.Sprintf("%s-%d", wi.Name, ir.fetches),
			Env: wi.Env, File: wi.File, Expiration: time.Now().Add(wi.TTL)}}, nil
	}
	const id = "11111111-2222-4333-8444-666666666666"
	r, err := New(Config{
		Alloc: &cluster.Allocation{ID: id, JobID: "j", TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(l.allocs, id), Drivers: reg, DB: l.db, Identities: fetch,
	})
	if err != nil {
		t.Fatal(err)
	}
	ir.r = r
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ir
}

// TestIdentityChangeRestart: an identity with a ttl and
// change_mode = "restart" restarts the task at each renewal, at once
// and not counted against the restart policy (which allows none here),
// with events naming the identity; each run starts with a token fetched
// for it: in the file, or, for a variable identity, in its environment.
func TestIdentityChangeRestart(t *testing.T) {
	for _, wi := range []jobspec.WorkloadIdentity{
		{Name: "vault", File: true, TTL: 2 * time.Second, ChangeMode: "restart"},
		{Name: "db", Env: true, TTL: 2 * time.Second, ChangeMode: "restart"},
	} {
		t.Run(wi.Name, func(t *testing.T) {
			ir := startRestartIDRun(t, wi)
			tr := ir.r.order[0]
			waitUntilT(t, "two identity restarts", func() bool {
				st := ir.r.ClientAlloc().TaskStates["t"]
				return st != nil && st.Restarts >= 2 && st.State == cluster.TaskStateRunning
			})
			st := ir.r.ClientAlloc().TaskStates["t"]
			if st.Failed {
				t.Fatalf("the task failed:\n%s", eventsText(st))
			}
			if !hasEvent(st, EventRestartSignal, fmt.Sprintf("Workload identity %q with change_mode restart renewed", wi.Name)) ||
				!hasEvent(st, EventRestarting, fmt.Sprintf("Workload identity %q with change_mode restart renewed; task restarting now", wi.Name)) {
				t.Errorf("no restart events naming the identity:\n%s", eventsText(st))
			}
			tr.mu.Lock()
			counters, env, ids := tr.restart, tr.execEnv, tr.identities
			tr.mu.Unlock()
			if counters.Count != 0 {
				t.Errorf("restart policy counters %+v: an identity restart was counted", counters)
			}
			if starts, _ := ir.sd.counts(); starts < 3 {
				t.Errorf("%d starts after two restarts", starts)
			}
			// The current run's token is the one fetched at its start
			// (or renewed since, in the file).
			if len(ids) != 1 || ir.fetchN() < 3 {
				t.Fatalf("identities %+v after %d fetches", ids, ir.fetchN())
			}
			if wi.Env {
				if got := env["NOMAD_TOKEN_db"]; got != ids[0].JWT {
					t.Errorf("NOMAD_TOKEN_db = %q, want the run's token %q", got, ids[0].JWT)
				}
			} else {
				b, _ := os.ReadFile(filepath.Join(ir.r.Dir(), "t", "secrets", "nomad_vault.jwt"))
				if got := string(b); !strings.HasPrefix(got, "vault-") || got == "vault-1" {
					t.Errorf("nomad_vault.jwt = %q, want a renewed token", got)
				}
			}
		})
	}
}
