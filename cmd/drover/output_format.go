package main

import (
	"bytes"
	"fmt"
	"io"

	sigsyaml "sigs.k8s.io/yaml"
)

// outputFormat is the -o flag: json or yaml for the commands that have
// -json (which stays, as -o json), and hcl too for job inspect.
type outputFormat struct {
	value   string
	allowed []string
}

func (o *outputFormat) String() string { return o.value }

func (o *outputFormat) Set(s string) error {
	allowed := o.allowed
	if allowed == nil {
		allowed = []string{"json", "yaml"}
	}
	for _, a := range allowed {
		if s == a {
			o.value = s
			return nil
		}
	}
	return fmt.Errorf("%q is not an output format; use one of %v", s, allowed)
}

// writeYAML prints v as YAML: its JSON form, re-spelled by
// sigs.k8s.io/yaml, so that the keys are the -json keys.
func writeYAML(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return err
	}
	y, err := sigsyaml.JSONToYAML(buf.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(y)
	return err
}

// writeAs prints v in format ("json" or "yaml").
func writeAs(w io.Writer, format string, v any) error {
	if format == "yaml" {
		return writeYAML(w, v)
	}
	return writeJSON(w, v)
}
