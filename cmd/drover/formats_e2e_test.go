package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/jobspec"
)

// mixedJobFiles is one raw_exec job in each syntax Drover reads: HCL,
// HCL's JSON syntax, Nomad's API JSON and its YAML. The API forms are
// rendered by jobspec from HCL, as `drover job inspect -o` does.
func mixedJobFiles(t *testing.T) map[string]string {
	t.Helper()
	api := func(id, format string) string {
		f, diags := jobspec.Parse(id+".nomad.hcl", []byte(rawJob(id, 1, "/bin/sleep")), nil)
		if f == nil {
			t.Fatal(diags)
		}
		out, err := renderJob(f.Job, format)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	return map[string]string{
		"drover.yaml":        "paths: [\"jobs/**\"]\n",
		"jobs/web.nomad.hcl": rawJob("web", 1, "/bin/sleep"),
		"jobs/db.nomad.json": `{
  "variable": {"n": {"type": "number", "default": 1}},
  "job": {"db": {
    "datacenters": ["dc1"],
    "group": {"g": {
      "count": "${var.n}",
      "task": {"t": {
        "driver": "raw_exec",
        "config": {"command": "/bin/sleep", "args": ["1000"]},
        "resources": {"cpu": 20, "memory": 16}
      }}
    }}
  }}
}
`,
		"jobs/api.job.json":    api("api", "json"),
		"jobs/worker.job.yaml": api("worker", "yaml"),
	}
}

// TestMixedSyntaxesValidatePlan: drover validate and drover plan read a
// repository mixing the four syntaxes; a typo in each is positioned.
func TestMixedSyntaxesValidatePlan(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/keep.nomad.hcl"), rawJob("keep", 1, "/bin/sleep"))
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	for p, c := range mixedJobFiles(t) {
		writeFile(t, filepath.Join(dir, p), c)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "second")

	if r := drover(t, dir, "validate", "."); r.code != 0 || !strings.Contains(r.stdout, "5 jobs valid") {
		t.Fatalf("validate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := drover(t, dir, "plan", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD")
	if r.code != 2 {
		t.Fatalf("plan: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, id := range []string{"web", "db", "api", "worker"} {
		if !strings.Contains(r.stdout, `+ Job: "`+id+`"`) {
			t.Errorf("plan lacks job %s:\n%s", id, r.stdout)
		}
	}

	typos := map[string]string{
		"jobs/web.nomad.hcl":   "jobs/web.nomad.hcl:2:3",
		"jobs/db.nomad.json":   "jobs/db.nomad.json:4:5",
		"jobs/api.job.json":    "jobs/api.job.json:",
		"jobs/worker.job.yaml": "jobs/worker.job.yaml:",
	}
	for file, want := range typos {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			bad := strings.Replace(string(src), "atacenters", "atacenter", 1)
			if bad == string(src) {
				t.Fatalf("no datacenters in %s", src)
			}
			writeFile(t, filepath.Join(dir, file), bad)
			defer writeFile(t, filepath.Join(dir, file), string(src))
			r := drover(t, dir, "validate", file)
			if r.code != 1 || !strings.Contains(r.stderr+r.stdout, want) || !strings.Contains(r.stderr+r.stdout, `"Datacenters"`) && !strings.Contains(r.stderr+r.stdout, `"datacenters"`) {
				t.Errorf("exit %d, want 1 and an error at %s with a suggestion:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		})
	}
}

// TestMixedSyntaxesDeploy: drover dev -repo deploys a repository mixing
// the four syntaxes through the reconciler; job inspect prints each job
// in every syntax, and each reads back as the same job (job plan: no
// change).
func TestMixedSyntaxesDeploy(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	r := gittest.New(t)
	sha := r.Commit("Jobs in four syntaxes", mixedJobFiles(t))
	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	st := waitApplied(t, c, sha)
	if st.LastApplied != sha {
		t.Fatalf("commit not applied: %+v", st)
	}
	for _, id := range []string{"web", "db", "api", "worker"} {
		followAllocs(t, c, id, "a running allocation", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	}
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, r.Dir, args...)
	}
	out := t.TempDir()
	for _, id := range []string{"web", "db", "api", "worker"} {
		want, _, err := c.Jobs().Info(context.Background(), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for format, name := range map[string]string{"hcl": id + ".nomad.hcl", "json": id + ".job.json", "yaml": id + ".job.yaml"} {
			res := cli("job", "inspect", "-o", format, id)
			if res.code != 0 {
				t.Fatalf("inspect -o %s %s: exit %d", format, id, res.code)
			}
			path := filepath.Join(out, name)
			writeFile(t, path, res.stdout)
			f, diags := jobspec.Parse(name, []byte(res.stdout), nil)
			if f == nil {
				t.Fatalf("%s does not read back: %s", name, diags)
			}
			if f.Job.Hash() != want.Hash {
				t.Errorf("%s reads back as another job (hash %s, running %s)", name, f.Job.Hash(), want.Hash)
			}
		}
	}
	if res := cli("job", "status", "-o", "yaml", "web"); res.code != 0 || !strings.Contains(res.stdout, "allocations:") {
		t.Errorf("job status -o yaml: %s", res)
	}
	if res := cli("node", "status", "-o", "json"); res.code != 0 || !strings.HasPrefix(strings.TrimSpace(res.stdout), "[") {
		t.Errorf("node status -o json: %s", res)
	}
	// Exit 2 while the deployments roll out: the code judges the state.
	if res := cli("sync", "status", "-o", "yaml"); res.code == 1 || !strings.Contains(res.stdout, "last_applied: "+sha) {
		t.Errorf("sync status -o yaml: %s", res)
	}
}

func TestFmtCheck(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if r := drover(t, ".", "fmt", "-check", "../../examples"); r.code != 0 {
		t.Fatalf("examples are not formatted: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	bad := "job \"a\" {\ngroup \"g\" {\ncount=1\n    task \"t\" { driver = \"exec\" }\n}\n}\n"
	writeFile(t, filepath.Join(dir, "a.nomad.hcl"), bad)
	writeFile(t, filepath.Join(dir, "drover.hcl"), "prune=true\n")
	writeFile(t, filepath.Join(dir, "b.job.json"), `{"Job":{"ID":"b"}}`) // not HCL: left alone
	r := drover(t, dir, "fmt", "-check", "-diff")
	if r.code != 3 || !strings.Contains(r.stdout, "a.nomad.hcl") || !strings.Contains(r.stdout, "+    count = 1") || !strings.Contains(r.stdout, "drover.hcl") {
		t.Fatalf("fmt -check -diff: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.nomad.hcl")); string(b) != bad {
		t.Fatal("-check changed the file")
	}
	if r := drover(t, dir, "fmt"); r.code != 0 {
		t.Fatalf("fmt: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := drover(t, dir, "fmt", "-check"); r.code != 0 || r.stdout != "" {
		t.Fatalf("after fmt, -check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := drover(t, dir, "validate", "a.nomad.hcl"); r.code != 0 {
		t.Errorf("formatted file no longer valid:\n%s%s", r.stdout, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "broken.hcl"), "job \"x\" {\n")
	if r := drover(t, dir, "fmt", "broken.hcl"); r.code != 1 || !strings.Contains(r.stderr, "broken.hcl:") {
		t.Errorf("broken file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestJobInit(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dir := t.TempDir()
	for _, tc := range []struct{ format, file string }{{"", "example.nomad.hcl"}, {"json", "example.job.json"}, {"yaml", "example.job.yaml"}} {
		args := []string{"job", "init"}
		if tc.format != "" {
			args = append(args, "-o", tc.format)
		}
		if r := drover(t, dir, args...); r.code != 0 || !strings.Contains(r.stdout, tc.file) {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if r := drover(t, dir, "validate", tc.file); r.code != 0 {
			t.Errorf("%s does not validate:\n%s%s", tc.file, r.stdout, r.stderr)
		}
		if r := drover(t, dir, args...); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
			t.Errorf("second %v: exit %d, want 1\n%s", args, r.code, r.stderr)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "example.nomad.hcl"))
	y, _ := os.ReadFile(filepath.Join(dir, "example.job.yaml"))
	if !strings.Contains(string(b), "# ") || !strings.HasPrefix(string(y), "# ") {
		t.Error("the HCL and YAML examples must be commented")
	}
	if r := drover(t, dir, "fmt", "-check", "example.nomad.hcl"); r.code != 0 {
		t.Errorf("the example is not formatted:\n%s", r.stdout)
	}
}

// TestValidateAPIJobDriverConfig: driver config is checked in the API
// formats as in HCL, at the offending key.
func TestValidateAPIJobDriverConfig(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.job.yaml"), `Job:
  ID: web
  TaskGroups:
    - Name: g
      Tasks:
        - Name: t
          Driver: docker
          Config:
            imagee: nginx:1.27
`)
	r := drover(t, dir, "validate", ".")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"web.job.yaml:9:13: Error: Invalid docker config", `did you mean "image"?`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
