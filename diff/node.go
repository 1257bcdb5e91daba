package diff

import (
	"sort"
	"strconv"
)

// force says what a change to a value does to the allocations that run it.
type force uint8

const (
	// inPlace changes are applied to running allocations.
	inPlace force = iota
	// destructive changes replace every allocation of the group, following
	// Nomad's scheduler (tasksUpdated).
	destructive
)

// attr is one primitive value of a block, already formatted for humans.
// An empty value means unset.
type attr struct {
	name   string // as printed: the jobspec field name, or a map key
	seg    string // path segment, unique within its node
	value  string
	secret bool
	force  force
}

// node is a block of a job in a shape that one generic differ can walk:
// typed jobspec values are converted to nodes (see model.go) and the
// differ never needs to know the jobspec types.
type node struct {
	name  string // kind as printed: "Config", "Service"
	key   string // identity among siblings of the same name
	seg   string // path segment, unique within its parent
	attrs []attr
	kids  []*node
	force force
}

// joinPath appends a segment to a path; index-like segments ("[0]") attach
// without a dot.
func joinPath(parent, seg string) string {
	switch {
	case parent == "":
		return seg
	case seg == "":
		return parent
	case seg[0] == '[':
		return parent + seg
	}
	return parent + "." + seg
}

// diffAttrs compares two attribute lists by segment. With annotate set,
// changed destructive values say so; it is unset inside blocks that are
// added or deleted as a whole, where the block carries the annotation.
func diffAttrs(path string, a, b []attr, annotate bool) []*FieldDiff {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	idx := make(map[string]int, len(b))
	for i, x := range b {
		idx[x.seg] = i
	}
	seen := make([]bool, len(b))
	var out []*FieldDiff
	for _, x := range a {
		if i, ok := idx[x.seg]; ok {
			seen[i] = true
			if f := fieldDiff(path, x, b[i], annotate); f != nil {
				out = append(out, f)
			}
			continue
		}
		if f := fieldDiff(path, x, attr{seg: x.seg, name: x.name, force: x.force}, annotate); f != nil {
			out = append(out, f)
		}
	}
	for i, y := range b {
		if seen[i] {
			continue
		}
		if f := fieldDiff(path, attr{seg: y.seg, name: y.name, force: y.force}, y, annotate); f != nil {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func fieldDiff(path string, a, b attr, annotate bool) *FieldDiff {
	if a.value == b.value {
		return nil
	}
	f := &FieldDiff{Type: DiffTypeEdited, Name: b.name, Path: joinPath(path, b.seg), Old: a.value, New: b.value}
	switch {
	case a.value == "":
		f.Type = DiffTypeAdded
	case b.value == "":
		f.Type = DiffTypeDeleted
		f.Name = a.name
	}
	// A value that was secret on either side is masked on both: a template
	// that stops being env=true still rendered secrets before.
	if a.secret || b.secret {
		f.Sensitive = true
		if f.Old != "" {
			f.Old = SensitiveValue
		}
		if f.New != "" {
			f.New = SensitiveValue
		}
	}
	if annotate && (a.force == destructive || b.force == destructive) {
		f.Annotations = []string{AnnotationForcesDestructiveUpdate}
	}
	return f
}

// diffNode compares two versions of a block, either of which may be nil.
// It returns nil when they are equal.
func diffNode(path string, a, b *node, annotate bool) *ObjectDiff {
	if a == nil && b == nil {
		return nil
	}
	o := &ObjectDiff{Type: DiffTypeEdited}
	var aAttrs, bAttrs []attr
	var aKids, bKids []*node
	ref := b
	switch {
	case a == nil:
		o.Type = DiffTypeAdded
	case b == nil:
		o.Type = DiffTypeDeleted
		ref = a
	}
	if a != nil {
		aAttrs, aKids = a.attrs, a.kids
	}
	if b != nil {
		bAttrs, bKids = b.attrs, b.kids
	}
	o.Name, o.Key, o.Path = ref.name, ref.key, joinPath(path, ref.seg)
	inner := annotate && o.Type == DiffTypeEdited
	o.Fields = diffAttrs(o.Path, aAttrs, bAttrs, inner)
	o.Objects = diffNodes(o.Path, aKids, bKids, inner)
	if o.Type == DiffTypeEdited && len(o.Fields) == 0 && len(o.Objects) == 0 {
		return nil
	}
	if annotate && o.Type != DiffTypeEdited && ref.forcesReplace() {
		o.Annotations = []string{AnnotationForcesDestructiveUpdate}
	}
	return o
}

// forcesReplace reports whether adding or removing the whole block forces
// a destructive update: it is destructive itself, or holds a set
// destructive value (restart.render_templates = true).
func (n *node) forcesReplace() bool {
	if n.force == destructive {
		return true
	}
	for _, a := range n.attrs {
		if a.force == destructive && a.value != "" && a.value != "false" && a.value != "0" {
			return true
		}
	}
	for _, k := range n.kids {
		if k.forcesReplace() {
			return true
		}
	}
	return false
}

// diffNodes matches two lists of blocks by name and key and diffs each
// pair, so that reordering a list is not a change and an edited element is
// one edited block rather than a removal and an addition.
func diffNodes(path string, a, b []*node, annotate bool) []*ObjectDiff {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	type id struct{ name, key string }
	idx := make(map[id]int, len(b))
	for i, n := range b {
		idx[id{n.name, n.key}] = i
	}
	seen := make([]bool, len(b))
	var out []*ObjectDiff
	for _, n := range a {
		var m *node
		if i, ok := idx[id{n.name, n.key}]; ok {
			seen[i] = true
			m = b[i]
		}
		if o := diffNode(path, n, m, annotate); o != nil {
			out = append(out, o)
		}
	}
	for i, m := range b {
		if !seen[i] {
			if o := diffNode(path, nil, m, annotate); o != nil {
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// uniqueKeys makes the keys of a list of same-named blocks unique, so that
// two identical constraints stay two elements instead of one.
func uniqueKeys(nodes []*node) []*node {
	seen := make(map[string]int, len(nodes))
	for _, n := range nodes {
		k := n.name + "\x00" + n.key
		seen[k]++
		if c := seen[k]; c > 1 {
			n.key += " #" + strconv.Itoa(c)
			n.seg = listSeg(segBase(n.seg), n.key)
		}
	}
	return nodes
}

// listSeg names one element of a list block: `service[api]`.
func listSeg(base, key string) string {
	return base + "[" + key + "]"
}

func segBase(seg string) string {
	for i := 0; i < len(seg); i++ {
		if seg[i] == '[' {
			return seg[:i]
		}
	}
	return seg
}
