package jobspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// The YAML rendering of an API job is read as yaml.v3 nodes, which keep
// line and column, and turned into the same positioned tree as JSON.
// sigs.k8s.io/yaml (JSON through YAML, as Kubernetes does) writes it, so a
// YAML file is exactly its JSON form re-spelled.

// maxYAMLNodes bounds the tree a YAML file may expand to through aliases:
// a "billion laughs" file is a few hundred bytes of anchors.
const maxYAMLNodes = 200_000

// MarshalAPIYAML renders j as the YAML form of its API JSON.
func MarshalAPIYAML(j *Job) ([]byte, error) {
	js, err := MarshalAPIJSON(j)
	if err != nil {
		return nil, err
	}
	return sigsyaml.JSONToYAML(js)
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlTree(filename string, src []byte) (*apiNode, hcl.Diagnostics) {
	lines := lineStarts(src)
	at := func(line, col int) hcl.Pos {
		if line < 1 || line > len(lines) {
			return hcl.Pos{Line: max(line, 1), Column: max(col, 1)}
		}
		return hcl.Pos{Line: line, Column: col, Byte: min(lines[line-1]+col-1, len(src))}
	}
	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if i := bytes.IndexByte(src, '\t'); i >= 0 && leadingTab(src, i) {
		p := posAt(src, i)
		return nil, hcl.Diagnostics{apiDiag(hcl.Range{Filename: filename, Start: p, End: p},
			"Tab in indentation", "YAML indents with spaces only; replace the tab with spaces.")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		msg := err.Error()
		rng := start
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			p := at(l, 1)
			rng = hcl.Range{Filename: filename, Start: p, End: p}
			msg = m[2]
		}
		if err.Error() == "EOF" {
			msg = `the file is empty; an API job file holds {"Job": {...}}`
		}
		return nil, hcl.Diagnostics{apiDiag(rng, "Invalid YAML", msg+".")}
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		p := at(more.Line, more.Column)
		return nil, hcl.Diagnostics{apiDiag(hcl.Range{Filename: filename, Start: p, End: p}, "More than one YAML document", "A job file holds one document; remove the text after the first \"---\".")}
	}
	c := &yamlConv{filename: filename, at: at}
	root := c.node(&doc, 0)
	return root, c.diags
}

// leadingTab says whether the tab at i is indentation (YAML forbids it
// there; yaml.v3's message for it does not say so).
func leadingTab(src []byte, i int) bool {
	ls := bytes.LastIndexByte(src[:i], '\n') + 1
	return len(bytes.TrimLeft(src[ls:i], " ")) == 0
}

func lineStarts(src []byte) []int {
	out := []int{0}
	for i, b := range src {
		if b == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

type yamlConv struct {
	filename string
	at       func(line, col int) hcl.Pos
	nodes    int
	diags    hcl.Diagnostics
	tripped  bool
}

func (c *yamlConv) rng(n *yaml.Node) hcl.Range {
	p := c.at(n.Line, n.Column)
	end := p
	if n.Kind == yaml.ScalarNode && !strings.Contains(n.Value, "\n") {
		end.Column += len(n.Value)
		end.Byte += len(n.Value)
	}
	return hcl.Range{Filename: c.filename, Start: p, End: end}
}

func (c *yamlConv) node(n *yaml.Node, depth int) *apiNode {
	out := &apiNode{kind: 'z', rng: c.rng(n)}
	c.nodes++
	if c.nodes > maxYAMLNodes || depth > MaxNesting {
		if !c.tripped {
			c.tripped = true
			c.diags = append(c.diags, apiDiag(out.rng, "YAML too large", fmt.Sprintf("The document expands (through anchors and aliases, or nesting) to more than %d values or %d levels; write it out or split it.", maxYAMLNodes, MaxNesting)))
		}
		return out
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return out
		}
		return c.node(n.Content[0], depth+1)
	case yaml.AliasNode:
		r := c.node(n.Alias, depth+1)
		r.rng = out.rng
		return r
	case yaml.SequenceNode:
		out.kind = 'a'
		for _, it := range n.Content {
			out.items = append(out.items, c.node(it, depth+1))
		}
	case yaml.MappingNode:
		out.kind = 'o'
		seen := map[string]hcl.Range{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				c.diags = append(c.diags, apiDiag(c.rng(k), "Unsupported merge key", "Write the keys out instead of merging with <<."))
				continue
			}
			if k.Kind != yaml.ScalarNode {
				c.diags = append(c.diags, apiDiag(c.rng(k), "Invalid key", "Keys must be plain strings."))
				continue
			}
			kr := c.rng(k)
			if first, dup := seen[k.Value]; dup {
				c.diags = append(c.diags, apiDiag(kr, "Duplicate key", fmt.Sprintf("%q is already set at %s; keys must be unique.", k.Value, first)))
				continue
			}
			seen[k.Value] = kr
			out.keys = append(out.keys, apiKey{name: k.Value, rng: kr, val: c.node(v, depth+1)})
		}
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			out.kind = 'z'
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				c.diags = append(c.diags, apiDiag(out.rng, "Invalid boolean", err.Error()))
			}
			out.kind, out.b = 'b', b
		case "!!int", "!!float":
			// Decoded by yaml itself, so 0o17, 0x1F and 1_000 mean what
			// YAML says; kept as decimal text like a JSON number.
			out.kind = 'n'
			var i int64
			if n.ShortTag() == "!!int" && n.Decode(&i) == nil {
				out.str = strconv.FormatInt(i, 10)
				break
			}
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				c.diags = append(c.diags, apiDiag(out.rng, "Invalid number", fmt.Sprintf("%s is not a number a job can hold.", n.Value)))
				out.kind = 'z'
				break
			}
			out.str = strconv.FormatFloat(f, 'g', -1, 64)
		default:
			out.kind, out.str = 's', n.Value
		}
	}
	return out
}

// YAMLToJSON reads a YAML document (with the limits and checks of the API
// job loader: no tab indentation, no duplicate keys, bounded aliases) and
// writes it as JSON, for readers that take JSON through hcl (drover.yaml).
// remap moves diagnostics positioned in the JSON back to the YAML source.
func YAMLToJSON(filename string, src []byte) (js []byte, remap func(hcl.Diagnostics), diags hcl.Diagnostics) {
	if diags := checkInput(filename, src); diags.HasErrors() {
		return nil, nil, diags
	}
	root, diags := yamlTree(filename, src)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	w := &jsonWriter{}
	w.node(root)
	remap = func(ds hcl.Diagnostics) {
		fix := func(r *hcl.Range) {
			if r == nil || r.Filename != filename {
				return
			}
			i := sort.Search(len(w.marks), func(i int) bool { return w.marks[i].off > r.Start.Byte }) - 1
			if i >= 0 {
				*r = w.marks[i].rng
			}
		}
		for _, d := range ds {
			fix(d.Subject)
			fix(d.Context)
		}
	}
	return w.buf.Bytes(), remap, nil
}

type jsonMark struct {
	off int
	rng hcl.Range
}

type jsonWriter struct {
	buf   bytes.Buffer
	marks []jsonMark
}

func (w *jsonWriter) mark(r hcl.Range) { w.marks = append(w.marks, jsonMark{w.buf.Len(), r}) }

func (w *jsonWriter) node(n *apiNode) {
	w.mark(n.rng)
	switch n.kind {
	case 'o':
		w.buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.mark(k.rng)
			kb, _ := json.Marshal(k.name)
			w.buf.Write(kb)
			w.buf.WriteByte(':')
			w.node(k.val)
		}
		w.buf.WriteByte('}')
	case 'a':
		w.buf.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.node(it)
		}
		w.buf.WriteByte(']')
	case 's':
		sb, _ := json.Marshal(n.str)
		w.buf.Write(sb)
	case 'n':
		w.buf.WriteString(n.str)
	case 'b':
		w.buf.WriteString(strconv.FormatBool(n.b))
	default:
		w.buf.WriteString("null")
	}
}
