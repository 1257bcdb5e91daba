package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestAllocLogsFlags: what -tail and -n ask the agent for, and a help
// page whose defaults agree with the text (-n's default is the 10 lines
// -tail prints).
func TestAllocLogsFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		tail  bool
		lines int
		code  int
	}{
		{[]string{"8f1c"}, false, 10, exitOK}, // the whole log: no lines= asked
		{[]string{"-tail", "8f1c"}, true, 10, exitOK},
		{[]string{"-n", "50", "8f1c"}, true, 50, exitOK},
		{[]string{"-tail", "-n", "3", "8f1c", "server"}, true, 3, exitOK},
		{[]string{"-f", "-n", "0", "8f1c"}, true, 0, exitOK}, // only new output
		{[]string{"8f1c", "-n", "5"}, true, 5, exitOK},       // flags after the ID
		{[]string{"-n", "-1", "8f1c"}, false, 0, exitError},
		{[]string{"-tail"}, false, 0, exitError},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c capture
			opts, code, done := parseAllocLogs(tc.args, c.stdio())
			if tc.code != exitOK {
				if !done || code != tc.code {
					t.Errorf("exit %d (done %v), want %d\nstderr: %s", code, done, tc.code, c.err.String())
				}
				return
			}
			if done || opts.tail != tc.tail || opts.lines != tc.lines || opts.alloc != "8f1c" {
				t.Errorf("done %v, tail %v, lines %d, alloc %q; want tail %v, lines %d, alloc 8f1c\nstderr: %s",
					done, opts.tail, opts.lines, opts.alloc, tc.tail, tc.lines, c.err.String())
			}
		})
	}

	var c capture
	if _, code, done := parseAllocLogs([]string{"-help"}, c.stdio()); !done || code != exitOK {
		t.Fatalf("-help: exit %d, done %v", code, done)
	}
	help := c.out.String()
	if strings.Contains(help, "(default -1)") || !regexp.MustCompile(`-n N\s+print the last N lines; implies -tail \(default 10\)`).MatchString(help) {
		t.Errorf("-n in the help does not say its default of 10:\n%s", help)
	}
	if !regexp.MustCompile(`-tail\s+print only the last lines \(-n of them\)`).MatchString(help) {
		t.Errorf("-tail in the help does not point at -n:\n%s", help)
	}
}
