package drivers

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

var testSchema = Schema{
	{Name: "command", Type: TypeString, Required: true},
	{Name: "args", Type: TypeListString},
	{Name: "labels", Type: TypeMapString},
	{Name: "privileged", Type: TypeBool},
	{Name: "shm_size", Type: TypeNumber},
}

func TestSchemaValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want []string
	}{
		{"valid JSON values", map[string]any{
			"command": "/bin/app", "args": []any{"-v", "x"}, "labels": map[string]any{"a": "b"},
			"privileged": true, "shm_size": 64.0,
		}, nil},
		{"valid Go values", map[string]any{
			"command": "/bin/app", "args": []string{"-v"}, "labels": map[string]string{"a": "b"},
			"shm_size": 64, "privileged": false,
		}, nil},
		{"json.Number", map[string]any{"command": "x", "shm_size": json.Number("1.5")}, nil},
		{"missing required", map[string]any{"args": []any{}}, []string{"command: required attribute (string) is missing"}},
		{"nil config", nil, []string{"command: required attribute (string) is missing"}},
		{"typo suggests", map[string]any{"command": "x", "arg": []any{"a"}}, []string{`arg: unknown attribute; did you mean "args"?`}},
		{"typo in case", map[string]any{"Command": "x"}, []string{
			`Command: unknown attribute; did you mean "command"?`, "command: required attribute (string) is missing"}},
		{"no suggestion when far", map[string]any{"command": "x", "entrypoint": "y"}, []string{"entrypoint: unknown attribute"}},
		{"wrong scalar types", map[string]any{"command": 3.0, "privileged": "yes", "shm_size": "64"}, []string{
			"command: must be string, not a number", "privileged: must be bool, not a string", "shm_size: must be number, not a string"}},
		{"list expected", map[string]any{"command": "x", "args": "-v"}, []string{"args: must be list(string), not a string"}},
		{"list elements", map[string]any{"command": "x", "args": []any{"ok", 1.0, true}}, []string{
			"args[1]: must be string, not a number", "args[2]: must be string, not a bool"}},
		{"map expected", map[string]any{"command": "x", "labels": []any{map[string]any{}}}, []string{"labels: must be map(string), not a list"}},
		{"map values", map[string]any{"command": "x", "labels": map[string]any{"n": 1.0}}, []string{"labels.n: must be string, not a number"}},
		{"null", map[string]any{"command": nil}, []string{"command: must be string, not null"}},
		{"NaN is no number", map[string]any{"command": "x", "shm_size": math.NaN()}, []string{"shm_size: must be number, not float64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := testSchema.Validate(tc.cfg)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Validate =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestSchemaRejectsUndeclaredType(t *testing.T) {
	s := Schema{{Name: "x", Type: "list(number)"}}
	if errs := s.Validate(map[string]any{"x": []any{1.0}}); len(errs) != 1 {
		t.Errorf("Validate = %v, want the bad declaration reported", errs)
	}
}

func TestDecodeHelpers(t *testing.T) {
	cfg := map[string]any{"s": "v", "l": []any{"a", "b"}, "gl": []string{"c"}}
	if got := String(cfg, "s"); got != "v" {
		t.Errorf("String = %q", got)
	}
	if got := String(cfg, "missing"); got != "" {
		t.Errorf("String(missing) = %q", got)
	}
	if got := StringList(cfg, "l"); fmt.Sprint(got) != "[a b]" {
		t.Errorf("StringList = %q", got)
	}
	if got := StringList(cfg, "gl"); fmt.Sprint(got) != "[c]" {
		t.Errorf("StringList([]string) = %q", got)
	}
	if got := StringList(cfg, "missing"); got != nil {
		t.Errorf("StringList(missing) = %q", got)
	}
}

func TestExitResultSuccessful(t *testing.T) {
	for _, tc := range []struct {
		r    ExitResult
		want bool
	}{
		{ExitResult{}, true},
		{ExitResult{ExitCode: 1}, false},
		{ExitResult{Signal: 9, ExitCode: 137}, false},
		{ExitResult{OOMKilled: true}, false},
		{ExitResult{Err: ErrExitUnknown}, false},
	} {
		if got := tc.r.Successful(); got != tc.want {
			t.Errorf("%+v.Successful() = %v", tc.r, got)
		}
	}
}

func FuzzSchemaValidate(f *testing.F) {
	f.Add(`{"command":"x","args":["a"]}`)
	f.Add(`{"comand":1,"labels":{"a":[1]}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var cfg map[string]any
		if json.Unmarshal([]byte(doc), &cfg) != nil {
			return
		}
		errs := testSchema.Validate(cfg)
		if _, ok := cfg["command"].(string); !ok && len(errs) == 0 {
			t.Fatalf("config without a string command validated: %s", doc)
		}
	})
}
