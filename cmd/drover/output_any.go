package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"
)

// Every command with -json also takes -o json|yaml (issue 18). Commands
// that print their documents through their own -o flag (job inspect, the
// status commands) keep it; for the others parseFlags adds -o, which sets
// -json, and a command run with -o yaml writes into a yamlOut that turns
// each JSON document it printed into YAML once the command returns. The
// YAML keys are the JSON keys, so scripts can switch formats freely.

// jsonFormatFlag is the -o parseFlags adds to a flag set with -json.
type jsonFormatFlag struct {
	fs    *flag.FlagSet
	value string
}

func (f *jsonFormatFlag) String() string { return f.value }

func (f *jsonFormatFlag) Set(s string) error {
	if s != "json" && s != "yaml" {
		return fmt.Errorf("%q is not an output format; use json or yaml", s)
	}
	f.value = s
	return f.fs.Set("json", "true")
}

// addOutputFlag gives a flag set that has -json and no -o the -o flag.
func addOutputFlag(fs *flag.FlagSet) {
	if fs.Lookup("json") == nil || fs.Lookup("o") != nil {
		return
	}
	fs.Var(&jsonFormatFlag{fs: fs}, "o", "Output format: json (the same as -json) or yaml.")
}

// wantsYAML reports whether args ask for -o yaml before any "--": run
// decides from it whether to convert the command's output.
func wantsYAML(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "o" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		if value == "yaml" {
			return true
		}
	}
	return false
}

// yamlOut collects a command's output and writes it as YAML at Close:
// every JSON document becomes one YAML document ("---" between them).
// Output that is not JSON (a command that printed YAML itself, or text)
// is written unchanged.
type yamlOut struct {
	w   io.Writer
	buf bytes.Buffer
}

func (y *yamlOut) Write(p []byte) (int, error) { return y.buf.Write(p) }

func (y *yamlOut) Close() error {
	raw := y.buf.Bytes()
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	docs, err := jsonDocuments(raw)
	if err != nil {
		_, err := y.w.Write(raw)
		return err
	}
	var out bytes.Buffer
	for i, d := range docs {
		b, err := sigsyaml.JSONToYAML(d)
		if err != nil {
			_, err := y.w.Write(raw)
			return err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	_, err = y.w.Write(out.Bytes())
	return err
}

// jsonDocuments splits raw into its JSON documents, or fails if raw is
// anything else.
func jsonDocuments(raw []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var docs []json.RawMessage
	for {
		var d json.RawMessage
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
}
