package repo

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// mixedRepo holds one job in each syntax Drover reads, and drover.yaml.
var mixedRepo = map[string]string{
	"drover.yaml":        "paths: [\"jobs/**\"]\nsensitive: [\"*_URL\"]\njob:\n  api:\n    depends_on: [db]\n",
	"jobs/web.nomad.hcl": minimalJob("web"),
	"jobs/db.nomad.json": `{
  "variable": {"image": {"type": "string", "default": "postgres:16"}},
  "job": {"db": {"group": {"g": {"task": {"t": {"driver": "docker", "config": {"image": "${var.image}"}}}}}}}
}`,
	"jobs/api.job.json": `{"Job": {"ID": "api", "TaskGroups": [{"Name": "g", "Count": 2,
  "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "sleep"}, "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}}`,
	"jobs/worker.job.yaml": `Job:
  ID: worker
  Type: batch
  TaskGroups:
    - Name: g
      Tasks:
        - Name: t
          Driver: exec
          Config:
            command: sleep
          Resources: {CPU: 100, MemoryMB: 64}
`,
	"jobs/package.json": `{"not": "a job"}`,
}

func TestLoadMixedSyntaxes(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, mixedRepo)
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	if r.HasErrors() {
		var buf bytes.Buffer
		_ = r.WriteDiagnostics(&buf, 0, false)
		t.Fatal(buf.String())
	}
	if got := fmt.Sprint(jobIDs(r)); got != "[api db web worker]" {
		t.Errorf("jobs = %s", got)
	}
	if !r.Config.IsSensitive("REDIS_URL") || r.Config.Jobs["api"] == nil {
		t.Errorf("drover.yaml not applied: %+v", r.Config)
	}
	if img := r.Jobs["db"].Job.Groups[0].Tasks[0].Config["image"]; img != "postgres:16" {
		t.Errorf("db image = %v", img)
	}
	if r.Jobs["api"].Job.Groups[0].Count != 2 || r.Jobs["worker"].Job.Type != "batch" {
		t.Errorf("api/worker decoded wrong")
	}
}

// TestLoadTypoEachSyntax: a misspelt name in each syntax is reported at
// file:line:col.
func TestLoadTypoEachSyntax(t *testing.T) {
	parserReady(t)
	cases := []struct{ file, src, want string }{
		{"jobs/a.nomad.hcl", "job \"a\" {\n  datacenter = [\"dc1\"]\n}\n", `jobs/a.nomad.hcl:2,3-13: Unsupported argument`},
		{"jobs/a.nomad.json", "{\"job\": {\"a\": {\n  \"datacenter\": [\"dc1\"]}}}", `jobs/a.nomad.json:2,3-15: Unsupported argument`},
		{"jobs/a.job.json", "{\"Job\": {\"ID\": \"a\",\n  \"Datacenter\": [\"dc1\"]}}", `jobs/a.job.json:2,3-15: Unsupported field`},
		{"jobs/a.job.yaml", "Job:\n  ID: a\n  Datacenter: [dc1]\n", `jobs/a.job.yaml:3,3-13: Unsupported field`},
		{"drover.yaml", "paths: [\"jobs/**\"]\nprun: true\n", `drover.yaml:2,1-5: Extraneous JSON object property`},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{tc.file: tc.src})
			r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
			var buf bytes.Buffer
			_ = r.WriteDiagnostics(&buf, 0, false)
			var all []string
			for _, d := range r.Diagnostics {
				all = append(all, fmt.Sprintf("%s: %s", d.Subject, d.Summary))
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("got:\n%s\nwant %q", strings.Join(all, "\n"), tc.want)
			}
		})
	}
}

func TestBothSettingsFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"drover.hcl": "", "drover.yaml": "{}\n", "a.hcl": minimalJob("a")})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	if !r.HasErrors() || !strings.Contains(r.Diagnostics[0].Detail, "keep one") {
		t.Errorf("want a conflict, got %v", r.Diagnostics)
	}
}
