package drivers

import (
	"fmt"
	"testing"
)

var blockSchema = Schema{
	{Name: "mount", Type: TypeBlock, Block: Schema{
		{Name: "target", Type: TypeString, Required: true},
		{Name: "readonly", Type: TypeBool},
	}},
	{Name: "auth", Type: TypeBlock, MaxBlocks: 1, Block: Schema{{Name: "username", Type: TypeString}}},
	{Name: "labels", Type: TypeMapString, BlockForm: true},
	{Name: "port_map", Type: TypeMapNumber, BlockForm: true},
}

func TestSchemaBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want []string
	}{
		{"valid as jobspec decodes", map[string]any{
			"mount":    []any{map[string]any{"target": "/a"}, map[string]any{"target": "/b", "readonly": true}},
			"auth":     []any{map[string]any{"username": "u"}},
			"labels":   []any{map[string]any{"a": "b"}},
			"port_map": []any{map[string]any{"http": 80.0}},
		}, nil},
		{"maps as attributes", map[string]any{"labels": map[string]any{"a": "b"}, "port_map": map[string]any{"http": 80.0}}, nil},
		{"nested problems have paths", map[string]any{"mount": []any{map[string]any{"readonly": "yes", "targte": "/x"}}}, []string{
			"mount[0].readonly: must be bool, not a string",
			"mount[0].target: required attribute (string) is missing",
			`mount[0].targte: unknown attribute; did you mean "target"?`,
		}},
		{"too many blocks", map[string]any{"auth": []any{map[string]any{}, map[string]any{}}}, []string{"auth: at most 1 auth block(s) allowed, found 2"}},
		{"not a block", map[string]any{"mount": "x"}, []string{"mount: must be a block, not a string"}},
		{"block element not an object", map[string]any{"mount": []any{"x"}}, []string{"mount[0]: must be a block, not a string"}},
		{"map(number) values", map[string]any{"port_map": map[string]any{"http": "80"}}, []string{"port_map.http: must be number, not a string"}},
		{"map block form values", map[string]any{"labels": []any{map[string]any{"a": 1.0}}}, []string{"labels[0].a: must be string, not a number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range blockSchema.Validate(tc.cfg) {
				got = append(got, e.Error())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Validate =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestBlockHelpers(t *testing.T) {
	cfg := map[string]any{
		"labels":   []any{map[string]any{"a": "1"}, map[string]any{"b": "2"}},
		"plain":    map[string]any{"c": "3"},
		"port_map": []any{map[string]any{"http": 80.0}},
		"mount":    []any{map[string]any{"target": "/a"}},
		"n":        8080,
	}
	if got := fmt.Sprint(StringMap(cfg, "labels")); got != "map[a:1 b:2]" {
		t.Errorf("StringMap(block form) = %s", got)
	}
	if got := fmt.Sprint(StringMap(cfg, "plain")); got != "map[c:3]" {
		t.Errorf("StringMap(map) = %s", got)
	}
	if got := fmt.Sprint(NumberMap(cfg, "port_map")); got != "map[http:80]" {
		t.Errorf("NumberMap = %s", got)
	}
	if got := Blocks(cfg, "mount"); len(got) != 1 || got[0]["target"] != "/a" {
		t.Errorf("Blocks = %v", got)
	}
	if n, ok := Number(cfg, "n"); !ok || n != 8080 {
		t.Errorf("Number = %v, %v", n, ok)
	}
	if StringMap(cfg, "missing") != nil || Blocks(cfg, "missing") != nil || Bool(cfg, "missing") {
		t.Error("absent attributes must be zero")
	}
}
