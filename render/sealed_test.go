package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/render"
)

func TestSealedNoteString(t *testing.T) {
	for _, tc := range []struct {
		n    render.SealedNote
		want string
	}{
		{render.SealedNote{Namespace: "default", Path: "app/db", Changed: 2}, `~ Variable "app/db" (sealed: 2 items changed)`},
		{render.SealedNote{Namespace: "default", Path: "app/db", Changed: 1}, `~ Variable "app/db" (sealed: 1 item changed)`},
		{render.SealedNote{Namespace: "prod", Path: "app/db", Changed: 3, Created: true}, `+ Variable "prod/app/db" (sealed: 3 items)`},
		{render.SealedNote{Namespace: "default", Path: "app/db", Deleted: true}, `- Variable "app/db" (sealed: removed)`},
		{render.SealedNote{Namespace: "default", Path: "app/db", Changed: 2, Offline: true}, `~ Variable "app/db" (sealed: 2 items resealed)`},
	} {
		if got := tc.n.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestPlanShowsSealedNotes: text, Markdown and JSON plans list the
// sealed variables a commit changes, also when no job changes, by path
// and count.
func TestPlanShowsSealedNotes(t *testing.T) {
	p := diff.Compute(nil, nil, diff.Options{})
	m := render.Meta{Base: "a", Head: "b", Sealed: []render.SealedNote{{Namespace: "default", Path: "app/db", Changed: 2}}}
	const want = `~ Variable "app/db" (sealed: 2 items changed)`
	var txt, md, js bytes.Buffer
	if err := render.Text(&txt, p, m, false); err != nil {
		t.Fatal(err)
	}
	if err := render.Markdown(&md, p, m); err != nil {
		t.Fatal(err)
	}
	if err := render.JSON(&js, p, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), want) || !strings.Contains(txt.String(), "No job changes.") || strings.Contains(txt.String(), "desired state matches") {
		t.Errorf("text:\n%s", txt.String())
	}
	if !strings.Contains(md.String(), want) || strings.Contains(md.String(), "desired state matches") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var doc render.JSONPlan
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || len(doc.Sealed) != 1 || doc.Sealed[0].Path != "app/db" || doc.Sealed[0].Changed != 2 {
		t.Errorf("json: %v %+v", err, doc.Sealed)
	}
	// Without sealed notes the documents are as before.
	js.Reset()
	if err := render.JSON(&js, p, render.Meta{}); err != nil || strings.Contains(js.String(), "sealed") {
		t.Errorf("json without notes mentions sealed: %v\n%s", err, js.String())
	}
}
