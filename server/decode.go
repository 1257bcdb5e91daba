package server

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
)

// decodeStrict is decodeBody on bytes already read.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, "request body is empty; want JSON")
		}
		if key, ok := unknownFieldKey(err); ok {
			return errorf(http.StatusBadRequest, "%s", describeUnknownField(data, reflect.TypeOf(v), key))
		}
		return errorf(http.StatusBadRequest, "malformed JSON in request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "malformed JSON in request body: more than one value (trailing data after offset %d)", dec.InputOffset())
	}
	return nil
}

// unknownFieldKey recognises encoding/json's `json: unknown field "k"`.
// The error has no type of its own, so the text is the contract; a
// change in it falls back to the generic "malformed JSON" answer.
func unknownFieldKey(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	key, uerr := strconv.Unquote(rest)
	return key, uerr == nil
}

// describeUnknownField words the 400 for an unknown key: the key, its
// location when not at the top level, and the nearest known field name.
func describeUnknownField(data []byte, t reflect.Type, key string) string {
	path, known, found := locateUnknownField(data, t)
	if !found || path[len(path)-1] != key {
		// The walk disagrees with the decoder (it should not): name the
		// key, and suggest among every field name of the type tree.
		path, known = []string{key}, allFieldNames(t)
	}
	msg := fmt.Sprintf("unknown field %q", key)
	if sug := nearestName(key, known); sug != "" {
		msg += fmt.Sprintf("; did you mean %q?", sug)
	}
	if loc := formatPath(path[:len(path)-1]); loc != "" {
		msg += " (in " + loc + ")"
	}
	return msg
}

// formatPath joins path elements into job.groups[0].tasks[0]: index
// elements ("[0]") attach to what precedes them, map keys are quoted
// where they are not plain names.
func formatPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if strings.HasPrefix(p, "[") || b.Len() == 0 {
			b.WriteString(p)
			continue
		}
		b.WriteString(".")
		b.WriteString(p)
	}
	return b.String()
}

// nearestName returns the candidate closest to given within edit
// distance 2 (the threshold jobspec and hcl use for their suggestions),
// ties broken by name so the answer does not depend on field order.
func nearestName(given string, candidates []string) string {
	names := slices.Clone(candidates)
	slices.Sort(names)
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(strings.ToLower(given), strings.ToLower(n), nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// leafType reports whether t decodes itself (time.Time, ...): its JSON
// is not walked field by field.
func leafType(t reflect.Type) bool {
	return t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the JSON names of a struct's fields, following
// encoding/json's rules closely enough for suggestions: exported fields,
// the tag's name or the Go name, "-" skipped, untagged embedded structs
// promoted.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	return out
}

// fieldByKey finds the field a JSON key decodes into: an exact name
// first, then a case-insensitive one, as encoding/json does.
func fieldByKey(fields []jsonField, key string) (jsonField, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return jsonField{}, false
}

// allFieldNames is every JSON field name in t's type tree.
func allFieldNames(t reflect.Type) []string {
	seen := map[reflect.Type]bool{}
	names := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || leafType(t) {
			return
		}
		seen[t] = true
		for _, f := range jsonFields(t) {
			names[f.name] = true
			walk(f.typ)
		}
	}
	walk(t)
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	return out
}

// errStopWalk ends the walk at the first unknown key.
var errStopWalk = errors.New("unknown field found")

// locateUnknownField walks data alongside the type t and returns the
// path to the first object key that no field of t takes, with the JSON
// names of the struct that lacked it. It only runs on data the decoder
// has refused, so it never returns an error of its own: found is false
// when the walk could not find the key.
func locateUnknownField(data []byte, t reflect.Type) (path, known []string, found bool) {
	w := &fieldWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.value(t); errors.Is(err, errStopWalk) {
		return w.path, w.known, true
	}
	return nil, nil, false
}

type fieldWalker struct {
	dec   *json.Decoder
	path  []string
	known []string
}

// value consumes one JSON value that decodes into t.
func (w *fieldWalker) value(t reflect.Type) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	return w.valueFrom(tok, t)
}

func (w *fieldWalker) valueFrom(tok json.Token, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil // a scalar: nothing below it
	}
	walkable := t != nil && !leafType(t)
	switch {
	case delim == '{' && walkable && t.Kind() == reflect.Struct:
		fields := jsonFields(t)
		for w.dec.More() {
			key, err := w.key()
			if err != nil {
				return err
			}
			f, ok := fieldByKey(fields, key)
			if !ok {
				w.path = append(w.path, key)
				for _, f := range fields {
					w.known = append(w.known, f.name)
				}
				return errStopWalk
			}
			w.path = append(w.path, f.name)
			if err := w.value(f.typ); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	case delim == '{' && walkable && t.Kind() == reflect.Map:
		for w.dec.More() {
			key, err := w.key()
			if err != nil {
				return err
			}
			w.path = append(w.path, "["+strconv.Quote(key)+"]")
			if err := w.value(t.Elem()); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	case delim == '[' && walkable && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; w.dec.More(); i++ {
			w.path = append(w.path, "["+strconv.Itoa(i)+"]")
			if err := w.value(t.Elem()); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	case delim == '{':
		// any, a self-decoding type, or a shape mismatch: skip it whole.
		for w.dec.More() {
			if _, err := w.key(); err != nil {
				return err
			}
			if err := w.value(nil); err != nil {
				return err
			}
		}
	case delim == '[':
		for w.dec.More() {
			if err := w.value(nil); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected %v", delim)
	}
	_, err := w.dec.Token() // the closing delimiter
	return err
}

func (w *fieldWalker) key() (string, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("object key is %T", tok)
	}
	return key, nil
}
