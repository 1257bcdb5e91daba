package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

func TestWantsYAML(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-o", "yaml"}, true},
		{[]string{"-o=yaml", "web"}, true},
		{[]string{"--o", "yaml"}, true},
		{[]string{"web", "-o", "yaml"}, true},
		{[]string{"-o", "json"}, false},
		{[]string{"-json"}, false},
		{[]string{"--", "-o", "yaml"}, false}, // after --, a command's own arguments
		{[]string{"yaml"}, false},
		{[]string{"-out", "yaml"}, false},
	} {
		if got := wantsYAML(tc.args); got != tc.want {
			t.Errorf("wantsYAML(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestOutputFlagOnEveryJSONCommand: a command that has only -json (here
// `drover version`) takes -o json and -o yaml, and the YAML is the JSON
// document's; a wrong format is refused with a hint.
func TestOutputFlagOnEveryJSONCommand(t *testing.T) {
	runIt := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(t.Context(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		return out.String(), errb.String(), code
	}
	js, _, code := runIt("version", "-json")
	if code != exitOK {
		t.Fatalf("version -json: %d", code)
	}
	oj, _, code := runIt("version", "-o", "json")
	if code != exitOK || oj != js {
		t.Fatalf("-o json differs from -json:\n%s\n%s", oj, js)
	}
	y, _, code := runIt("version", "-o", "yaml")
	if code != exitOK || strings.HasPrefix(strings.TrimSpace(y), "{") {
		t.Fatalf("-o yaml: %d\n%s", code, y)
	}
	back, err := sigsyaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if json.Unmarshal([]byte(js), &a) != nil || json.Unmarshal(back, &b) != nil || len(a) == 0 || !jsonEqual(a, b) {
		t.Fatalf("YAML does not hold the JSON document:\n%s\n%s", y, js)
	}
	if _, errOut, code := runIt("version", "-o", "xml"); code != exitError || !strings.Contains(errOut, "use json or yaml") {
		t.Fatalf("-o xml: %d %s", code, errOut)
	}
}

func TestYAMLOutSeveralDocumentsAndText(t *testing.T) {
	var w bytes.Buffer
	y := &yamlOut{w: &w}
	y.Write([]byte("{\"a\": 1}\n{\"b\": [2]}\n"))
	if err := y.Close(); err != nil || w.String() != "a: 1\n---\nb:\n- 2\n" {
		t.Fatalf("%q %v", w.String(), err)
	}
	w.Reset()
	y = &yamlOut{w: &w}
	y.Write([]byte("kind: already yaml\n"))
	if err := y.Close(); err != nil || w.String() != "kind: already yaml\n" {
		t.Fatalf("text changed: %q %v", w.String(), err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
