package main

import (
	"context"
	"strings"
	"testing"
)

// TestACLCommandsHelpAndArgs: every acl subcommand has --help with an
// example, and wrong arguments are refused before any request.
func TestACLCommandsHelpAndArgs(t *testing.T) {
	dead := "DROVER_ADDR=http://" + freeAddr(t)
	for _, args := range [][]string{
		{"acl", "bootstrap"}, {"acl", "policy", "apply"}, {"acl", "policy", "list"}, {"acl", "policy", "info"},
		{"acl", "policy", "delete"}, {"acl", "token", "create"}, {"acl", "token", "list"}, {"acl", "token", "info"},
		{"acl", "token", "revoke"}, {"acl", "token", "self"},
	} {
		t.Run(strings.Join(args, " ")+" --help", func(t *testing.T) {
			var c capture
			code := run(context.Background(), append(args, "--help"), c.stdio(dead))
			if code != exitOK || !strings.Contains(c.out.String(), "Example") || !strings.Contains(c.out.String(), "-json") {
				t.Errorf("exit %d, want 0 with an example and -json\n%s%s", code, c.out.String(), c.err.String())
			}
		})
	}
	for _, tc := range []struct {
		args     []string
		inStderr string
	}{
		{[]string{"acl"}, "Usage: drover acl <subcommand>"},
		{[]string{"acl", "tokne"}, `did you mean "token"?`},
		{[]string{"acl", "policy", "apply", "only-a-name"}, "want 2 argument(s)"},
		{[]string{"acl", "token", "revoke"}, "want 1 argument(s)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c capture
			code := run(context.Background(), tc.args, c.stdio(dead))
			if code != exitError || !strings.Contains(c.err.String(), tc.inStderr) || strings.Contains(c.err.String(), "cannot reach") {
				t.Errorf("exit %d, want 1 with %q and no request\n%s", code, tc.inStderr, c.err.String())
			}
		})
	}
}
