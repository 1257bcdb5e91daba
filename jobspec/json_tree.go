package jobspec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// jsonParser reads API JSON into the positioned tree in one pass. It
// replaced hcl's JSON parser here, which allocated a token per byte run
// and made *.job.json repositories load slower than HCL ones; HCL's JSON
// syntax (hcljson.go) still uses hcl's, which its bodies need.
type jsonParser struct {
	src      []byte
	filename string
	i        int
	// Line and column of byte offset mark, advanced as the parse goes so
	// that positions cost O(n) over the file even on one long line.
	line, col, mark int
	depth           int
	err             *hcl.Diagnostic
}

func jsonTree(filename string, src []byte) (*apiNode, hcl.Diagnostics) {
	p := &jsonParser{src: src, filename: filename, line: 1, col: 1}
	p.ws()
	n := p.value()
	if p.err == nil {
		p.ws()
		if p.i < len(p.src) {
			p.fail("Extraneous data after value", "The file holds more than one JSON value; remove what follows the first one.")
		}
	}
	if p.err != nil {
		return nil, hcl.Diagnostics{p.err}
	}
	return n, nil
}

func (p *jsonParser) pos() hcl.Pos {
	for p.mark < p.i && p.mark < len(p.src) {
		c := p.src[p.mark]
		if c == '\n' {
			p.line, p.col = p.line+1, 1
			p.mark++
			continue
		}
		if c < utf8.RuneSelf {
			p.mark++
		} else {
			_, size := utf8.DecodeRune(p.src[p.mark:])
			p.mark += size
		}
		p.col++
	}
	return hcl.Pos{Line: p.line, Column: p.col, Byte: p.i}
}

func (p *jsonParser) rangeFrom(start hcl.Pos) hcl.Range {
	return hcl.Range{Filename: p.filename, Start: start, End: p.pos()}
}

func (p *jsonParser) fail(summary, detail string) {
	if p.err != nil {
		return
	}
	at := p.pos()
	end := at
	if p.i < len(p.src) {
		end.Column++
		end.Byte++
	}
	p.err = apiDiag(hcl.Range{Filename: p.filename, Start: at, End: end}, summary, detail)
}

func (p *jsonParser) ws() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() *apiNode {
	if p.i >= len(p.src) {
		p.fail("Invalid JSON", "The file ends where a value was expected.")
		return nil
	}
	start := p.pos()
	switch c := p.src[p.i]; {
	case c == '{':
		return p.object(start)
	case c == '[':
		return p.array(start)
	case c == '"':
		s, ok := p.str()
		if !ok {
			return nil
		}
		return &apiNode{kind: 's', str: s, rng: p.rangeFrom(start)}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(p.src)-p.i >= len(lit) && string(p.src[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				n := &apiNode{kind: 'z', rng: p.rangeFrom(start)}
				if lit != "null" {
					n.kind, n.b = 'b', lit == "true"
				}
				return n
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		j := p.i
		for j < len(p.src) && (p.src[j] >= '0' && p.src[j] <= '9' || p.src[j] == '-' || p.src[j] == '+' || p.src[j] == '.' || p.src[j] == 'e' || p.src[j] == 'E') {
			j++
		}
		raw := p.src[p.i:j]
		if !json.Valid(raw) {
			p.fail("Invalid number", fmt.Sprintf("%s is not a JSON number.", raw))
			return nil
		}
		if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
			// Out of a float64's range: the model could not encode it.
			p.fail("Invalid number", fmt.Sprintf("%s is out of range.", raw))
			return nil
		}
		p.i = j
		return &apiNode{kind: 'n', str: string(raw), rng: p.rangeFrom(start)}
	}
	p.fail("Invalid JSON", "Expected a value: an object, an array, a string, a number, true, false or null.")
	return nil
}

func (p *jsonParser) str() (string, bool) {
	start := p.i
	escaped := false
	for j := p.i + 1; j < len(p.src); j++ {
		c := p.src[j]
		switch {
		case c == '\\':
			escaped = true
			j++ // skip the escaped byte
		case c == '"':
			raw := p.src[start : j+1]
			p.i = j + 1
			if !escaped {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				p.i = start
				p.fail("Invalid string", err.Error())
				return "", false
			}
			return s, true
		case c < 0x20:
			p.i = j
			p.fail("Invalid string", "A JSON string cannot hold a line break or control character; write it escaped (\\n).")
			return "", false
		}
	}
	p.fail("Invalid string", "The string is not closed.")
	return "", false
}

func (p *jsonParser) enter() bool {
	p.depth++
	if p.depth > MaxNesting {
		p.fail("Nesting too deep", fmt.Sprintf("Objects and arrays nest more than %d levels deep here.", MaxNesting))
		return false
	}
	return true
}

func (p *jsonParser) object(start hcl.Pos) *apiNode {
	if !p.enter() {
		return nil
	}
	defer func() { p.depth-- }()
	n := &apiNode{kind: 'o'}
	p.i++ // {
	p.ws()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		n.rng = p.rangeFrom(start)
		return n
	}
	var seen map[string]hcl.Range
	for {
		p.ws()
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			p.fail("Invalid object key", `Expected a key in double quotes, as in {"ID": "web"}.`)
			return nil
		}
		kstart := p.pos()
		name, ok := p.str()
		if !ok {
			return nil
		}
		krng := p.rangeFrom(kstart)
		if first, dup := seen[name]; dup {
			p.err = apiDiag(krng, "Duplicate key", fmt.Sprintf("%q is already set at %s; JSON keys must be unique.", name, first))
			return nil
		}
		if seen == nil {
			seen = map[string]hcl.Range{}
		}
		seen[name] = krng
		p.ws()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			p.fail("Missing colon", "Expected a colon after the key.")
			return nil
		}
		p.i++
		p.ws()
		v := p.value()
		if v == nil {
			return nil
		}
		n.keys = append(n.keys, apiKey{name: name, rng: krng, val: v})
		p.ws()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == '}' {
			p.i++
			n.rng = p.rangeFrom(start)
			return n
		}
		p.fail("Invalid object", "Expected a comma or a closing brace.")
		return nil
	}
}

func (p *jsonParser) array(start hcl.Pos) *apiNode {
	if !p.enter() {
		return nil
	}
	defer func() { p.depth-- }()
	n := &apiNode{kind: 'a'}
	p.i++ // [
	p.ws()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		n.rng = p.rangeFrom(start)
		return n
	}
	for {
		p.ws()
		v := p.value()
		if v == nil {
			return nil
		}
		n.items = append(n.items, v)
		p.ws()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.i++
			n.rng = p.rangeFrom(start)
			return n
		}
		p.fail("Invalid array", "Expected a comma or a closing bracket.")
		return nil
	}
}
