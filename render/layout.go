package render

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/droverhq/drover/diff"
)

// The text and markdown renderers share one layout: lines made of styled
// spans, each line tagged with the kind of change it shows. Text turns
// styles into ANSI colours; Markdown drops them and prefixes each line for
// a ```diff block.

type style uint8

const (
	plain style = iota
	bold
	green
	red
	yellow
	cyan
)

type span struct {
	text  string
	style style
}

type line struct {
	kind  diff.DiffType
	spans []span
}

func (l line) plain() string {
	var b strings.Builder
	for _, s := range l.spans {
		b.WriteString(s.text)
	}
	return b.String()
}

// layout accumulates the lines of one job.
type layout struct {
	lines []line
}

func (l *layout) add(kind diff.DiffType, spans ...span) {
	l.lines = append(l.lines, line{kind: kind, spans: spans})
}

func markerStyle(t diff.DiffType) style {
	switch t {
	case diff.DiffTypeAdded:
		return green
	case diff.DiffTypeDeleted:
		return red
	case diff.DiffTypeEdited:
		return yellow
	}
	return plain
}

// marker returns the marker of a diff type followed by a space, or
// nothing for an unchanged node, and its width.
func marker(t diff.DiffType) (span, int) {
	m := t.Marker()
	if m == "" {
		return span{}, 0
	}
	return span{m, markerStyle(t)}, len(m) + 1
}

// prefix is the start of a line: indent, marker, and padding that aligns
// names after markers of different widths, as Nomad does.
func prefix(indent int, t diff.DiffType, longest int) []span {
	m, w := marker(t)
	out := []span{{text: strings.Repeat(" ", indent)}}
	if w > 0 {
		out = append(out, m, span{text: " "})
	}
	if pad := longest - w; pad > 0 {
		out = append(out, span{text: strings.Repeat(" ", pad)})
	}
	return out
}

func annotationStyle(a string) style {
	switch a {
	case diff.AnnotationForcesCreate:
		return green
	case diff.AnnotationForcesDestroy:
		return red
	case diff.AnnotationForcesInplaceUpdate:
		return cyan
	case diff.AnnotationForcesDestructiveUpdate:
		return yellow
	}
	return plain
}

func annotations(as []string) []span {
	if len(as) == 0 {
		return nil
	}
	out := []span{{text: " ("}}
	for i, a := range as {
		if i > 0 {
			out = append(out, span{text: ", "})
		}
		out = append(out, span{a, annotationStyle(a)})
	}
	return append(out, span{text: ")"})
}

func updateStyle(kind string) style {
	switch kind {
	case diff.UpdateCreate:
		return green
	case diff.UpdateDestroy:
		return red
	case diff.UpdateInPlace:
		return cyan
	case diff.UpdateDestructive:
		return yellow
	}
	return plain
}

func updates(u diff.Updates) []span {
	list := u.List()
	if len(list) == 0 {
		return nil
	}
	out := []span{{text: " ("}}
	for i, c := range list {
		if i > 0 {
			out = append(out, span{text: ", "})
		}
		out = append(out, span{strconv.Itoa(c.Count) + " " + c.Kind, updateStyle(c.Kind)})
	}
	return append(out, span{text: ")"})
}

// maxReasons bounds the reasons printed per group; the JSON has them all.
const maxReasons = 5

// reasonText condenses reasons into one line, naming each subject once:
// `task "server": config.image changed, env.A added; job: meta.x changed`.
func reasonText(rs []diff.Reason) string {
	var parts []string
	shown := 0
	for i := 0; i < len(rs) && shown < maxReasons; {
		subject := rs[i].Subject()
		var details []string
		for ; i < len(rs) && shown < maxReasons && rs[i].Subject() == subject; i++ {
			details = append(details, rs[i].Detail())
			shown++
		}
		sep := ": "
		if len(details) == 1 && rs[i-1].Path == "" {
			sep = " "
		}
		parts = append(parts, subject+sep+strings.Join(details, ", "))
	}
	if rest := len(rs) - shown; rest > 0 {
		parts = append(parts, "and "+strconv.Itoa(rest)+" more")
	}
	return strings.Join(parts, "; ")
}

func (l *layout) job(j *diff.JobDiff) {
	m, _ := marker(j.Type)
	head := []span{}
	if m.text != "" {
		head = append(head, m, span{text: " "})
	}
	l.add(j.Type, append(head, span{"Job: " + strconv.Quote(j.ID), bold})...)

	longest := longestMarker(j.Fields, j.Objects)
	for _, g := range j.Groups {
		_, w := marker(g.Type)
		longest = max(longest, w)
	}
	if j.Type == diff.DiffTypeEdited {
		l.fieldsAndObjects(j.Fields, j.Objects, 0, longest)
	}
	for _, g := range j.Groups {
		l.group(g, longest)
	}
}

func (l *layout) group(g *diff.GroupDiff, longest int) {
	head := prefix(0, g.Type, longest)
	head = append(head, span{"Task Group: " + strconv.Quote(g.Name), bold})
	l.add(g.Type, append(head, updates(g.Updates)...)...)

	_, w := marker(g.Type)
	indent := max(longest-w, 0) + 2
	if len(g.Reasons) > 0 {
		l.add(diff.DiffTypeNone, span{text: strings.Repeat(" ", indent)},
			span{"create/destroy update because " + reasonText(g.Reasons), yellow})
	}

	inner := longestMarker(g.Fields, g.Objects)
	for _, t := range g.Tasks {
		_, w := marker(t.Type)
		inner = max(inner, w)
	}
	if g.Type == diff.DiffTypeEdited {
		l.fieldsAndObjects(g.Fields, g.Objects, indent, inner)
	}
	for _, t := range g.Tasks {
		l.task(t, indent, inner)
	}
}

// task prints a task; like `nomad job plan` without -verbose, the fields
// of a task that is added or removed as a whole are not expanded.
func (l *layout) task(t *diff.TaskDiff, indent, longest int) {
	head := prefix(indent, t.Type, longest)
	head = append(head, span{"Task: " + strconv.Quote(t.Name), bold})
	l.add(t.Type, append(head, annotations(t.Annotations)...)...)
	if t.Type != diff.DiffTypeEdited {
		return
	}
	l.fieldsAndObjects(t.Fields, t.Objects, indent+2, longestMarker(t.Fields, t.Objects))
}

func (l *layout) fieldsAndObjects(fs []*diff.FieldDiff, os []*diff.ObjectDiff, indent, longest int) {
	width := 0
	for _, f := range fs {
		width = max(width, len(label(f.Name)))
	}
	for _, f := range fs {
		l.field(f, indent, longest, width)
	}
	for _, o := range os {
		l.object(o, indent, longest)
	}
}

func (l *layout) field(f *diff.FieldDiff, indent, longest, width int) {
	spans := prefix(indent, f.Type, longest)
	spans = append(spans, span{text: label(f.Name) + ": " + strings.Repeat(" ", width-len(label(f.Name)))})
	switch f.Type {
	case diff.DiffTypeAdded:
		spans = append(spans, span{text: value(f, f.New)})
	case diff.DiffTypeDeleted:
		spans = append(spans, span{text: value(f, f.Old)})
	default:
		spans = append(spans, span{text: value(f, f.Old) + " => " + value(f, f.New)})
	}
	l.add(f.Type, append(spans, annotations(f.Annotations)...)...)
}

// label prints a name as is unless it holds characters that would break
// the line, such as a newline in a map key.
func label(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// value quotes a value as Nomad does; masked values stay unquoted so they
// do not read as the literal string.
func value(f *diff.FieldDiff, v string) string {
	if f.Sensitive {
		return v
	}
	return strconv.Quote(v)
}

func (l *layout) object(o *diff.ObjectDiff, indent, longest int) {
	spans := prefix(indent, o.Type, longest)
	name := o.Name
	if o.Key != "" {
		name += " " + strconv.Quote(o.Key)
	}
	spans = append(spans, span{text: name})
	spans = append(spans, annotations(o.Annotations)...)
	l.add(o.Type, append(spans, span{text: " {"})...)
	// Like Nomad, children indent from the start of the marker column and
	// the closing brace lines up under the name.
	_, w := marker(o.Type)
	pad := max(longest-w, 0)
	l.fieldsAndObjects(o.Fields, o.Objects, indent+pad+2, longestMarker(o.Fields, o.Objects))
	l.add(diff.DiffTypeNone, span{text: strings.Repeat(" ", indent+longest) + "}"})
}

func longestMarker(fs []*diff.FieldDiff, os []*diff.ObjectDiff) int {
	n := 0
	for _, f := range fs {
		_, w := marker(f.Type)
		n = max(n, w)
	}
	for _, o := range os {
		_, w := marker(o.Type)
		n = max(n, w)
	}
	return n
}

// summaryLine is the closing line of a plan: "1 to create, 2 to update, 0
// to stop".
func summaryLine(s diff.Summary) string {
	return strconv.Itoa(s.Create) + " to create, " + strconv.Itoa(s.Update) + " to update, " +
		strconv.Itoa(s.Stop) + " to stop"
}
