package github_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

func parse(t *testing.T, src string) *jobspec.Job {
	t.Helper()
	f, diags := jobspec.Parse("web.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Job
}

const jobSrc = `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config { image = "%s" }
      env { DB_PASSWORD = "%s" }
    }
  }
}
`

func TestPlanCommentBodies(t *testing.T) {
	old := parse(t, strings.ReplaceAll(strings.Replace(jobSrc, "%s", "nginx:1.25", 1), "%s", "pw-old"))
	new := parse(t, strings.ReplaceAll(strings.Replace(jobSrc, "%s", "nginx:1.27", 1), "%s", "pw-new"))
	p := diff.Compute(map[string]*jobspec.Job{"web": old}, map[string]*jobspec.Job{"web": new}, diff.Options{})

	pc := github.PlanComment{Source: "prod", Plan: p, Meta: render.Meta{Base: "live cluster", Head: "#2"}, DryRun: true,
		Placements: []string{"web/g: no node has the docker driver"}}
	body, err := pc.Body()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"nginx:1.25" => "nginx:1.27"`, "1 placement would fail", "web/g: no node has the docker driver"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "pw-old") || strings.Contains(body, "pw-new") {
		t.Errorf("body leaks a secret:\n%s", body)
	}
	if st := pc.Status(""); st.State != github.StateFailure || st.Context != "drover/plan" || !strings.HasPrefix(st.Description, "1 placement would fail; Plan: 0 to create, 1 to update") {
		t.Errorf("status = %+v", st)
	}
	pc.Placements = nil
	if st := pc.Status("u"); st.State != github.StateSuccess || st.TargetURL != "u" {
		t.Errorf("status = %+v", st)
	}

	none := github.PlanComment{Source: "prod", Plan: diff.Compute(nil, nil, diff.Options{})}
	if st := none.Status(""); st.Description != "No changes" {
		t.Errorf("status = %+v", st)
	}

	bad := github.PlanComment{Source: "prod", Meta: render.Meta{Head: "abc"}, Diagnostics: []render.DiagnosticJSON{{
		Severity: "error", Summary: "Unsupported argument", Detail: "An argument named \"drivre\" is not expected here. Did you mean \"driver\"?\n```",
		Range: &render.RangeJSON{Filename: "jobs/web.hcl", Start: render.PosJSON{Line: 4, Column: 7}},
	}}}
	body, _ = bad.Body()
	if !strings.Contains(body, "jobs/web.hcl:4:7: error: Unsupported argument; An argument named") || !strings.Contains(body, "````text") {
		t.Errorf("diagnostics body:\n%s", body)
	}
	if st := bad.Status(""); st.State != github.StateFailure || st.Description != "Job files do not load: 1 error" {
		t.Errorf("status = %+v", st)
	}
}
