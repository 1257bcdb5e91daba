package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateRolloutNodes(t *testing.T) {
	s := planRolloutCluster(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.nomad.hcl")
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c", "node-x"]`))
	warn := path + `:12:26: Warning: rollout.order of group "db" names node "node-x", which is not in the cluster`

	// Offline (the default): the pure checks only, no request.
	var c capture
	if code := validate(ctx, validateOptions{targets: []string{path}, vars: map[string]string{}}, c.stdio("DROVER_ADDR="+s.Client.Address())); code != exitOK {
		t.Fatalf("offline validate: exit %d\nstderr: %s", code, c.err.String())
	}
	if strings.Contains(c.err.String(), "node-x") {
		t.Errorf("offline validate looked at the cluster:\n%s", c.err.String())
	}

	// Against the server: a warning at the element, still valid.
	c = capture{}
	code := run(ctx, []string{"validate", "-address", s.Client.Address(), path}, c.stdio())
	if code != exitOK || !strings.Contains(c.err.String(), warn) || !strings.Contains(c.out.String(), "1 job valid") {
		t.Errorf("validate -address: exit %d\nstdout: %s\nstderr: %s", code, c.out.String(), c.err.String())
	}
	c = capture{}
	code = run(ctx, []string{"validate", "-json", "-address", s.Client.Address(), path}, c.stdio())
	if code != exitOK || !strings.Contains(c.out.String(), `names node \"node-x\"`) {
		t.Errorf("validate -json -address: exit %d\nstdout: %s", code, c.out.String())
	}

	// Pure checks still fail without a server.
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c", "node-c"]`))
	c = capture{}
	if code := validate(ctx, validateOptions{targets: []string{path}}, c.stdio()); code != exitError || !strings.Contains(c.err.String(), "Duplicate value in rollout order") {
		t.Errorf("duplicate order: exit %d\nstderr: %s", code, c.err.String())
	}

	// An unreachable server is an error, not a silent pass.
	c = capture{}
	writeFile(t, path, planRolloutJob("1", `      order = ["node-c"]`))
	if code := run(ctx, []string{"validate", "-address", "http://" + freeAddr(t), path}, c.stdio()); code != exitError || !strings.Contains(c.err.String(), "cannot reach") {
		t.Errorf("unreachable server: exit %d\nstderr: %s", code, c.err.String())
	}
}
