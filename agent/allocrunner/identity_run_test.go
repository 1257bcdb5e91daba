package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// identityRun runs one task with identity and action blocks on the
// scriptDriver, with a fetcher that signs "tok-N" tokens.
type identityRun struct {
	r       *Runner
	d       *scriptDriver
	mu      sync.Mutex
	fetches int
	ttl     time.Duration
}

func (ir *identityRun) fetch(_ context.Context, allocID string, tasks []string) ([]SignedIdentity, error) {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	ir.fetches++
	if allocID != ir.r.id || !slices.Equal(tasks, []string{"t"}) {
		return nil, fmt.Errorf("asked for %s %v", allocID, tasks)
	}
	n := ir.fetches
	return []SignedIdentity{
		{Task: "t", Name: "default", JWT: fmt.Sprintf("tok-%d", n), Env: true, File: true},
		{Task: "t", Name: "vault", JWT: fmt.Sprintf("vault-%d", n), File: true, Expiration: time.Now().Add(ir.ttl)},
	}, nil
}

func startIdentityRun(t *testing.T, ttl time.Duration) *identityRun {
	t.Helper()
	l := newLayout(t)
	job := &jobspec.Job{ID: "j", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{
		Name: "t", Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64},
		Restart:    &jobspec.RestartPolicy{Mode: "fail"},
		Identities: []jobspec.WorkloadIdentity{{Name: "default", Env: true, File: true}, {Name: "vault", File: true, TTL: ttl}},
		Actions:    []jobspec.Action{{Name: "hello", Command: "/bin/echo", Args: []string{"hi from ${NOMAD_TASK_NAME}"}}},
	}}}}}
	sd := &scriptDriver{}
	reg, err := drivers.NewRegistry(sd)
	if err != nil {
		t.Fatal(err)
	}
	ir := &identityRun{d: sd, ttl: ttl}
	const id = "11111111-2222-4333-8444-555555555555"
	r, err := New(Config{
		Alloc: &cluster.Allocation{ID: id, JobID: "j", TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(l.allocs, id), Drivers: reg, DB: l.db, Identities: ir.fetch,
	})
	if err != nil {
		t.Fatal(err)
	}
	ir.r = r
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntilT(t, "the task to run", func() bool {
		st := r.ClientAlloc().TaskStates["t"]
		return st != nil && st.State == cluster.TaskStateRunning
	})
	return ir
}

func (ir *identityRun) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(ir.r.Dir(), "t", "secrets", name))
	return string(b)
}

func waitUntilT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTaskIdentitiesAndRenewal: a task with identity blocks starts with
// NOMAD_TOKEN in its environment and the token files in secrets/; a
// file identity with a ttl is renewed halfway to its expiry, in the
// file, while the environment keeps the token the task started with.
func TestTaskIdentitiesAndRenewal(t *testing.T) {
	ir := startIdentityRun(t, 2*time.Second)
	var env map[string]string
	for _, tr := range ir.r.order {
		tr.mu.Lock()
		env = tr.execEnv
		tr.mu.Unlock()
	}
	if env["NOMAD_TOKEN"] != "tok-1" || ir.file("nomad_token") != "tok-1" || ir.file("nomad_vault.jwt") != "vault-1" {
		t.Fatalf("env %q, files %q %q", env["NOMAD_TOKEN"], ir.file("nomad_token"), ir.file("nomad_vault.jwt"))
	}
	waitUntilT(t, "the vault identity to be renewed", func() bool { return ir.file("nomad_vault.jwt") == "vault-2" })
	if got := ir.file("nomad_token"); got != "tok-2" {
		t.Fatalf("nomad_token after renewal: %q", got)
	}
}

// TestRunAction: a declared action runs through the driver's exec with
// its arguments interpolated in the task's environment; an undeclared
// one, or one of a task that does not exist, is refused before anything
// runs.
func TestRunAction(t *testing.T) {
	ir := startIdentityRun(t, time.Hour)
	res, err := ir.r.RunAction(t.Context(), "t", "hello")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("action: %+v %v", res, err)
	}
	ir.d.mu.Lock()
	execs := slices.Clone(ir.d.execs)
	ir.d.mu.Unlock()
	if len(execs) != 1 || !slices.Equal(execs[0], []string{"/bin/echo", "hi from t"}) {
		t.Fatalf("execs %q", execs)
	}
	for _, tc := range []struct{ task, action string }{{"t", "rm-rf"}, {"nope", "hello"}} {
		if _, err := ir.r.RunAction(t.Context(), tc.task, tc.action); !errors.Is(err, ErrNoSuchAction) {
			t.Errorf("%s/%s: %v, want ErrNoSuchAction", tc.task, tc.action, err)
		}
	}
	if _, execs := ir.d.counts(); execs != 1 {
		t.Fatalf("a refused action ran: %d execs", execs)
	}
}
