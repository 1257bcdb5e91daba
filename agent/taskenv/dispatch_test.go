package taskenv

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestParentID(t *testing.T) {
	for id, want := range map[string]string{
		"web":                                  "",
		"encode/dispatch-1700000000-0a1b2c3d":  "encode",
		"encode/dispatch-nightly-1700-0a1b2c3": "encode",
		"report/periodic-1700000000":           "report",
		"p/dispatch-1-a/periodic-2":            "p/dispatch-1-a",
		"a/other":                              "",
		"/dispatch-1":                          "",
	} {
		if got := ParentID(id); got != want {
			t.Errorf("ParentID(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestDispatchEnv: a dispatched child's tasks see its meta (the job's
// merged with the dispatch's) as NOMAD_META_<KEY>, upper-cased and as
// written, and the parent as NOMAD_JOB_PARENT_ID; a plain job has no
// parent variable.
func TestDispatchEnv(t *testing.T) {
	id := "encode/dispatch-1700000000-0a1b2c3d"
	env := Builtin(Input{
		Alloc: &cluster.Allocation{ID: "0123456789", Name: id + ".g[0]", JobID: id},
		Job:   &jobspec.Job{ID: id, Name: id, Meta: map[string]string{"input_url": "s3://in/1", "team": "media"}},
	})
	for k, want := range map[string]string{
		"NOMAD_JOB_ID":         id,
		"NOMAD_JOB_PARENT_ID":  "encode",
		"DROVER_JOB_PARENT_ID": "encode",
		"NOMAD_META_INPUT_URL": "s3://in/1",
		"NOMAD_META_input_url": "s3://in/1",
		"NOMAD_META_TEAM":      "media",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	plain := Builtin(Input{Alloc: &cluster.Allocation{ID: "0123456789", Name: "web.g[0]", JobID: "web"}})
	if v, ok := plain["NOMAD_JOB_PARENT_ID"]; ok {
		t.Errorf("a job without parent has NOMAD_JOB_PARENT_ID=%q", v)
	}
}
