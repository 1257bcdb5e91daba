package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/repo"
)

func TestValidateRolloutNodes(t *testing.T) {
	s := planRolloutCluster(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.nomad.hcl")
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c", "node-x"]`))
	warn := path + `:12:26: Warning: rollout.order of group "db" names node "node-x", which is not in the cluster`

	// Offline (the default): the pure checks only, no request.
	var c capture
	if code := validate(ctx, validateOptions{targets: []string{path}, vars: map[string]string{}}, c.stdio("DROVER_ADDR="+s.Client.Address())); code != exitOK {
		t.Fatalf("offline validate: exit %d\nstderr: %s", code, c.err.String())
	}
	if strings.Contains(c.err.String(), "node-x") {
		t.Errorf("offline validate looked at the cluster:\n%s", c.err.String())
	}

	// Against the server: a warning at the element, still valid.
	c = capture{}
	code := run(ctx, []string{"validate", "-address", s.Client.Address(), path}, c.stdio())
	if code != exitOK || !strings.Contains(c.err.String(), warn) || !strings.Contains(c.out.String(), "1 job valid") {
		t.Errorf("validate -address: exit %d\nstdout: %s\nstderr: %s", code, c.out.String(), c.err.String())
	}
	c = capture{}
	code = run(ctx, []string{"validate", "-json", "-address", s.Client.Address(), path}, c.stdio())
	if code != exitOK || !strings.Contains(c.out.String(), `names node \"node-x\"`) {
		t.Errorf("validate -json -address: exit %d\nstdout: %s", code, c.out.String())
	}

	// Pure checks still fail without a server.
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c", "node-c"]`))
	c = capture{}
	if code := validate(ctx, validateOptions{targets: []string{path}}, c.stdio()); code != exitError || !strings.Contains(c.err.String(), "Duplicate value in rollout order") {
		t.Errorf("duplicate order: exit %d\nstderr: %s", code, c.err.String())
	}

	// An unreachable server is an error, not a silent pass.
	c = capture{}
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c"]`))
	if code := run(ctx, []string{"validate", "-address", "http://" + freeAddr(t), path}, c.stdio()); code != exitError || !strings.Contains(c.err.String(), "cannot reach") {
		t.Errorf("unreachable server: exit %d\nstderr: %s", code, c.err.String())
	}
}

// TestValidateErrorCount: the closing line counts the errors in good
// English: "1 error. Fix it", "2 errors. Fix them".
func TestValidateErrorCount(t *testing.T) {
	job := func(typos ...string) string {
		return `job "web" {
  group "g" {
    ` + strings.Join(typos, "\n    ") + `
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}
`
	}
	for _, tc := range []struct {
		name, job, want string
	}{
		{"one", job("cuont = 2"), ": 1 error. Fix it and run 'drover validate' again.\n"},
		{"two", job("cuont = 2", "restat {}"), ": 2 errors. Fix them and run 'drover validate' again.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "web.nomad.hcl")
			writeFile(t, path, tc.job)
			var c capture
			if code := validate(context.Background(), validateOptions{targets: []string{path}}, c.stdio()); code != exitError {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, exitError, c.err.String())
			}
			if want := path + tc.want; !strings.HasSuffix(c.err.String(), want) {
				t.Errorf("stderr ends %q, want %q:\n%s", c.err.String()[max(0, c.err.Len()-80):], want, c.err.String())
			}
		})
	}
}

// TestExamplesLaunch: `make run` deploys examples/jobs, so every job there
// must be one Drover runs at once; the periodic example lives in
// examples/periodic (make run should not launch a child every night on a
// laptop), and is valid and periodic there.
func TestExamplesLaunch(t *testing.T) {
	ctx := context.Background()
	load := func(dir string) *repo.Repo {
		t.Helper()
		r, err := repo.NewLoader(repo.LoadOptions{CheckConfig: configChecker()}).Load(ctx, repo.DirSource(dir))
		if err != nil {
			t.Fatal(err)
		}
		if r.HasErrors() || len(r.Jobs) == 0 {
			t.Fatalf("%s: %d jobs, diagnostics %v", dir, len(r.Jobs), r.Diagnostics)
		}
		return r
	}
	for id, j := range load("../../examples/jobs").JobMap() {
		if kind, what := j.NotLaunched(); kind != "" {
			t.Errorf("examples/jobs has %s job %q, which make run would deploy but Drover does not run (%s): move it to its own folder", kind, id, what)
		}
	}
	for id, j := range load("../../examples/periodic").JobMap() {
		if j.Periodic == nil {
			t.Errorf("examples/periodic: job %q is not periodic", id)
		}
	}
}
