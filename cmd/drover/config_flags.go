package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// The long-running commands (server, agent) take their settings from an
// HCL file and from flags. They must agree on how: the same flags for
// the file and the logs, and the same precedence (defaults, file,
// DROVER_TOKEN, flags given on the command line), so that an operator
// who knows one knows the other.

// declareDaemonFlags declares the flags server and agent share.
func declareDaemonFlags(fs *flag.FlagSet, configFile, logLevel *string, logJSON *bool) {
	fs.StringVar(configFile, "config", "", "read settings from this HCL `file`; flags override it")
	fs.StringVar(logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.BoolVar(logJSON, "log-json", false, "log JSON lines instead of text")
}

// parseDaemonFlags parses the flags of a command that takes no arguments
// and returns the names of those given: a flag left at its default must
// not override the configuration file.
func parseDaemonFlags(fs *flag.FlagSet, args []string, io stdio) (set map[string]bool, code int, done bool) {
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return nil, code, true
	}
	if len(pos) > 0 {
		fmt.Fprintf(io.err, "drover %s: unexpected argument %q\n", fs.Name(), pos[0])
		return nil, exitError, true
	}
	set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set, exitOK, false
}

// readConfigFile hands the file at path, if one was named, to parse.
func readConfigFile(path string, parse func(filename string, src []byte) error) error {
	if path == "" {
		return nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return parse(path, src)
}

// envToken is the API token from DROVER_TOKEN, which overrides the
// configuration file; empty when unset.
func envToken(io stdio) string {
	return strings.TrimSpace(io.getenv("DROVER_TOKEN"))
}

// override sets *dst to v if the flag name was given.
func override[T any](set map[string]bool, name string, dst *T, v T) {
	if set[name] {
		*dst = v
	}
}
