package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/drivers/rawexec"
	"github.com/droverhq/drover/server/servertest"
)

// nodeDrivers are the drivers New builds by default (exec isolated,
// raw_exec enabled or not), with the test binary as their shim.
func nodeDrivers(t testing.TB, rawExec bool) []drivers.Driver {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED — ISOLATED EXEC IS NOT TESTED: it needs root (namespaces, mounts, chroot)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ecfg := exec.DefaultConfig()
	ecfg.ShimCommand = []string{exe}
	ecfg.ShimEnv = []string{shimEnv + "=1"}
	ecfg.CgroupParent = "drover-agent-test"
	d, err := exec.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := rawexec.DefaultConfig()
	rcfg.Enabled = rawExec
	rcfg.Exec = ecfg
	rd, err := rawexec.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	return []drivers.Driver{d, rd}
}

func isolationAgent(t *testing.T, rawExec bool) (*servertest.Server, *testAgent) {
	srv := servertest.Single(t)
	cfg := agentConfig(t, srv, t.TempDir(), "n1")
	cfg.Drivers = nodeDrivers(t, rawExec)
	return srv, startAgent(t, cfg)
}

const shJob = `
job %q {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = %q
      %s
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 20
        memory = %d
      }
    }
  }
}`

// An exec task that names no user runs as nobody in its own root, and
// finds the group's alloc/ where NOMAD_ALLOC_DIR says.
func TestAgentExecIsolatedByDefault(t *testing.T) {
	srv, ta := isolationAgent(t, false)
	submit(t, srv.Client, fmt.Sprintf(shJob, "iso", "exec", "",
		`(id -u; ls /root >/dev/null 2>&1 && echo root-visible; ls /proc | grep -c '^[0-9]') > $NOMAD_ALLOC_DIR/out.tmp; mv $NOMAD_ALLOC_DIR/out.tmp $NOMAD_ALLOC_DIR/out; exec sleep 1000`, 32))
	cleanupTasks(t, srv, "iso")
	allocs := waitAllocs(t, srv.Client, "iso", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	out := strings.Fields(waitFile(t, filepath.Join(allocDirOf(ta, allocs[0].ID), "alloc", "out")))
	if len(out) != 2 || out[0] != "65534" {
		t.Fatalf("task printed %q, want uid 65534, no /root, and a count of its processes", out)
	}
	if n := out[1]; n == "0" || len(n) > 1 {
		t.Errorf("the task sees %s processes in /proc, want only its own few", n)
	}
}

// user = "root" is refused on the node with the denylist named.
func TestAgentExecDeniedUser(t *testing.T) {
	srv, _ := isolationAgent(t, false)
	// The node announces its denylist, so the scheduler refuses the
	// placement with the user named; the driver refuses such a task too
	// (drivers/exec TestIsolatedUserDenied), in case one arrives.
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	plan, err := srv.Client.Jobs().Plan(ctx, parseJob(t, fmt.Sprintf(shJob, "asroot", "exec", `user = "root"`, `id`, 32)))
	if err != nil {
		t.Fatal(err)
	}
	m := plan.FailedTGAllocs["g"]
	found := false
	if m != nil {
		for reason, n := range m.ConstraintFiltered {
			found = found || n > 0 && strings.Contains(reason, `user "root"`) && strings.Contains(reason, "denylist")
		}
	}
	if !found {
		t.Errorf("plan of an exec job as root: failed placements %+v; want a filter naming the user denylist", m)
	}
}

// A memory hog is OOM-killed in its cgroup, and the task event says so in
// Nomad's words.
func TestAgentExecOOMKilledEvent(t *testing.T) {
	srv, _ := isolationAgent(t, false)
	submit(t, srv.Client, fmt.Sprintf(shJob, "hog", "exec", "", `x=$(head -c 134217728 /dev/zero | tr '\0' a); echo $${#x}`, 16))
	cleanupTasks(t, srv, "hog")
	allocs := waitAllocs(t, srv.Client, "hog", "the task to fail", allStatus(cluster.AllocClientFailed, 1))
	st := allocs[0].TaskStates["t"]
	found := st != nil && slices.ContainsFunc(st.Events, func(e cluster.TaskEvent) bool {
		return e.Type == "Terminated" && strings.Contains(e.Message, "OOM Killed")
	})
	if !found {
		t.Errorf("no OOM Killed event:\n%s", describeAllocs(allocs))
	}
}

// Disabled, raw_exec is not fingerprinted as detected, so a job using it
// is unplaceable for "missing drivers"; enabled, it runs its task as a
// host process.
func TestAgentRawExecOptIn(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		srv, ta := isolationAgent(t, false)
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		n, _, err := srv.Client.Nodes().Info(ctx, ta.NodeID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if info, ok := n.Drivers["raw_exec"]; !ok || info.Detected || info.Healthy || !strings.Contains(info.Description, "enabled = true") {
			t.Errorf("raw_exec driver info = %+v, %v; want present, not detected, saying how to enable it", info, ok)
		}
		if !n.Drivers["exec"].Healthy {
			t.Errorf("exec driver info = %+v", n.Drivers["exec"])
		}
		job := parseJob(t, fmt.Sprintf(shJob, "raw", "raw_exec", "", "sleep 1000", 32))
		plan, err := srv.Client.Jobs().Plan(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		m := plan.FailedTGAllocs["g"]
		if m == nil || m.ConstraintFiltered["missing drivers"] == 0 {
			t.Errorf("plan of a raw_exec job: failed placements %+v, explanations %v; want missing drivers", m, plan.Explanations)
		}
	})
	t.Run("enabled", func(t *testing.T) {
		srv, ta := isolationAgent(t, true)
		submit(t, srv.Client, fmt.Sprintf(shJob, "raw", "raw_exec", "", `id -u > $NOMAD_ALLOC_DIR/id.tmp; mv $NOMAD_ALLOC_DIR/id.tmp $NOMAD_ALLOC_DIR/id; exec sleep 1000`, 32))
		cleanupTasks(t, srv, "raw")
		allocs := waitAllocs(t, srv.Client, "raw", "the task to run", allStatus(cluster.AllocClientRunning, 1))
		if got := strings.TrimSpace(waitFile(t, filepath.Join(allocDirOf(ta, allocs[0].ID), "alloc", "id"))); got != "0" {
			t.Errorf("raw_exec task uid = %s, want the agent's (0)", got)
		}
	})
}

func TestParseConfigFileExecSettings(t *testing.T) {
	c := DefaultConfig()
	if c.RawExecEnabled || !slices.Equal(c.UserDenylist, []string{"root"}) || c.ChrootEnv["/usr"] != "/usr" {
		t.Fatalf("defaults: raw_exec %v, denylist %v, chroot_env %v", c.RawExecEnabled, c.UserDenylist, c.ChrootEnv)
	}
	src := `
plugin "raw_exec" {
  config {
    enabled = true
  }
}
chroot_env = {
  "/bin" = "/bin"
  "/opt/tools" = "/usr/local/tools"
}
options = { "user.denylist" = "root, admin" }
`
	if _, err := ParseConfigFile(&c, "agent.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if !c.RawExecEnabled {
		t.Error("raw_exec not enabled")
	}
	if !slices.Equal(c.UserDenylist, []string{"root", "admin"}) {
		t.Errorf("denylist = %q", c.UserDenylist)
	}
	if len(c.ChrootEnv) != 2 || c.ChrootEnv["/opt/tools"] != "/usr/local/tools" {
		t.Errorf("chroot_env = %v", c.ChrootEnv)
	}
	for _, bad := range []string{
		`plugin "raw_exec" { config { enabeld = true } }`,
		`plugin "docker2" { config {} }`,
		`options = { "user.blocklist" = "root" }`,
	} {
		c := DefaultConfig()
		if _, err := ParseConfigFile(&c, "agent.hcl", []byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
