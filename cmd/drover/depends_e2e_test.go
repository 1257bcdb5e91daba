package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateDependencyErrors: a cycle is printed as a cycle, and a
// dependency on a job no file declares is an error, both positioned in
// drover.hcl.
func TestValidateDependencyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"cycle", "job \"api\" {\n  depends_on = [\"postgres\"]\n}\njob \"web\" {\n  depends_on = [\"api\"]\n}\njob \"postgres\" {\n  depends_on = [\"web\"]\n}\n",
			[]string{"drover.hcl:2:17: Error: Dependency cycle", "api → postgres → web → api"}},
		{"unknown dependency", "job \"api\" {\n  depends_on = [\"postgress\"]\n}\n",
			[]string{"drover.hcl:2:17: Error: Unknown dependency", `no job file declares a job "postgress"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, id := range []string{"postgres", "api", "web"} {
				writeFile(t, filepath.Join(dir, id+".nomad.hcl"), strings.Replace(batchJob, `"cleanup"`, `"`+id+`"`, 1))
			}
			writeFile(t, filepath.Join(dir, "drover.hcl"), tc.config)
			r := drover(t, dir, "validate", ".")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// TestPlanShowsWaves: a commit that changes postgres, api and web plans
// them in three waves, in text and JSON.
func TestPlanShowsWaves(t *testing.T) {
	dir, git := gitRepo(t)
	for _, id := range []string{"postgres", "api", "web"} {
		writeFile(t, filepath.Join(dir, id+".nomad.hcl"), strings.Replace(batchJob, `"cleanup"`, `"`+id+`"`, 1))
	}
	writeFile(t, filepath.Join(dir, "drover.hcl"), "job \"api\" {\n  depends_on = [\"postgres\"]\n}\n\njob \"web\" {\n  depends_on = [\"api\"]\n}\n")
	git("add", "-A")
	git("commit", "-q", "-m", "three jobs")

	r := drover(t, dir, "plan", "--head", "HEAD")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	want := "Rollout order (depends_on in drover.hcl): each wave starts once the previous one is healthy:\n  1. postgres\n  2. api (after postgres)\n  3. web (after api)\n"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("plan lacks the waves %q:\n%s", want, r.stdout)
	}
	r = drover(t, dir, "plan", "-json", "--head", "HEAD")
	var p struct {
		Waves []struct {
			Wave int `json:"wave"`
			Jobs []struct {
				ID    string   `json:"id"`
				After []string `json:"after"`
			} `json:"jobs"`
		} `json:"waves"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("-json: %v\n%s", err, r.stdout)
	}
	if len(p.Waves) != 3 || p.Waves[2].Jobs[0].ID != "web" || p.Waves[2].Jobs[0].After[0] != "api" {
		t.Errorf("JSON waves = %+v", p.Waves)
	}
}
