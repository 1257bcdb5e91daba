package jobspec

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// MarshalHCL renders j as a job file (drover job inspect -o hcl). Every
// setting is written out, defaults included, so that the file parses to
// the same job whatever defaults a later version picks. The walk follows
// the model by reflection: hclBlockNames and hclAttrNames are where
// Drover's HCL names differ from the model's JSON names.
func MarshalHCL(j *Job) ([]byte, error) {
	f := hclwrite.NewEmptyFile()
	blk := f.Body().AppendNewBlock("job", []string{j.ID})
	if err := hclStruct(blk.Body(), reflect.ValueOf(j).Elem()); err != nil {
		return nil, err
	}
	return hclwrite.Format(f.Bytes()), nil
}

// hclBlockNames: list (or map) fields written as one block per element.
var hclBlockNames = map[string]string{
	"groups": "group", "tasks": "task", "constraints": "constraint", "affinities": "affinity",
	"spreads": "spread", "targets": "target", "networks": "network", "ports": "port",
	"services": "service", "checks": "check", "templates": "template", "identities": "identity",
	"actions": "action", "volume_mounts": "volume_mount", "volumes": "volume", "links": "link",
}

var hclAttrNames = map[string]string{
	"Resources.memory_mb": "memory", "Resources.memory_max_mb": "memory_max",
	"EphemeralDisk.size_mb": "size", "Logs.max_file_size_mb": "max_file_size",
}

// hclLabels: the field that is a block's label, by model type.
var hclLabels = map[string]string{
	"Group": "name", "Task": "name", "Port": "label", "SpreadTarget": "value",
	"WorkloadIdentity": "name", "Action": "name", "VolumeRequest": "name",
}

// hclSkip: fields with no HCL spelling (set by other means).
var hclSkip = map[string]bool{"Job.id": true, "Job.payload": true}

func hclStruct(body *hclwrite.Body, v reflect.Value) error {
	t := v.Type()
	for _, f := range apiFields(t) {
		key := t.Name() + "." + f.json
		fv := v.Field(f.index)
		if hclSkip[key] || hclLabels[t.Name()] == f.json || (f.omitEmpty && fv.IsZero()) {
			continue
		}
		if key == "Job.name" && fv.String() == v.FieldByName("ID").String() {
			continue
		}
		name := f.json
		if n, ok := hclAttrNames[key]; ok {
			name = n
		}
		if err := hclField(body, name, fv); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func hclField(body *hclwrite.Body, name string, v reflect.Value) error {
	ft := v.Type()
	if ft.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		if ft.Elem().Kind() != reflect.Struct {
			return hclField(body, name, v.Elem())
		}
		v, ft = v.Elem(), ft.Elem()
	}
	switch {
	case ft == durationType:
		body.SetAttributeValue(name, cty.StringVal(time.Duration(v.Int()).String()))
	case ft.Kind() == reflect.Struct:
		return hclStruct(body.AppendNewBlock(name, nil).Body(), v)
	case ft.Kind() == reflect.Slice && elemStruct(ft.Elem()):
		typ := hclBlockNames[name]
		if typ == "" {
			typ = name
		}
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			if e.Kind() == reflect.Pointer {
				e = e.Elem()
			}
			if err := hclStruct(body.AppendNewBlock(typ, labelsOf(e)).Body(), e); err != nil {
				return err
			}
		}
	case ft.Kind() == reflect.Map && elemStruct(ft.Elem()):
		typ := hclBlockNames[name]
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			e := v.MapIndex(k)
			if e.Kind() == reflect.Pointer {
				e = e.Elem()
			}
			if err := hclStruct(body.AppendNewBlock(typ, []string{k.String()}).Body(), e); err != nil {
				return err
			}
		}
	case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Interface:
		// config, scaling policy: a block of the driver's own arguments.
		b := body.AppendNewBlock(name, nil).Body()
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			if !hclsyntax.ValidIdentifier(k.String()) {
				return fmt.Errorf("%s key %q is not an HCL name; keep this job in JSON or YAML", name, k.String())
			}
			cv, err := ctyOf(v.MapIndex(k).Interface())
			if err != nil {
				return fmt.Errorf("%s.%s: %w", name, k.String(), err)
			}
			b.SetAttributeValue(k.String(), cv)
		}
	default:
		cv, err := ctyOf(v.Interface())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		body.SetAttributeValue(name, cv)
	}
	return nil
}

func elemStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

func labelsOf(v reflect.Value) []string {
	field, ok := hclLabels[v.Type().Name()]
	if !ok {
		return nil
	}
	for _, f := range apiFields(v.Type()) {
		if f.json == field {
			return []string{fmt.Sprint(v.Field(f.index).Interface())}
		}
	}
	return nil
}

// ctyOf converts a plain Go value (the model's scalars, slices and maps,
// or a driver config's JSON-shaped values) to cty. A literal "${" or "%{"
// is escaped by hclwrite, so text the parser kept as written round-trips.
func ctyOf(x any) (cty.Value, error) {
	switch x := x.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case int:
		return cty.NumberIntVal(int64(x)), nil
	case int64:
		return cty.NumberIntVal(x), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return cty.NilVal, fmt.Errorf("number %v has no HCL form", x)
		}
		return cty.NumberFloatVal(x), nil
	}
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return cty.ListValEmpty(cty.DynamicPseudoType), nil
		}
		vals := make([]cty.Value, v.Len())
		for i := range vals {
			e, err := ctyOf(v.Index(i).Interface())
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = e
		}
		return cty.TupleVal(vals), nil
	case reflect.Map:
		vals := map[string]cty.Value{}
		for it := v.MapRange(); it.Next(); {
			e, err := ctyOf(it.Value().Interface())
			if err != nil {
				return cty.NilVal, err
			}
			vals[it.Key().String()] = e
		}
		return cty.ObjectVal(vals), nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return cty.NumberIntVal(v.Int()), nil
	case reflect.String:
		return cty.StringVal(v.String()), nil
	}
	return cty.NilVal, fmt.Errorf("%T has no HCL form", x)
}
