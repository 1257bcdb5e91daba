package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time by the Makefile
// (-ldflags "-X main.version=..."); it is never written at run time.
var version = "dev"

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

const versionHelp = `
Usage: drover version [-json]

Print the Drover version, the Git revision it was built from and the Go
toolchain.

Example:
  drover version -json
`

func runVersion(_ context.Context, args []string, io stdio) int {
	fs := newFlagSet("version", versionHelp, io)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, done := parseFlags(fs, args, io); done {
		return code
	}
	v := buildVersion()
	if *asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return exitError
		}
		return exitOK
	}
	rev := v.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if v.Modified {
		rev += "+dirty"
	}
	if rev != "" {
		rev = " (" + rev + ")"
	}
	fmt.Fprintf(io.out, "Drover %s%s, %s %s\n", v.Version, rev, v.Go, v.Platform)
	return exitOK
}
