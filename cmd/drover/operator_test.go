package main

import (
	"context"
	"strings"
	"testing"

	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// `operator join-token` reads the token through the API or offline from
// the data dir, and -rotate replaces it through the API.
func TestOperatorJoinToken(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.Token = "op-token" })
	ctx := context.Background()
	env := []string{"DROVER_ADDR=" + s.Client.Address(), "DROVER_TOKEN=op-token"}
	runCmd := func(env []string, args ...string) (int, string, string) {
		var c capture
		code := run(ctx, append([]string{"operator", "join-token"}, args...), c.stdio(env...))
		return code, strings.TrimSpace(c.out.String()), c.err.String()
	}

	code, offline, stderr := runCmd(nil, "-data-dir", s.DataDir(), "server")
	if code != exitOK || !strings.HasPrefix(offline, "DRVTKN-1-server-") {
		t.Fatalf("-data-dir: exit %d %q %s", code, offline, stderr)
	}
	code, online, stderr := runCmd(env, "server")
	if code != exitOK || online != offline {
		t.Fatalf("through the API: exit %d %q %s; want the file's token", code, online, stderr)
	}
	code, rotated, stderr := runCmd(env, "-rotate", "server")
	if code != exitOK || rotated == offline || !strings.HasPrefix(rotated, "DRVTKN-1-server-") || !strings.Contains(stderr, "refused from now on") {
		t.Fatalf("-rotate: exit %d %q %s", code, rotated, stderr)
	}
	if code, now, _ := runCmd(nil, "-data-dir", s.DataDir(), "server"); code != exitOK || now != rotated {
		t.Fatalf("after -rotate, the file holds %q, want %q", now, rotated)
	}
	if code, _, stderr := runCmd([]string{"DROVER_ADDR=" + s.Client.Address()}, "-rotate", "server"); code != exitError || !strings.Contains(stderr, "token") {
		t.Fatalf("-rotate without the API token: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(nil, "-rotate", "-data-dir", s.DataDir(), "server"); code != exitError || !strings.Contains(stderr, "-address") {
		t.Fatalf("-rotate -data-dir: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(nil, "server"); code != exitError || !strings.Contains(stderr, "-data-dir") {
		t.Fatalf("neither -address nor -data-dir: exit %d %s", code, stderr)
	}
}

// `operator audit` lists the writes the servers recorded, as a table or
// JSON, and the token of the write is never shown.
func TestOperatorAudit(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.Token = "op-token" })
	ctx := context.Background()
	env := []string{"DROVER_ADDR=" + s.Client.Address(), "DROVER_TOKEN=op-token"}
	runCmd := func(args ...string) (int, string, string) {
		var c capture
		code := run(ctx, append([]string{"operator", "audit"}, args...), c.stdio(env...))
		return code, c.out.String(), c.err.String()
	}
	// A write: rotating the join token.
	var c capture
	if code := run(ctx, []string{"operator", "join-token", "-rotate", "server"}, c.stdio(env...)); code != exitOK {
		t.Fatalf("rotate: exit %d %s", code, c.err.String())
	}
	var out string
	servertest.WaitFor(t, "the audit entry", func() bool {
		code, o, _ := runCmd("-since", "1h")
		out = o
		return code == exitOK && strings.Contains(o, "management token (token_file)")
	})
	if strings.Contains(out, "op-token") || !strings.Contains(out, "Who") {
		t.Fatalf("table:\n%s", out)
	}
	code, js, stderr := runCmd("-json")
	if code != exitOK || !strings.HasPrefix(strings.TrimSpace(js), "[") || !strings.Contains(js, `"who"`) || strings.Contains(js, "op-token") {
		t.Fatalf("-json: exit %d %s %s", code, js, stderr)
	}
	if code, _, stderr := runCmd("-since", "yesterday"); code != exitError || !strings.Contains(stderr, "RFC 3339") {
		t.Fatalf("bad -since: exit %d %s", code, stderr)
	}
	var h capture
	run(ctx, []string{"operator", "audit", "--help"}, h.stdio(env...))
	if !strings.Contains(h.out.String()+h.err.String(), "drover operator audit -since 1h") {
		t.Fatalf("--help lacks an example: %s%s", h.out.String(), h.err.String())
	}
}
