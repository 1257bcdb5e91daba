package jobspec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const corpusDir = "../../shared/testdata/nomad-jobspecs"

// corpusExpect is what Drover must make of each real Nomad job file:
// parse it ("ok"), or reject it with an error that names the unsupported
// block, argument or driver, or (for files Nomad itself would refuse at
// validation) with a specific invalid-job error.
type corpusExpect struct {
	kind string // ok, unsupported, driver, invalid
	what string // block/argument/driver name, or a message substring
}

var corpusExpectations = map[string]corpusExpect{
	"command__testdata__example-basic.hcl":                  {kind: "ok"},
	"e2e__affinities__multiple_affinities.hcl":              {kind: "ok"},
	"e2e__clientstate__alloc_zombie.hcl":                    {kind: "ok"},
	"e2e__consul__consul_example.hcl":                       {kind: "ok"},
	"e2e__deployment__deployment_auto0.hcl":                 {kind: "ok"},
	"e2e__docker__auth_basic.hcl":                           {kind: "ok"},
	"e2e__isolation__exec.hcl":                              {kind: "ok"},
	"e2e__lifecycle__batch.hcl":                             {kind: "ok"},
	"e2e__lifecycle__service.hcl":                           {kind: "ok"},
	"e2e__networking__docker_bridged_basic.hcl":             {kind: "ok"},
	"e2e__nodedrain__drain_migrate.hcl":                     {kind: "ok"},
	"e2e__parameterized__simple.hcl":                        {kind: "ok"},
	"e2e__periodic__simple.hcl":                             {kind: "ok"},
	"e2e__rescheduling__rescheduling_canary_autorevert.hcl": {kind: "ok"},
	"e2e__rescheduling__rescheduling_maxp.hcl":              {kind: "ok"},
	"e2e__rescheduling__rescheduling_progressdeadline.hcl":  {kind: "ok"},
	"e2e__scheduler_sysbatch__sysbatch_dispatch.hcl":        {kind: "ok"},
	"e2e__scheduler_sysbatch__sysbatch_periodic.hcl":        {kind: "ok"},
	"e2e__scheduler_system__system_canary_v0.hcl":           {kind: "ok"},
	"e2e__scheduler_system__system_canary_v1.hcl":           {kind: "ok"},
	"e2e__servicediscovery__simple_lb_replicas.hcl":         {kind: "ok"},
	"e2e__spread__multiple_spread.hcl":                      {kind: "ok"},
	"hist_jobspec__reschedule-job.hcl":                      {kind: "ok"},
	"jobspec2__test-fixtures__identity-compat.hcl":          {kind: "ok"},
	"e2e__volume_mounts__volumes.hcl":                       {kind: "ok"},
	"e2e__scaling__namespace_default_1.hcl":                 {kind: "ok"},
	"e2e__dynamic_host_volumes__sticky.hcl":                 {kind: "ok"},
	"e2e__consul__on_update_check_restart.hcl":              {kind: "ok"},
	"e2e__batch_timeout__batch_timeout_poststop.hcl":        {kind: "ok"},
	"demo__snapshotagent__snapshot-agent.hcl":               {kind: "ok"},
	"command__asset__example.hcl":                           {kind: "ok"},
	"command__asset__example-short.hcl":                     {kind: "ok"},
	"demo__csi__kadalu-csi__controller.hcl":                 {"unsupported", "csi_plugin"},
	"e2e__artifact__artifact_linux.hcl":                     {"unsupported", "artifact"},
	"e2e__connect__demo.hcl":                                {"unsupported", "connect"},
	"e2e__consultemplate__template_shared_alloc.hcl":        {"unsupported", "artifact"},
	"e2e__isolation__chroot_dl_exec.hcl":                    {"unsupported", "artifact"},
	"e2e__metrics__prometheus.hcl":                          {"driver", "podman"},
	"e2e__task_schedule__schedule.hcl":                      {"unsupported", "schedule"},
	"ext_angrycub_nomad_example_jobs__qemu__tc_ssh.hcl":     {"unsupported", "artifact"},
	"hist_jobspec__basic.hcl":                               {"unsupported", "vault"},
	"hist_jobspec__multiregion.hcl":                         {"unsupported", "multiregion"},
	"jobspec2__test-fixtures__connect-example.hcl":          {"unsupported", "connect"},
	"hist_jobspec2__config-compatibility.hcl":               {"invalid", `The argument "driver" is required`},
	"jobspec2__test-fixtures__restart-render-templates.hcl": {"invalid", `The argument "driver" is required`},
	"hist_jobspec__periodic-crons.hcl":                      {"invalid", "has no group"},
	// Nomad refuses these too: a parameterized service job, and a task
	// with neither driver nor template destination (a parse-only fixture).
	"hist_jobspec__parameterized_job.hcl":               {"invalid", `Job type "service" does not allow the parameterized block`},
	"jobspec2__test-fixtures__template-wait-config.hcl": {"invalid", `The argument "driver" is required`},
	"hist_jobspec__migrate-job.hcl":                     {"invalid", `Job type "batch" does not allow the migrate block`},
}

// corpusVars are the variables corpus files declare without defaults.
var corpusVars = &ParseOptions{Vars: map[string]string{"start": "0 3 * * *", "end": "0 4 * * *"}}

func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.hcl"))
	if err != nil || len(files) == 0 {
		tb.Logf("no *.hcl in %s", corpusDir)
		tb.Skip("SKIP: needs the real-world test data in ../shared/testdata (it lives beside the repository, not in it)")
	}
	sort.Strings(files)
	return files
}

func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	parsed, rejected, crashed := 0, 0, 0
	rejectedAs := map[string]int{} // by expected kind
	failedFiles := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			want, ok := corpusExpectations[name]
			if !ok {
				t.Errorf("no expectation for %s: add it to corpusExpectations", name)
			}
			var f *File
			var diags []*hclDiag
			func() {
				defer func() {
					if r := recover(); r != nil {
						crashed++
						t.Fatalf("Parse panicked: %v", r)
					}
				}()
				file, ds := Parse(name, src, corpusVars)
				f, diags = file, wrapDiags(ds)
			}()
			if f != nil {
				parsed++
			} else {
				rejected++
				rejectedAs[want.kind]++
				failedFiles[name] = true
			}
			if want.kind == "ok" {
				if f == nil {
					t.Fatalf("want the file to parse, got:\n%s", joinDiags(diags))
				}
				if len(f.Job.Groups) == 0 || f.JobRange.Start.Line == 0 {
					t.Errorf("parsed job is empty: %+v", f)
				}
				// What the parser accepts, the API accepts too.
				for _, err := range ValidateJob(f.Job) {
					t.Errorf("ValidateJob: %v", err)
				}
				return
			}
			if f != nil {
				t.Fatalf("want the file rejected for %s %q, but it parsed", want.kind, want.what)
			}
			var needle string
			switch want.kind {
			case "unsupported":
				needle = fmt.Sprintf("Drover does not support the %q", want.what)
			case "driver":
				needle = fmt.Sprintf("Unsupported driver %q", want.what)
			default:
				needle = want.what
			}
			for _, d := range diags {
				if strings.Contains(d.text, needle) {
					if !d.positioned(name) {
						t.Errorf("error %q has no file:line:col", d.text)
					}
					return
				}
			}
			t.Errorf("no error containing %q in:\n%s", needle, joinDiags(diags))
		})
	}
	// `make corpus` prints this line: say why rejections are no failure.
	why := "FAILED: see the errors above"
	if !t.Failed() {
		var parts []string
		for _, k := range []struct{ kind, what string }{
			{"unsupported", "for Nomad features Drover reports as unsupported"},
			{"driver", "for a task driver Drover does not have"},
			{"invalid", "as invalid jobs that Nomad refuses too"},
		} {
			if n := rejectedAs[k.kind]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, k.what))
			}
		}
		why = "expected: " + strings.Join(parts, ", ") + "; each with a file:line:col error"
	}
	// Eligible: the files that use only drivers and features Drover
	// supports and that Nomad itself accepts (kind "ok"); the goal is
	// that all of them parse.
	eligible, eligibleParsed := 0, 0
	for _, path := range files {
		if corpusExpectations[filepath.Base(path)].kind == "ok" {
			eligible++
			if !failedFiles[filepath.Base(path)] {
				eligibleParsed++
			}
		}
	}
	fmt.Printf("corpus: %d parsed, %d rejected (%s), %d crashed\n", parsed, rejected, why, crashed)
	fmt.Printf("corpus: %s of the %d files parse; %s of the %d that use only supported drivers and features\n",
		percent(parsed, len(files)), len(files), percent(eligibleParsed, eligible), eligible)
}

func percent(n, of int) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d%%", n*100/of)
}

// hclDiag flattens a diagnostic for matching.
type hclDiag struct {
	text string
	file string
	line int
	col  int
}

func (d *hclDiag) positioned(file string) bool {
	return d.file == file && d.line > 0 && d.col > 0
}

func wrapDiags(diags hcl.Diagnostics) []*hclDiag {
	var out []*hclDiag
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		h := &hclDiag{text: d.Summary + "; " + d.Detail}
		if d.Subject != nil {
			h.file, h.line, h.col = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, h)
	}
	return out
}

func joinDiags(diags []*hclDiag) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s:%d:%d: %s\n", d.file, d.line, d.col, d.text)
	}
	return b.String()
}

// TestCorpusIssue15Values checks that the corpus files that parse since
// issue 15 decode their new blocks to the values they write.
func TestCorpusIssue15Values(t *testing.T) {
	corpusFiles(t)
	parse := func(t *testing.T, name string) *Job {
		t.Helper()
		src, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, diags := Parse(name, src, corpusVars)
		if f == nil {
			t.Fatalf("%s does not parse:\n%s", name, joinDiags(wrapDiags(diags)))
		}
		return f.Job
	}
	t.Run("volumes", func(t *testing.T) {
		j := parse(t, "e2e__volume_mounts__volumes.hcl")
		g := j.Groups[0]
		if v := g.Volumes["data"]; v == nil || *v != (VolumeRequest{Name: "data", Type: "host", Source: "shared_data"}) {
			t.Errorf("volume = %+v", v)
		}
		docker, exec := g.Task("docker_task"), g.Task("exec_task")
		if m := docker.VolumeMounts; len(m) != 1 || m[0] != (VolumeMount{Volume: "data", Destination: "/tmp/foo"}) {
			t.Errorf("docker mounts = %+v", m)
		}
		if m := exec.VolumeMounts; len(m) != 1 || m[0] != (VolumeMount{Volume: "data", Destination: "/tmp/foo", ReadOnly: true}) {
			t.Errorf("exec mounts = %+v", m)
		}
	})
	t.Run("sticky volume", func(t *testing.T) {
		g := parse(t, "e2e__dynamic_host_volumes__sticky.hcl").Groups[0]
		if v := g.Volumes["data"]; v == nil || !v.Sticky || v.Source != "sticky-volume" {
			t.Errorf("volume = %+v", v)
		}
	})
	t.Run("scaling", func(t *testing.T) {
		g := parse(t, "e2e__scaling__namespace_default_1.hcl").Groups[0]
		if g.Count != 2 || g.Scaling == nil || g.Scaling.Min != 2 || g.Scaling.Max != 3 || !g.Scaling.Enabled {
			t.Errorf("count %d scaling %+v", g.Count, g.Scaling)
		}
	})
	t.Run("identity", func(t *testing.T) {
		task := parse(t, "jobspec2__test-fixtures__identity-compat.hcl").Groups[0].Tasks[0]
		want := []WorkloadIdentity{
			{Name: "default", Env: true, File: true},
			{Name: "foo", Audience: []string{"bar"}, File: true, TTL: 2 * time.Hour, ChangeMode: "signal", ChangeSignal: "SIGHUP"},
		}
		if !reflect.DeepEqual(task.Identities, want) {
			t.Errorf("identities = %+v", task.Identities)
		}
		if task.Config["auth_soft_fail"] != true {
			t.Errorf("config = %v", task.Config)
		}
	})
	t.Run("max_run_duration", func(t *testing.T) {
		if g := parse(t, "e2e__batch_timeout__batch_timeout_poststop.hcl").Groups[0]; g.MaxRunDuration != 5*time.Second {
			t.Errorf("max_run_duration = %v", g.MaxRunDuration)
		}
	})
	t.Run("on_update", func(t *testing.T) {
		s := parse(t, "e2e__consul__on_update_check_restart.hcl").Groups[0].Services[0]
		if s.Checks[1].OnUpdate != "ignore_warnings" || s.Checks[0].OnUpdate != "" {
			t.Errorf("checks = %+v", s.Checks)
		}
	})
	t.Run("ui", func(t *testing.T) {
		j := parse(t, "command__asset__example.hcl")
		if j.UI == nil || j.UI.Description == "" || len(j.UI.Links) == 0 || j.UI.Links[0].URL == "" {
			t.Errorf("ui = %+v", j.UI)
		}
	})
}
