package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

const periodicJob = `job "nightly-report" {
  type = "batch"
  periodic {
    crons = ["0 3 * * *"]
  }
  group "report" {
    task "summarise" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`

const parameterizedJob = `job "resize" {
  type = "batch"
  parameterized {
    payload = "optional"
  }
  group "resize" {
    task "convert" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`

// TestJobStatusGitOps: jobs deployed by a real Git source, read back with
// `drover job status`. A periodic job shows its schedule, its next launch
// and its children; a parameterized job says that it is stored but not
// dispatched; a Git-managed job stopped by hand says so
// and names the commit it came from (not "unmanaged"), in job status,
// history and the job list; a job submitted by hand and stopped stays
// unmanaged.
func TestJobStatusGitOps(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), spreadJob("web", 1, ""))
	writeFile(t, filepath.Join(dir, "report.nomad.hcl"), periodicJob)
	writeFile(t, filepath.Join(dir, "resize.nomad.hcl"), parameterizedJob)
	git("add", "-A")
	git("commit", "-q", "-m", "Add web, the report and resize")
	sha := revParse(t, dir, "HEAD")

	// An hour between polls: nothing puts the stopped job back during
	// the test.
	s := servertest.Single(t, withLocalSource("prod", dir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"web", "nightly-report", "resize"} {
		for {
			job, _, err := s.Client.Jobs().Info(ctx, id, nil)
			if err == nil && job.Source != nil && job.Source.Commit == sha {
				break
			}
			if err != nil && !api.IsNotFound(err) {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("the source never deployed %s from %s: %v", id, sha, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	env := "DROVER_ADDR=" + s.Client.Address()
	cli := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var c capture
		code = run(ctx, args, c.stdio(env))
		return code, c.out.String(), c.err.String()
	}
	wantLines := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("output lacks %s:\n%s", w, out)
			}
		}
	}

	_, out, _ := cli("job", "status", "nightly-report")
	wantLines(out, `(?m)^Status\s+= running$`, `(?m)^Periodic\s+= 0 3 \* \* \* \(UTC\)$`,
		`(?m)^Next Periodic Launch\s+= \d{4}-\d\d-\d\dT03:00:00\+00:00 UTC$`, `(?m)^Previously Launched Jobs\nNo jobs launched yet$`)
	_, out, _ = cli("job", "status", "-json", "nightly-report")
	var pv jobStatusView
	if err := json.Unmarshal([]byte(out), &pv); err != nil || pv.NextPeriodicLaunch == nil || pv.NextPeriodicLaunch.Hour() != 3 {
		t.Errorf("job status -json of a periodic job: next launch %v (%v)\n%s", pv.NextPeriodicLaunch, err, out)
	}
	_, out, _ = cli("job", "status", "resize")
	wantLines(out, `(?m)^Parameterized\s+= stored; runs when dispatched \(drover job dispatch\)$`)
	_, out, _ = cli("job", "status", "web")
	wantLines(out, `(?m)^Source\s+= `+regexp.QuoteMeta(dir+"@"+sha[:7])+`$`)
	if strings.Contains(out, "Periodic") || strings.Contains(out, "Self Heal") {
		t.Errorf("a running service job has a periodic or self-heal line:\n%s", out)
	}

	code, _, stderr := cli("job", "stop", "-detach", "web")
	if code != exitOK || !strings.Contains(stderr, `with self_heal on (the default), source "prod" starts it again at its next pass`) {
		t.Fatalf("job stop: exit %d, want 0 with a self_heal warning\nstderr: %s", code, stderr)
	}
	_, out, _ = cli("job", "status", "web")
	wantLines(out,
		`(?m)^Status\s+= \w+ \(stopped\)$`,
		`(?m)^Source\s+= stopped by hand outside Git \(version 1\); version 0 came from `+regexp.QuoteMeta(dir+"@"+sha[:7])+`$`,
		`(?m)^Path\s+= web\.nomad\.hcl$`,
		`(?m)^Commit\s+= "Add web, the report and resize"$`,
		`(?m)^Self Heal\s+= with self_heal on .*source "prod" starts it again at its next pass`)
	if strings.Contains(out, "unmanaged") {
		t.Errorf("a Git-managed job stopped by hand reads as unmanaged:\n%s", out)
	}
	_, out, _ = cli("job", "status", "-json", "web")
	var v jobStatusView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("job status -json: %v\n%s", err, out)
	}
	if !v.Job.Stop || v.Job.Source != nil || v.BeforeStop == nil || v.BeforeStop.Version != 0 || v.BeforeStop.Source == nil || v.BeforeStop.Source.Commit != sha {
		t.Errorf("job status -json: job %+v, before_stop %+v; want the stop (no source) and version 0 from %s", v.Job, v.BeforeStop, sha)
	}
	// History: the stop is no commit's, and not "unmanaged" either.
	_, out, _ = cli("history", "web")
	wantLines(out, `(?m)^web\s+1 \(stop\)\s+stopped by hand\s`, `(?m)^web\s+0\s+`+sha[:7]+`\s`)
	if strings.Contains(out, "unmanaged") {
		t.Errorf("history of a Git-managed job stopped by hand says unmanaged:\n%s", out)
	}

	// Submitted by hand, then stopped by hand: unmanaged all along.
	adhoc := filepath.Join(t.TempDir(), "adhoc.nomad.hcl")
	writeFile(t, adhoc, spreadJob("adhoc", 1, ""))
	if code, _, stderr := cli("job", "run", "-detach", adhoc); code != exitOK {
		t.Fatalf("job run: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("job", "stop", "-detach", "adhoc"); code != exitOK || strings.Contains(stderr, "self_heal") {
		t.Fatalf("job stop adhoc: exit %d, want 0 without a self_heal warning\n%s", code, stderr)
	}
	_, out, _ = cli("job", "status", "adhoc")
	wantLines(out, `(?m)^Source\s+= unmanaged \(submitted with 'drover job run', not from Git\)$`)

	// The job list tells the same truths in its Status and Source
	// columns.
	_, out, _ = cli("job", "status")
	wantLines(out,
		`(?m)^web\s+service\s+50\s+\w+\s+1\s+stopped by hand \(was prod@`+sha[:7]+`\)\s`,
		`(?m)^nightly-report\s+batch\s+50\s+running\s+0\s+`+sha[:7]+`\s`,
		`(?m)^resize\s+batch\s+50\s+running \(parameterized\)\s+0\s+`+sha[:7]+`\s`,
		`(?m)^adhoc\s+service\s+50\s+\w+\s+1\s+unmanaged\s`)
}
