package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server/servertest"
)

// TestJobPeriodicForce: `drover job periodic force` launches a child of a
// periodic job; `job status` then lists it under Children with the next
// launch; a job that is not periodic, and a missing argument, exit 1.
func TestJobPeriodicForce(t *testing.T) {
	s := servertest.Single(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, src := range []string{spreadJob("web", 1, "")} {
		f, diags := jobspec.Parse("j.hcl", []byte(src), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: f.Job}); err != nil {
			t.Fatal(err)
		}
	}
	env := "DROVER_ADDR=" + s.Client.Address()
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var c capture
		code := run(ctx, args, c.stdio(env))
		return code, c.out.String(), c.err.String()
	}

	// job run says what happens to a periodic job: no evaluation of
	// its own, no warning, children on schedule.
	file := filepath.Join(t.TempDir(), "report.nomad.hcl")
	writeFile(t, file, periodicJob)
	code, out, stderr := cli("job", "run", file)
	if code != exitOK || !strings.Contains(out, `Periodic job "nightly-report" registered at version 0; the leader launches its children on schedule`) || stderr != "" {
		t.Fatalf("job run of a periodic job: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}

	code, out, stderr = cli("job", "periodic", "force", "-detach", "-json", "nightly-report")
	var got jobPeriodicForceJSON
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || got.Force == nil ||
		!strings.HasPrefix(got.Force.ChildID, "nightly-report/periodic-") || got.Force.EvalID == "" {
		t.Fatalf("force -json: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}

	code, out, _ = cli("job", "status", "nightly-report")
	if code != exitOK || !strings.Contains(out, got.Force.ChildID) || !strings.Contains(out, "Next Periodic Launch") {
		t.Errorf("job status after a force: exit %d, want the child and the next launch:\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"job", "periodic", "force", "web"}, "is not periodic"},
		{[]string{"job", "periodic", "force"}, "exactly one job"},
		{[]string{"job", "periodic", "force", "nope"}, "No job with ID"},
	} {
		if code, _, stderr := cli(tc.args...); code != exitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 1 with %q\nstderr: %s", tc.args, code, tc.want, stderr)
		}
	}
	if code, out, _ := cli("job", "periodic", "force", "--help"); code != exitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "Exit codes:") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}
