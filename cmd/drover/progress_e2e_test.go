package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/droverhq/drover/gitsource/gittest"
)

// progressJobFile is a service job whose versions roll out through a
// deployment: two allocations, one at a time, healthy after a second.
func progressJobFile(version string) string {
	return progressJob2("web", version)
}

func progressJob2(id, version string) string {
	return fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  meta {
    version = %q
  }
  group "web" {
    count = 2
    update {
      max_parallel     = 1
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }
    task "server" {
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
}
`, id, version)
}

var (
	progressPlainLine = regexp.MustCompile(`^    \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d): \S`)
	deploymentDone    = regexp.MustCompile(`^==> \d{4}-\d\d-\d\dT\S+: Deployment "([0-9a-f]{8})" successful$`)
)

// checkPlainProgress checks progress printed to a pipe: no escape
// sequence, every progress line timestamped, no line printed twice in a
// row (only changes are printed), and the last line the deployment's
// success. It returns the deployment's short ID.
func checkPlainProgress(t *testing.T, what, stdout string) string {
	t.Helper()
	if strings.Contains(stdout, "\x1b") {
		t.Errorf("%s: escape sequences on a pipe:\n%q", what, stdout)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	m := deploymentDone.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("%s: the last line is %q, want `==> <time>: Deployment \"<id>\" successful`", what, last)
	}
	seen := map[string]string{}
	progress := 0
	for _, l := range lines {
		if !progressPlainLine.MatchString(l) {
			continue
		}
		progress++
		_, text, _ := strings.Cut(l[4:], ": ")
		key, _, _ := strings.Cut(text, ":")
		if seen[key] == text {
			t.Errorf("%s: %q printed again without a change", what, text)
		}
		seen[key] = text
	}
	if progress == 0 {
		t.Errorf("%s: no timestamped progress line", what)
	}
	return m[1]
}

// TestE2EProgressPlainOnAPipe: the real binary and drover dev. `drover
// job run` with its output on a pipe (a CI log) follows the evaluation
// and then the deployment with plain timestamped lines per task group,
// ending with the deployment's success; `deployment status -monitor`
// does the same for a deployment; -json prints the one JSON document.
func TestE2EProgressPlainOnAPipe(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if _, err := os.Stat("/bin/sleep"); err != nil {
		t.Skipf("SKIP: /bin/sleep is missing (%v): the job's raw_exec task runs it", err)
	}
	dev := startDevCluster(t)
	c := dev.client
	dir := t.TempDir()
	cliEnv := append(dev.env, "TERM=xterm-256color")
	cli := func(args ...string) result {
		t.Helper()
		r := runDrover(t, dir, cliEnv, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
		return r
	}

	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), progressJobFile("v1"))
	r := cli("job", "run", "web.nomad.hcl")
	if r.code != 0 {
		t.Fatalf("job run: want exit 0: %s", r)
	}
	if !strings.Contains(r.stdout, "Monitoring evaluation") || !strings.Contains(r.stdout, "Monitoring deployment") {
		t.Errorf("job run follows neither the evaluation nor the deployment:\n%s", r.stdout)
	}
	for _, want := range []string{": web/web: 2/2 running, 2 placed, 2/2 healthy\n", ": web version 0: deployment "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job run's progress lacks %q:\n%s", want, r.stdout)
		}
	}
	first := checkPlainProgress(t, "job run", r.stdout)

	// A new version: a rolling update, one allocation at a time.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), progressJobFile("v2"))
	r = cli("job", "run", "web.nomad.hcl")
	if r.code != 0 {
		t.Fatalf("job run v2: want exit 0: %s", r)
	}
	second := checkPlainProgress(t, "job run v2", r.stdout)
	if second == first || !strings.Contains(r.stdout, ": web version 1: deployment "+second) {
		t.Errorf("job run v2 followed deployment %s (the first was %s):\n%s", second, first, r.stdout)
	}

	r = cli("deployment", "status", "-monitor", second)
	if r.code != 0 {
		t.Fatalf("deployment status -monitor: want exit 0: %s", r)
	}
	if got := checkPlainProgress(t, "deployment status -monitor", r.stdout); got != second {
		t.Errorf("deployment status -monitor %s ended on %s", second, got)
	}

	// -json keeps its one document on stdout: no progress lines.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), progressJobFile("v3"))
	r = cli("job", "run", "-json", "web.nomad.hcl")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 0 || err != nil || doc["register"] == nil {
		t.Errorf("job run -json: %v: %s", err, r)
	}
	lastDeployment(t, c, "web")

	// reconcile --once in CI: the plan, then a line per change of the
	// wave's job and group, the deployment's success, and the verdict.
	ci := gittest.New(t)
	ci.Commit("Add api", map[string]string{"api.hcl": progressJob2("api", "v1")})
	r = runDrover(t, ci.Dir, dev.env, "reconcile", "--once", "--repo", ".", "--min-healthy", "1s", "--timeout", "90s")
	t.Logf("$ drover reconcile --once\n%s", r)
	if r.code != 0 || strings.Contains(r.stdout, "\x1b") ||
		!regexp.MustCompile(`(?m)^    \S+: api version 0: deployment [0-9a-f]{8} successful \(Deployment completed successfully\)$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^    \S+: api/web: 2/2 running, 2 placed, 2/2 healthy$`).MatchString(r.stdout) ||
		!strings.HasSuffix(r.stdout, ": The rollout is healthy.\n") {
		t.Errorf("reconcile --once on a pipe: want exit 0, timestamped progress lines and the verdict last")
	}

	// On a terminal (a pseudo-terminal here) the same command redraws a
	// block in place: cursor up over the last block, clear each line,
	// colours unless NO_COLOR.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), progressJobFile("v4"))
	var colorEnv []string // hermeticEnv sets NO_COLOR
	for _, e := range dev.env {
		if !strings.HasPrefix(e, "NO_COLOR=") {
			colorEnv = append(colorEnv, e)
		}
	}
	colorEnv = append(colorEnv, "TERM=xterm-256color")
	out, code := runDroverOnPTY(t, dir, colorEnv, "job", "run", "web.nomad.hcl")
	t.Logf("$ drover job run web.nomad.hcl (on a terminal)\nexit %d\n%q", code, out)
	if code != 0 {
		t.Fatalf("job run on a terminal: exit %d", code)
	}
	// The block is two lines (the job, its group): each redraw goes
	// two lines up; the successful group is green.
	for _, want := range []string{"\x1b[2K", "\x1b[2A", "\x1b[32m  web/web: 2/2 running", "successful"} {
		if !strings.Contains(out, want) {
			t.Errorf("job run on a terminal: no %q in its output", want)
		}
	}
	if regexp.MustCompile(`(?m)^    \d{4}-\d\d-\d\dT\S+: web/web`).MatchString(out) {
		t.Errorf("job run on a terminal printed plain progress lines:\n%q", out)
	}
	// NO_COLOR drops the colours, not the redraw; TERM=dumb drops both.
	out, code = runDroverOnPTY(t, dir, append(colorEnv, "NO_COLOR=1"), "deployment", "status", "-monitor", second)
	if code != 0 || !strings.Contains(out, "\x1b[2K") || strings.Contains(out, "\x1b[32m") {
		t.Errorf("deployment status -monitor with NO_COLOR on a terminal: exit %d, want a block without colours:\n%q", code, out)
	}
	out, code = runDroverOnPTY(t, dir, append(colorEnv, "TERM=dumb"), "deployment", "status", "-monitor", second)
	if code != 0 || strings.Contains(out, "\x1b") || !progressPlainLine.MatchString(strings.SplitN(out, "\n", 2)[0]) {
		t.Errorf("deployment status -monitor with TERM=dumb: exit %d, want plain lines:\n%q", code, out)
	}
}

// runDroverOnPTY runs the binary with a pseudo-terminal as its stdin,
// stdout and stderr, as a person at a terminal would, and returns what
// it wrote.
func runDroverOnPTY(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, droverBin, args...)
	cmd.Dir, cmd.Env = dir, env
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 120})
	if err != nil {
		t.Skipf("SKIP: no pseudo-terminal on this machine: %v", err)
	}
	defer f.Close()
	var out bytes.Buffer
	// Reading ends with EIO once the process exits and the last
	// descriptor of the terminal's other side closes.
	_, _ = io.Copy(&out, f)
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("drover %v on a terminal: %v", args, err)
	return "", 0
}
