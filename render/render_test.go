package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func jobs(js ...*jobspec.Job) map[string]*jobspec.Job {
	m := make(map[string]*jobspec.Job, len(js))
	for _, j := range js {
		m[j.ID] = j
	}
	return m
}

// webJobs is the example of `nomad job plan`: group "frontend" grows from
// 2 to 3 while its server's image changes.
func webJobs() (old, new *jobspec.Job) {
	old = difftest.Job("web")
	old.Groups[0].Name = "frontend"
	new = difftest.Clone(old)
	new.Groups[0].Count = 3
	new.Groups[0].Tasks[0].Config["image"] = "nginx:1.27"
	return old, new
}

func inPlaceJobs() (old, new *jobspec.Job) {
	old = difftest.Job("cache")
	new = difftest.Clone(old)
	g := new.Groups[0]
	g.Count = 1
	g.Update.MaxParallel = 2
	g.Services[0].Tags = []string{"v1", "primary"}
	g.Services[0].Checks[0].Interval = 30 * time.Second
	g.Tasks[0].KillTimeout = 20 * time.Second
	new.Priority = 70
	old.Groups[0].Count = 3
	return old, new
}

func secretJobs() (old, new *jobspec.Job) {
	old = difftest.Job("billing")
	tk := old.Groups[0].Tasks[0]
	tk.Env["DB_PASSWORD"] = "hunter2-old"
	tk.Env["STRIPE_URL"] = "https://sk:hunter2@stripe"
	tk.Config["auth"] = []any{map[string]any{"username": "svc", "password": "hunter2-cfg"}}
	tk.Templates = []jobspec.Template{{Destination: "secrets/app.env", Env: true, Data: "KEY=hunter2-tmpl\n", ChangeMode: "restart", Perms: "0644"}}
	new = difftest.Clone(old)
	tk = new.Groups[0].Tasks[0]
	tk.Env["DB_PASSWORD"] = "hunter2-new"
	tk.Env["STRIPE_URL"] = "https://sk:hunter2-new@stripe"
	tk.Env["API_TOKEN"] = "hunter2-added"
	tk.Config["auth"] = []any{map[string]any{"username": "svc", "password": "hunter2-cfg2"}}
	tk.Templates[0].Data = "KEY=hunter2-tmpl2\n"
	return old, new
}

// bigPlan has far more changed jobs than a comment holds.
func bigPlan() *diff.Plan {
	old := difftest.State(120, 7)
	new := difftest.State(120, 8)
	return diff.Compute(old, new, diff.Options{})
}

type scenario struct {
	name string
	plan *diff.Plan
	meta render.Meta
}

func scenarios() []scenario {
	meta := render.Meta{Base: "HEAD~1 (1a2b3c4)", Head: "HEAD (5d6e7f8)"}
	webOld, webNew := webJobs()
	cacheOld, cacheNew := inPlaceJobs()
	secOld, secNew := secretJobs()
	create := difftest.Job("api")
	create.Groups = append(create.Groups, difftest.Group("worker", 3))
	stop := difftest.Job("legacy")
	same := difftest.Job("same")
	return []scenario{
		{"no_changes", diff.Compute(jobs(same), jobs(difftest.Clone(same)), diff.Options{}), meta},
		{"create", diff.Compute(nil, jobs(create), diff.Options{}), meta},
		{"stop", diff.Compute(jobs(stop), nil, diff.Options{}), render.Meta{}},
		{"in_place", diff.Compute(jobs(cacheOld), jobs(cacheNew), diff.Options{}), meta},
		{"destructive_count", diff.Compute(jobs(webOld), jobs(webNew), diff.Options{}), meta},
		{"secrets", diff.Compute(jobs(secOld), jobs(secNew), diff.Options{Sensitive: []string{"*_URL"}}), meta},
		{"mixed", diff.Compute(jobs(webOld, cacheOld, stop, same), jobs(webNew, cacheNew, create, difftest.Clone(same)), diff.Options{}), meta},
		{"big", bigPlan(), meta},
		{"waves", wavesPlan(), meta},
		{"not_launched", notLaunchedPlan(), notLaunchedMeta(meta)},
	}
}

// notLaunchedPlan creates a parameterized job, updates web and stops
// legacy; notLaunchedMeta says the parameterized job will not run, and (wrongly, to
// show that it is ignored) says the same of the stopped job.
func notLaunchedPlan() *diff.Plan {
	webOld, webNew := webJobs()
	report := difftest.Job("nightly-report")
	report.Type = jobspec.JobTypeBatch
	report.Parameterized = &jobspec.Parameterized{Payload: "optional"}
	return diff.Compute(jobs(webOld, difftest.Job("legacy")), jobs(webNew, report), diff.Options{})
}

const parameterizedNote = "parameterized job: stored; runs when dispatched (drover job dispatch)"

func notLaunchedMeta(m render.Meta) render.Meta {
	m.NotLaunched = map[string]string{"nightly-report": parameterizedNote, "legacy": "never shown: a stopped job is not launched anyway"}
	return m
}

// wavesPlan creates postgres, api and web, where web depends on api and
// api on postgres: three waves.
func wavesPlan() *diff.Plan {
	p := diff.Compute(nil, jobs(difftest.Job("api"), difftest.Job("postgres"), difftest.Job("web")), diff.Options{})
	after := map[string][]string{"api": {"postgres"}, "web": {"api"}}
	p.SetWaves([][]string{{"postgres"}, {"api"}, {"web"}}, func(id string, _ []string) []string { return after[id] })
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render/ -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./render/ -update and review the diff)\n--- got:\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var txt, md, js bytes.Buffer
			if err := render.Text(&txt, sc.plan, sc.meta, false); err != nil {
				t.Fatal(err)
			}
			if err := render.Markdown(&md, sc.plan, sc.meta); err != nil {
				t.Fatal(err)
			}
			if err := render.JSON(&js, sc.plan, sc.meta); err != nil {
				t.Fatal(err)
			}
			if sc.name != "big" { // the big plan is there for markdown truncation
				golden(t, sc.name+".txt", txt.Bytes())
				golden(t, sc.name+".json", js.Bytes())
			}
			golden(t, sc.name+".md", md.Bytes())
			if bytes.Contains(txt.Bytes(), []byte("\x1b")) {
				t.Error("text without colour holds escape codes")
			}
		})
	}
}

func TestTextColor(t *testing.T) {
	old, new := webJobs()
	var buf bytes.Buffer
	if err := render.Text(&buf, diff.Compute(jobs(old), jobs(new), diff.Options{}), render.Meta{}, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "destructive_count_color.txt", buf.Bytes())
	for _, want := range []string{"\x1b[33m+/-\x1b[0m", "\x1b[1mJob: \"web\"\x1b[0m", "\x1b[32mforces create\x1b[0m"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("coloured output lacks %q", want)
		}
	}
}

func TestTextNomadShape(t *testing.T) {
	old, new := webJobs()
	var buf bytes.Buffer
	if err := render.Text(&buf, diff.Compute(jobs(old), jobs(new), diff.Options{}), render.Meta{}, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`+/- Job: "web"`,
		`+/- Task Group: "frontend" (1 create, 2 create/destroy update)`,
		`  +/- Count: "2" => "3" (forces create)`,
		`  +/- Task: "server" (forces create/destroy update)`,
		`    +/- Config {`,
		`      +/- image: "nginx:1.25" => "nginx:1.27" (forces create/destroy update)`,
		"        }\n",
		`Plan: 0 to create, 1 to update, 0 to stop.`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestMarkdownSections(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var md bytes.Buffer
			if err := render.Markdown(&md, sc.plan, sc.meta); err != nil {
				t.Fatal(err)
			}
			out := md.String()
			if len(out) >= render.GitHubCommentLimit-render.MarkdownReserve {
				t.Fatalf("markdown is %d bytes, over the comment limit", len(out))
			}
			details := strings.Count(out, "<details>")
			omitted := 0
			if i := strings.Index(out, " jobs omitted**"); i >= 0 {
				fmt.Sscanf(out[strings.LastIndex(out[:i], "**")+2:], "%d", &omitted)
			}
			if details+omitted != len(sc.plan.Jobs) {
				t.Errorf("%d <details> + %d omitted, want %d jobs", details, omitted, len(sc.plan.Jobs))
			}
			if sc.name == "big" && (omitted == 0 || details == 0) {
				t.Errorf("big plan: %d shown, %d omitted; want some of each", details, omitted)
			}
			if sc.name != "big" && omitted != 0 {
				t.Errorf("%d jobs omitted from a small plan", omitted)
			}
			s := sc.plan.Summary()
			if want := fmt.Sprintf("**%d to create, %d to update, %d to stop**", s.Create, s.Update, s.Stop); !strings.Contains(out, want) {
				t.Errorf("summary line %q missing", want)
			}
		})
	}
}

func TestMarkdownEscapes(t *testing.T) {
	old := difftest.Job("<script>alert(1)</script>")
	new := difftest.Clone(old)
	new.Groups[0].Tasks[0].Templates = []jobspec.Template{{Destination: "local/README.md", Data: "```sh\nrun\n```\n````\n"}}
	var md bytes.Buffer
	err := render.Markdown(&md, diff.Compute(jobs(old), jobs(new), diff.Options{}), render.Meta{Head: "<b>x</b>"})
	if err != nil {
		t.Fatal(err)
	}
	out := md.String()
	// Inside the fence HTML is shown as text; outside it must be escaped.
	outside := out[:strings.Index(out, "`````diff")]
	if strings.Contains(outside, "<script>") || strings.Contains(outside, "<b>x</b>") {
		t.Errorf("HTML not escaped:\n%s", out)
	}
	if !strings.Contains(out, "`````diff\n") || !strings.Contains(out, "\n`````\n") {
		t.Errorf("fence not longer than the backticks inside:\n%s", out)
	}
}

func TestJSONSchema(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render.JSON(&buf, sc.plan, sc.meta); err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(&buf)
			dec.DisallowUnknownFields()
			var got render.JSONPlan
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			s := sc.plan.Summary()
			if got.SchemaVersion != 1 || got.Base != sc.meta.Base || got.Head != sc.meta.Head ||
				got.HasChanges != sc.plan.HasChanges() || len(got.Jobs) != len(sc.plan.Jobs) ||
				got.Summary != (render.JSONSummary{Create: s.Create, Update: s.Update, Stop: s.Stop, Unchanged: sc.plan.Unchanged}) {
				t.Errorf("decoded = %+v", got)
			}
			for i, j := range got.Jobs {
				if j.ID != sc.plan.Jobs[i].ID || j.Action != sc.plan.Jobs[i].Action() {
					t.Errorf("job %d = %s %s", i, j.ID, j.Action)
				}
			}
		})
	}
}

// TestNotLaunchedNote: the caller's note about a job that will be stored
// but not run shows next to that job in every format, and only there.
func TestNotLaunchedNote(t *testing.T) {
	p, m := notLaunchedPlan(), notLaunchedMeta(render.Meta{})
	var txt, md, js bytes.Buffer
	for _, err := range []error{render.Text(&txt, p, m, false), render.Markdown(&md, p, m), render.JSON(&js, p, m)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(txt.String(), "Note: "+parameterizedNote+"\n"); got != 1 {
		t.Errorf("text has the note %d times, want once:\n%s", got, txt.String())
	}
	// The note follows the parameterized job's lines, before the next job.
	if i, j := strings.Index(txt.String(), `Job: "nightly-report"`), strings.Index(txt.String(), "Note: "); i < 0 || j < i || strings.Contains(txt.String()[i:j], `Job: "web"`) {
		t.Errorf("the note is not under its job:\n%s", txt.String())
	}
	if !strings.Contains(md.String(), "<b>nightly-report</b>: create (2 create) — <i>"+parameterizedNote+"</i></summary>") {
		t.Errorf("markdown summary lacks the note:\n%s", md.String())
	}
	var got render.JSONPlan
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	notes := map[string]string{}
	for _, j := range got.Jobs {
		notes[j.ID] = j.NotLaunched
	}
	if want := map[string]string{"legacy": "", "nightly-report": parameterizedNote, "web": ""}; fmt.Sprint(notes) != fmt.Sprint(want) {
		t.Errorf("not_launched by job = %v, want %v", notes, want)
	}
	for format, out := range map[string]string{"text": txt.String(), "markdown": md.String(), "json": js.String()} {
		if strings.Contains(out, "never shown") {
			t.Errorf("%s shows a note for a stopped job", format)
		}
	}
}

func TestSecretsNeverRendered(t *testing.T) {
	old, new := secretJobs()
	for name, p := range map[string]*diff.Plan{
		"update": diff.Compute(jobs(old), jobs(new), diff.Options{Sensitive: []string{"*_URL"}}),
		"create": diff.Compute(nil, jobs(new), diff.Options{Sensitive: []string{"*_URL"}}),
		"stop":   diff.Compute(jobs(old), nil, diff.Options{Sensitive: []string{"*_URL"}}),
	} {
		var txt, md, js bytes.Buffer
		for _, err := range []error{
			render.Text(&txt, p, render.Meta{}, true),
			render.Markdown(&md, p, render.Meta{}),
			render.JSON(&js, p, render.Meta{}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		for format, out := range map[string]string{"text": txt.String(), "markdown": md.String(), "json": js.String()} {
			if strings.Contains(out, "hunter2") {
				t.Errorf("%s plan, %s output leaks a secret", name, format)
			}
		}
		if name == "update" && !strings.Contains(txt.String(), "DB_PASSWORD: (sensitive value) => (sensitive value)") {
			t.Errorf("text does not show that the secret changed:\n%s", txt.String())
		}
	}
}

// TestNotLaunchedNotes: the notes a caller passes in Meta name exactly
// the jobs Drover stores without running, in the words plans show.
func TestNotLaunchedNotes(t *testing.T) {
	report := difftest.Job("nightly-report")
	report.Parameterized = &jobspec.Parameterized{Payload: "optional"}
	// A periodic job runs: the leader launches its children.
	periodic := difftest.Job("hourly")
	periodic.Periodic = &jobspec.Periodic{Crons: []string{"0 * * * *"}, Enabled: true}
	got := render.NotLaunchedNotes(jobs(difftest.Job("web"), report, periodic))
	if want := map[string]string{"nightly-report": parameterizedNote}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notes = %v, want %v", got, want)
	}
	if got := render.NotLaunchedNotes(jobs(difftest.Job("web"))); got != nil {
		t.Errorf("notes of jobs that all run = %v, want nil", got)
	}
}
