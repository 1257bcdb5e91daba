package render

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/droverhq/drover/diff"
)

// JSON writes the plan as one indented JSONPlan document (see SCHEMA.md).
func JSON(w io.Writer, p *diff.Plan, m Meta) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(ToJSON(p, m))
}

// ToJSON converts a plan to the versioned JSON schema (SCHEMA.md), for
// callers that embed it in a larger document, such as the HTTP API.
func ToJSON(p *diff.Plan, m Meta) JSONPlan {
	s := p.Summary()
	out := JSONPlan{
		SchemaVersion: SchemaVersion,
		Base:          m.Base,
		Head:          m.Head,
		HasChanges:    p.HasChanges(),
		Summary:       JSONSummary{Create: s.Create, Update: s.Update, Stop: s.Stop},
		Jobs:          []JSONJob{},
		Waves:         []JSONWave{},
		Sealed:        m.Sealed,
	}
	if p == nil {
		return out
	}
	out.Waves = jsonWaves(p.Waves)
	out.Summary.Unchanged = p.Unchanged
	for _, j := range p.Jobs {
		jj := JSONJob{
			ID:          j.ID,
			Action:      j.Action(),
			Type:        jsonType(j.Type),
			Marker:      j.Type.Marker(),
			Allocations: jsonAllocs(j.Updates()),
			Fields:      jsonFields(j.Fields),
			Objects:     jsonObjects(j.Objects),
			Groups:      []JSONGroup{},
			NotLaunched: m.note(j),
		}
		for _, g := range j.Groups {
			jg := JSONGroup{
				Name:        g.Name,
				Type:        jsonType(g.Type),
				Marker:      g.Type.Marker(),
				Allocations: jsonAllocs(g.Updates),
				Reasons:     []JSONReason{},
				Fields:      jsonFields(g.Fields),
				Objects:     jsonObjects(g.Objects),
				Tasks:       []JSONTask{},
			}
			for _, r := range g.Reasons {
				jg.Reasons = append(jg.Reasons, JSONReason{
					Scope: r.Scope, Name: r.Name, Path: r.Path, Change: jsonType(r.Change), Text: r.String(),
				})
			}
			for _, t := range g.Tasks {
				jg.Tasks = append(jg.Tasks, JSONTask{
					Name:        t.Name,
					Type:        jsonType(t.Type),
					Marker:      t.Type.Marker(),
					Annotations: nonNil(t.Annotations),
					Fields:      jsonFields(t.Fields),
					Objects:     jsonObjects(t.Objects),
				})
			}
			jj.Groups = append(jj.Groups, jg)
		}
		out.Jobs = append(out.Jobs, jj)
	}
	return out
}

// jsonType spells diff types in lower case: added, deleted, edited, none.
func jsonType(t diff.DiffType) string { return strings.ToLower(string(t)) }

func jsonAllocs(u diff.Updates) JSONAllocations {
	return JSONAllocations{
		Create: u.Create, Destroy: u.Destroy, InPlaceUpdate: u.InPlace,
		CreateDestroyUpdate: u.Destructive, Ignore: u.Ignore,
	}
}

func jsonFields(fs []*diff.FieldDiff) []JSONField {
	out := make([]JSONField, 0, len(fs))
	for _, f := range fs {
		out = append(out, JSONField{
			Name: f.Name, Path: f.Path, Type: jsonType(f.Type), Marker: f.Type.Marker(),
			Before: optional(f.Old), After: optional(f.New),
			Sensitive: f.Sensitive, Annotations: nonNil(f.Annotations),
		})
	}
	return out
}

func jsonObjects(os []*diff.ObjectDiff) []JSONObject {
	out := make([]JSONObject, 0, len(os))
	for _, o := range os {
		out = append(out, JSONObject{
			Name: o.Name, Key: o.Key, Path: o.Path, Type: jsonType(o.Type), Marker: o.Type.Marker(),
			Annotations: nonNil(o.Annotations),
			Fields:      jsonFields(o.Fields),
			Objects:     jsonObjects(o.Objects),
		})
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
