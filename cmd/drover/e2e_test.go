package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests build the real drover binary once and run it as a
// user would, against Git repositories made with the git CLI.

var droverBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "drover-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	droverBin = filepath.Join(dir, "drover")
	build := exec.Command("go", "build", "-o", droverBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build drover:", err)
		return 1
	}
	code := m.Run()
	// A drover process still running now is a test's leak (see
	// outlivers): fail the run, loudly, rather than leave it behind.
	if checkOutlivers(os.Stderr, droverBin, 10*time.Second) > 0 && code == 0 {
		code = 1
	}
	return code
}

type result struct {
	code           int
	stdout, stderr string
}

// drover runs the binary in dir with this process's environment, for
// the commands that need no cluster.
func drover(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runDrover(t, dir, append(os.Environ(), "NO_COLOR=1"), args...)
}

// gitRepo makes a repository with the git CLI; it skips the test loudly
// where git is not installed (CI installs it).
func gitRepo(t *testing.T) (dir string, git func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("SKIPPING: the git CLI is not installed (apt-get install git); these tests need a real repository")
	}
	dir = t.TempDir()
	git = func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
			"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	return dir, git
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func webJob(image string, count int) string {
	return fmt.Sprintf(`job "web" {
  group "frontend" {
    count = %d
    network {
      port "http" { to = 80 }
    }
    task "nginx" {
      driver = "docker"
      config {
        image = %q
        ports = ["http"]
      }
      env {
        API_TOKEN = "s3cr3t-%s"
      }
    }
  }
}
`, count, image, image)
}

const batchJob = `job "cleanup" {
  type = "batch"
  group "run" {
    task "rm" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`

func TestValidateExamples(t *testing.T) {
	r := drover(t, ".", "validate", "../../examples/jobs")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	jobFiles, err := filepath.Glob("../../examples/jobs/*.nomad.hcl")
	if err != nil || len(jobFiles) < 3 {
		t.Fatalf("example job files: %v, %v", jobFiles, err)
	}
	if want := fmt.Sprintf("%d jobs valid", len(jobFiles)); !strings.Contains(r.stdout, want) {
		t.Errorf("stdout = %q, want it to say %q", r.stdout, want)
	}
}

func TestValidateChecksDriverConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        imagee = "nginx:1.27"
      }
    }
  }
}
`)
	r := drover(t, dir, "validate", ".")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"web.nomad.hcl:6:9: Error: Invalid docker config", `did you mean "image"?`, "web.nomad.hcl:5:7", "image: required"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestValidateTypoPointsAtPosition(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "typo.nomad.hcl"), `job "web" {
  group "g" {
    cuont = 2
    task "t" {
      driver = "exec"
      config { command = "sleep" }
    }
  }
}
`)
	r := drover(t, dir, "validate", "typo.nomad.hcl")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"typo.nomad.hcl:3:5", `Did you mean "count"?`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	r = drover(t, dir, "validate", "-json", ".")
	if r.code != 1 {
		t.Fatalf("-json: exit %d, want 1", r.code)
	}
	var res validateResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, r.stdout)
	}
	if res.Valid || len(res.Diagnostics) == 0 || res.Diagnostics[0].Range == nil || res.Diagnostics[0].Range.Start.Line != 3 {
		t.Errorf("-json result = %+v, want invalid with a diagnostic on line 3", res)
	}
}

func TestPlanBetweenCommits(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.25", 2))
	writeFile(t, filepath.Join(dir, "jobs/cleanup.nomad.hcl"), batchJob)
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.27", 3))
	if err := os.Remove(filepath.Join(dir, "jobs/cleanup.nomad.hcl")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "jobs/new.nomad.hcl"), strings.Replace(batchJob, `"cleanup"`, `"report"`, 1))
	git("add", "-A")
	git("commit", "-q", "-m", "second")

	r := drover(t, dir, "plan", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (changes)\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`+/- Job: "web"`,
		"+/- Count",
		`"nginx:1.25" => "nginx:1.27"`,
		"forces create/destroy update",
		`+ Job: "report"`,
		`- Job: "cleanup"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "s3cr3t") {
		t.Errorf("text plan leaks a secret env value:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("text plan has colour codes though stdout is not a terminal")
	}

	r = drover(t, dir, "plan", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD", "-json")
	if r.code != 2 {
		t.Fatalf("-json: exit %d, want 2\nstderr: %s", r.code, r.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, r.stdout)
	}
	if doc["schema_version"] != float64(1) || doc["has_changes"] != true {
		t.Errorf("-json: schema_version=%v has_changes=%v, want 1 and true", doc["schema_version"], doc["has_changes"])
	}

	r = drover(t, dir, "plan", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD", "-markdown")
	if r.code != 2 {
		t.Fatalf("-markdown: exit %d, want 2\nstderr: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "<details>"); n != 3 {
		t.Errorf("markdown has %d <details>, want one per changed job (3):\n%s", n, r.stdout)
	}
	if strings.Contains(r.stdout, "s3cr3t") {
		t.Errorf("markdown plan leaks a secret env value")
	}
}

func TestPlanWorkingTreeAndNoChanges(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), webJob("nginx:1.25", 2))
	git("add", "-A")
	git("commit", "-q", "-m", "first")

	// Root commit: the parent does not exist, so everything is new.
	r := drover(t, dir, "plan", "--head", "HEAD")
	if r.code != 2 || !strings.Contains(r.stdout, `+ Job: "web"`) {
		t.Fatalf("root commit plan: exit %d, want 2 with the job created\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// A clean working tree matches HEAD.
	r = drover(t, dir, "plan")
	if r.code != 0 {
		t.Fatalf("clean tree: exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// An uncommitted edit shows up against HEAD.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), webJob("nginx:1.25", 5))
	r = drover(t, dir, "plan")
	if r.code != 2 || !regexp.MustCompile(`Count: "2" => "5"`).MatchString(r.stdout) {
		t.Fatalf("edited tree: exit %d, want 2 with the count change\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// An invalid head is an error, not a plan.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), "job \"web\" {\n  group \"g\" {\n")
	r = drover(t, dir, "plan")
	if r.code != 1 || !strings.Contains(r.stderr, "web.nomad.hcl:") {
		t.Fatalf("invalid tree: exit %d, want 1 with a position\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	r := drover(t, dir, "plan", "--repo", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "not a Git repository") {
		t.Errorf("non-git dir: exit %d, stderr %q; want 1 and a clear message", r.code, r.stderr)
	}
	gdir, git := gitRepo(t)
	writeFile(t, filepath.Join(gdir, "web.nomad.hcl"), webJob("nginx:1", 1))
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	r = drover(t, gdir, "plan", "--base", "no-such-branch", "--head", "HEAD")
	if r.code != 1 || !strings.Contains(r.stderr, "no-such-branch") {
		t.Errorf("unknown ref: exit %d, stderr %q; want 1 naming the ref", r.code, r.stderr)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	for _, c := range []string{"validate", "plan", "version"} {
		r := drover(t, ".", c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Example") {
			t.Errorf("%s --help: exit %d, want 0 and examples in stdout:\n%s", c, r.code, r.stdout)
		}
	}
	r := drover(t, ".", "plna")
	if r.code != 1 || !strings.Contains(r.stderr, `did you mean "plan"`) {
		t.Errorf("typo'd command: exit %d, stderr %q", r.code, r.stderr)
	}
	r = drover(t, ".", "version", "-json")
	var v versionInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.Go == "" {
		t.Errorf("version -json: exit %d, output %q", r.code, r.stdout)
	}
}
