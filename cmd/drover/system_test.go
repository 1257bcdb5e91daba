package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// `system gc` runs a collection now and prints its counts, as a table or
// JSON; `history` then lists the collected versions with their commits.
func TestSystemGCCommand(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.Token = "op-token" })
	ctx := context.Background()
	env := []string{"DROVER_ADDR=" + s.Client.Address(), "DROVER_TOKEN=op-token"}
	runCmd := func(args ...string) (int, string, string) {
		var c capture
		code := run(ctx, args, c.stdio(env...))
		return code, c.out.String(), c.err.String()
	}
	cl, err := api.NewClient(api.Config{Address: s.Client.Address(), Token: "op-token"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		job := parseE2EJob(t, gcJobHCL("web"))
		job.Meta = map[string]string{"revision": fmt.Sprint(i)}
		src := &cluster.Source{Name: "prod", Repo: "r", Commit: gcCommit("web", i), Author: "Ada", Subject: fmt.Sprint("revision ", i)}
		if _, err := cl.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job, Source: src}); err != nil {
			t.Fatal(err)
		}
	}

	code, out, stderr := runCmd("system", "gc")
	if code != exitOK || !strings.Contains(out, "Garbage collection removed:") || !regexp.MustCompile(`(?m)^Job versions +2$`).MatchString(out) {
		t.Fatalf("system gc: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCmd("system", "gc", "-json")
	var counts api.GCResponse
	if code != exitOK || json.Unmarshal([]byte(out), &counts) != nil || counts.JobVersions != 0 {
		t.Fatalf("system gc -json (again): exit %d %+v\n%s%s", code, counts, out, stderr)
	}

	code, out, stderr = runCmd("history", "web")
	if code != exitOK {
		t.Fatalf("history: exit %d %s", code, stderr)
	}
	for i := range 8 {
		if !strings.Contains(out, shortSHA(gcCommit("web", i))) {
			t.Errorf("history lacks version %d's commit:\n%s", i, out)
		}
	}
	if n := strings.Count(out, "collected"); n != 2 {
		t.Errorf("history marks %d versions collected, want 2:\n%s", n, out)
	}

	for _, args := range [][]string{{"system", "gc", "extra"}, {"system", "gcc"}, {"system"}} {
		if code, _, stderr := runCmd(args...); code != exitError || stderr == "" {
			t.Errorf("%v: exit %d %q, want 1 with a message", args, code, stderr)
		}
	}
	if code, out, _ := runCmd("system", "gc", "--help"); code != exitOK || !strings.Contains(out, "drover system gc -json") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	// Without a token the route's capability (operator:write) is missing.
	var c capture
	if code := run(ctx, []string{"system", "gc"}, c.stdio("DROVER_ADDR="+s.Client.Address())); code != exitError {
		t.Errorf("without a token: exit %d, want 1\n%s", code, c.err.String())
	}
}
