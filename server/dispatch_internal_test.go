package server

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// TestDispatchProblem: the payload and meta rules of a parameterized
// block, with Nomad's messages.
func TestDispatchProblem(t *testing.T) {
	p := func(payload string, req, opt []string) *jobspec.Parameterized {
		return &jobspec.Parameterized{Payload: payload, MetaRequired: req, MetaOptional: opt}
	}
	big := make([]byte, api.DispatchPayloadMaxBytes+1)
	atLimit := make([]byte, api.DispatchPayloadMaxBytes)
	for _, tc := range []struct {
		name    string
		p       *jobspec.Parameterized
		payload []byte
		meta    map[string]string
		want    string // a substring; "" for no problem
	}{
		{"optional, none", p("optional", nil, nil), nil, nil, ""},
		{"optional, given", p("optional", nil, nil), []byte("x"), nil, ""},
		{"empty mode is optional", p("", nil, nil), []byte("x"), nil, ""},
		{"required, missing", p("required", nil, nil), nil, nil, "Payload is not provided but required by parameterized job"},
		{"required, empty", p("required", nil, nil), []byte{}, nil, "Payload is not provided but required"},
		{"forbidden, given", p("forbidden", nil, nil), []byte("x"), nil, "Payload provided but forbidden by parameterized job"},
		{"forbidden, none", p("forbidden", nil, nil), nil, nil, ""},
		{"exactly 16 KiB", p("optional", nil, nil), atLimit, nil, ""},
		{"over 16 KiB", p("optional", nil, nil), big, nil, "Payload exceeds maximum size; 16385 > 16384"},
		{"required and optional meta", p("optional", []string{"a"}, []string{"b"}), nil, map[string]string{"a": "1", "b": "2"}, ""},
		{"required meta only", p("optional", []string{"a"}, []string{"b"}), nil, map[string]string{"a": "1"}, ""},
		{"missing required meta", p("optional", []string{"a", "c"}, nil), nil, map[string]string{"a": "1"}, "Dispatch did not provide required meta keys: [c]"},
		{"unpermitted meta", p("optional", []string{"a"}, nil), nil, map[string]string{"a": "1", "z": "2", "y": "3"}, "Dispatch request included unpermitted metadata keys: [y z]"},
		{"meta when none is accepted", p("optional", nil, nil), nil, map[string]string{"a": "1"}, "unpermitted metadata keys: [a] (the job accepts meta_required [] and meta_optional [])"},
		{"meta too large", p("optional", nil, []string{"a"}), nil, map[string]string{"a": strings.Repeat("x", dispatchMaxMetaBytes)}, "Dispatch meta is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dispatchProblem(tc.p, tc.payload, tc.meta)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDispatchedID: Nomad's forms, with and without a prefix template,
// and the template rules.
func TestDispatchedID(t *testing.T) {
	now := time.Unix(1700000000, 0)
	if got := dispatchedID("encode", "", now, "0a1b2c3d"); got != "encode/dispatch-1700000000-0a1b2c3d" {
		t.Errorf("without template: %q", got)
	}
	if got := dispatchedID("encode", "nightly", now, "0a1b2c3d"); got != "encode/dispatch-nightly-1700000000-0a1b2c3d" {
		t.Errorf("with template: %q", got)
	}
	for _, tc := range []struct {
		template string
		ok       bool
	}{
		{"", true}, {"nightly", true}, {"batch_7.x", true},
		{"a/b", false}, {"with space", false}, {".hidden", false}, {"tab\t", false},
		{strings.Repeat("x", dispatchMaxIDPrefixLen), true}, {strings.Repeat("x", dispatchMaxIDPrefixLen+1), false},
	} {
		if p := idPrefixProblem(tc.template); (p == "") != tc.ok {
			t.Errorf("idPrefixProblem(%q) = %q, want ok=%v", tc.template, p, tc.ok)
		}
	}
}

// TestDispatchChild: the child is the parent's spec without its
// parameterized block, meta merged (dispatch wins), payload and
// priority set, the parent itself untouched.
func TestDispatchChild(t *testing.T) {
	spec := &jobspec.Job{
		ID: "encode", Name: "encode", Type: jobspec.JobTypeBatch, Priority: 50,
		Meta:          map[string]string{"team": "media", "lang": "en"},
		Parameterized: &jobspec.Parameterized{Payload: "optional", MetaOptional: []string{"lang"}},
		Groups:        []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec"}}}},
	}
	parent := &cluster.Job{Namespace: "default", ID: "encode", Spec: spec, Hash: spec.Hash()}
	now := time.Unix(1700000000, 0)
	req := &api.JobDispatchRequest{Payload: []byte("hello"), Meta: map[string]string{"lang": "fr"}, Priority: 70}
	child, eval, err := dispatchChild(parent, req, now, "deadbeef")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^encode/dispatch-1700000000-deadbeef$`).MatchString(child.ID) || child.Spec.ID != child.ID || child.Spec.Name != child.ID {
		t.Errorf("child ID %q, spec ID %q, name %q", child.ID, child.Spec.ID, child.Spec.Name)
	}
	if child.ParentID != "encode" || child.Spec.Parameterized != nil || string(child.Spec.Payload) != "hello" || child.Spec.Priority != 70 {
		t.Errorf("child %+v, spec %+v", child, child.Spec)
	}
	if child.Spec.Meta["lang"] != "fr" || child.Spec.Meta["team"] != "media" {
		t.Errorf("child meta %v, want lang=fr over the job's en, team kept", child.Spec.Meta)
	}
	if child.Hash != child.Spec.Hash() || child.Source != nil {
		t.Errorf("child hash %q (spec %q), source %v", child.Hash, child.Spec.Hash(), child.Source)
	}
	if eval == nil || eval.JobID != child.ID || eval.Type != jobspec.JobTypeBatch || eval.Priority != 70 || eval.Status != cluster.EvalStatusPending {
		t.Errorf("eval %+v", eval)
	}
	if spec.Meta["lang"] != "en" || spec.Parameterized == nil || spec.Payload != nil {
		t.Errorf("the parent's spec changed: %+v", spec)
	}

	// A periodic parameterized job's child is periodic: no evaluation,
	// the leader launches it.
	spec.Periodic = &jobspec.Periodic{Crons: []string{"@daily"}, Enabled: true}
	if _, eval, err := dispatchChild(parent, &api.JobDispatchRequest{}, now, "deadbeef"); err != nil || eval != nil {
		t.Errorf("periodic child: eval %+v, err %v; want no evaluation", eval, err)
	}
}
