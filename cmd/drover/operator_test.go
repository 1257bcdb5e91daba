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
