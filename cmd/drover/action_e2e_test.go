package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/workloadid"
)

const actionJobFile = `
job "svc" {
  datacenters = ["dc1"]
  group "svc" {
    update {
      min_healthy_time = "1s"
    }
    task "app" {
      driver = "exec"
      config {
        command = "/bin/busybox"
        args    = ["sleep", "1000"]
      }
      identity {
        env  = true
        file = true
      }
      identity {
        name = "vault"
        aud  = ["vault.io"]
        ttl  = "1h"
        file = true
      }
      action "whoami" {
        command = "/bin/busybox"
        args    = ["sh", "-c", "id -u; stat -c '%a %u' $NOMAD_SECRETS_DIR; [ \"$(cat $NOMAD_SECRETS_DIR/nomad_token)\" = \"$NOMAD_TOKEN\" ] && echo same; echo $NOMAD_TOKEN; cat $NOMAD_SECRETS_DIR/nomad_vault.jwt; echo; echo task=${NOMAD_TASK_NAME}"]
      }
      action "fail" {
        command = "/bin/busybox"
        args    = ["sh", "-c", "echo partial; echo broken >&2; exit 3"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`

// TestActionAndIdentityEndToEnd: the real binary, drover dev, an exec
// task with identity and action blocks. `drover action` runs a declared
// action inside the isolated task (as nobody, with the task's
// environment) and propagates its exit code; the task's NOMAD_TOKEN and
// secrets/nomad_token hold the same JWT, and it and the named identity's
// file verify against the servers' public JWKS with Nomad's claims.
func TestActionAndIdentityEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	requireExecBusybox(t)
	d := startDevCluster(t)
	c := d.client
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.nomad.hcl"), actionJobFile)
	cli := func(args ...string) result {
		t.Helper()
		return d.cli(t, dir, args...)
	}
	d.stopJobsAtCleanup(t, dir, "svc")
	if r := cli("job", "run", "-detach", "svc.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	allocs := followAllocs(t, c, "svc", "the task to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	allocID := running(allocs)[0].ID

	r := cli("action", "-job", "svc", "whoami")
	if r.code != 0 {
		t.Fatalf("action whoami: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || lines[0] != "65534" || lines[1] != "700 65534" || lines[2] != "same" || lines[5] != "task=app" {
		t.Fatalf("action whoami printed %q; want uid 65534, a 0700 secrets dir of the task's user, the same token in env and file, the task's name", lines)
	}

	resp, err := http.Get("http://" + d.addr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set workloadid.JWKS
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := workloadid.Verify(lines[3], set, time.Now(), workloadid.DefaultAudience)
	if err != nil || claims.AllocationID != allocID || claims.Subject != "global:default:svc:svc:app:default" || claims.TaskName != "app" {
		t.Fatalf("NOMAD_TOKEN: %+v %v", claims, err)
	}
	claims, err = workloadid.Verify(lines[4], set, time.Now(), "vault.io")
	if err != nil || claims.Subject != "global:default:svc:svc:app:vault" || claims.Expiry == 0 {
		t.Fatalf("secrets/nomad_vault.jwt: %+v %v", claims, err)
	}
	if _, err := workloadid.Verify(lines[4], set, time.Now().Add(2*time.Hour), ""); err == nil {
		t.Fatal("the vault identity (ttl 1h) still verifies two hours later")
	}

	if r := cli("action", "-job", "svc", "fail"); r.code != 3 || r.stdout != "partial\n" || !strings.Contains(r.stderr, "broken") {
		t.Fatalf("action fail: want exit code 3, stdout partial, stderr broken: %s", r)
	}
	if r := cli("action", "-job", "svc", "-alloc", allocID[:8], "nosuch"); r.code != 1 || !strings.Contains(r.stderr, `has no action "nosuch"`) || !strings.Contains(r.stderr, "app: whoami") {
		t.Fatalf("action nosuch: %s", r)
	}
	r = cli("action", "-json", "-job", "svc", "fail")
	var out api.ActionResponse
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 3 || out.ExitCode != 3 || string(out.Stderr) != "broken\n" {
		t.Fatalf("action -json fail: %v %s", err, r)
	}
}
