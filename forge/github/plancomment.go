package github

import (
	"fmt"
	"html"
	"strings"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/render"
)

// PlanComment is what a plan comment on a pull request says: either a
// plan or, when the head's job files do not load, their diagnostics.
type PlanComment struct {
	Source string      // the Git source's name; it keys the marker
	Meta   render.Meta // base and head labels
	Plan   *diff.Plan  // nil when Invalid

	// Diagnostics of the head side; when any is an error the comment lists
	// them (file:line:col) instead of a plan.
	Diagnostics []render.DiagnosticJSON

	// Placements are the scheduler dry-run's failures, one line each
	// ("web/frontend: no node has 4096 MB memory free"); DryRun says a
	// dry run was made at all (server previews only).
	DryRun     bool
	Placements []string
}

// Invalid reports whether the head side has errors.
func (pc PlanComment) Invalid() bool {
	for _, d := range pc.Diagnostics {
		if d.Severity == "error" {
			return true
		}
	}
	return pc.Plan == nil
}

// Marker is the comment's hidden marker.
func (pc PlanComment) Marker() string { return PlanMarker(pc.Source) }

// Body renders the comment text (without the marker, which
// Client.UpsertComment adds).
func (pc PlanComment) Body() (string, error) {
	var b strings.Builder
	if pc.Invalid() {
		b.WriteString("### Drover plan\n\n")
		if pc.Meta.Head != "" {
			fmt.Fprintf(&b, "Head: <code>%s</code>\n\n", html.EscapeString(pc.Meta.Head))
		}
		b.WriteString("**:x: The job files do not load; nothing can be planned until they are fixed.**\n\n")
		var lines strings.Builder
		for _, d := range pc.Diagnostics {
			pos := "(no position)"
			if d.Range != nil {
				pos = fmt.Sprintf("%s:%d:%d", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
			}
			fmt.Fprintf(&lines, "%s: %s: %s", pos, d.Severity, d.Summary)
			if d.Detail != "" {
				fmt.Fprintf(&lines, "; %s", strings.ReplaceAll(d.Detail, "\n", " "))
			}
			lines.WriteByte('\n')
		}
		writeFenced(&b, "text", lines.String())
		return b.String(), nil
	}
	var plan strings.Builder
	if err := render.Markdown(&plan, pc.Plan, pc.Meta); err != nil {
		return "", err
	}
	b.WriteString(plan.String())
	if pc.DryRun {
		b.WriteString("\n#### Scheduler dry run\n\n")
		if len(pc.Placements) == 0 {
			b.WriteString(":white_check_mark: Every allocation of the changed jobs can be placed on the live cluster.\n")
		} else {
			fmt.Fprintf(&b, ":warning: **%d %s would fail:**\n\n", len(pc.Placements), plural(len(pc.Placements), "placement", "placements"))
			writeFenced(&b, "text", strings.Join(pc.Placements, "\n")+"\n")
		}
	}
	return b.String(), nil
}

// Status is the drover/plan commit status matching the comment.
func (pc PlanComment) Status(targetURL string) Status {
	st := Status{Context: ContextPlan, State: StateSuccess, TargetURL: targetURL}
	switch {
	case pc.Invalid():
		n := 0
		for _, d := range pc.Diagnostics {
			if d.Severity == "error" {
				n++
			}
		}
		st.State, st.Description = StateFailure, fmt.Sprintf("Job files do not load: %d %s", n, plural(n, "error", "errors"))
	case len(pc.Placements) > 0:
		st.State = StateFailure
		st.Description = fmt.Sprintf("%d %s would fail; %s", len(pc.Placements), plural(len(pc.Placements), "placement", "placements"), summary(pc.Plan))
	default:
		st.Description = summary(pc.Plan)
	}
	return st
}

func summary(p *diff.Plan) string {
	if !p.HasChanges() {
		return "No changes"
	}
	s := p.Summary()
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to stop", s.Create, s.Update, s.Stop)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeFenced writes text in a code fence longer than any run of
// backticks inside it.
func writeFenced(b *strings.Builder, lang, text string) {
	run, best := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == '`' {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, best+1))
	b.WriteString(fence + lang + "\n" + text + fence + "\n")
}
