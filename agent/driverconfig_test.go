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
	"github.com/droverhq/drover/server/servertest"
)

func TestParseConfigFileDriverSettings(t *testing.T) {
	c := DefaultConfig()
	if c.Docker.AllowPrivileged || c.Docker.VolumesEnabled || c.Docker.AllowCaps != nil || len(c.QEMU.ImagePaths) > 0 || len(c.QEMU.ArgsAllowlist) > 0 || c.DriverAllowlist != nil {
		t.Fatalf("defaults are not the secure ones: docker %+v, qemu %+v, allowlist %q", c.Docker, c.QEMU, c.DriverAllowlist)
	}
	src := `
options = {
  "driver.allowlist" = "exec, docker,qemu"
  "driver.denylist"  = "raw_exec"
}
plugin "docker" {
  config {
    endpoint         = "unix:///run/other.sock"
    allow_privileged = true
    allow_caps       = ["chown", "net_admin"]
    volumes {
      enabled = true
    }
  }
}
plugin "qemu" {
  config {
    image_paths    = ["/srv/images"]
    args_allowlist = ["-smp", "-kernel"]
  }
}
`
	if _, err := ParseConfigFile(&c, "agent.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.DriverAllowlist, []string{"exec", "docker", "qemu"}) || !slices.Equal(c.DriverDenylist, []string{"raw_exec"}) {
		t.Errorf("allowlist %q, denylist %q", c.DriverAllowlist, c.DriverDenylist)
	}
	want := DockerPluginConfig{Endpoint: "unix:///run/other.sock", AllowPrivileged: true, AllowCaps: []string{"chown", "net_admin"}, VolumesEnabled: true}
	if fmt.Sprint(c.Docker) != fmt.Sprint(want) {
		t.Errorf("docker = %+v, want %+v", c.Docker, want)
	}
	if !slices.Equal(c.QEMU.ImagePaths, []string{"/srv/images"}) || !slices.Equal(c.QEMU.ArgsAllowlist, []string{"-smp", "-kernel"}) {
		t.Errorf("qemu = %+v", c.QEMU)
	}
	if got := dockerCaps(c.Docker.AllowCaps); !slices.Equal(got, []string{"CHOWN", "NET_ADMIN"}) {
		t.Errorf("dockerCaps = %q", got)
	}

	// Unknown plugins, attributes and options are errors at their
	// positions; bad values fail Validate.
	for _, tc := range []struct{ src, want string }{
		{"plugin \"docker\" {\n  config {\n    allow_priviliged = true\n  }\n}", `agent.hcl:3,5-21: Unsupported argument`},
		{"plugin \"docker\" {\n  config {\n    volumes {\n      enable = true\n    }\n  }\n}", `agent.hcl:4,7-13: Unsupported argument`},
		{"plugin \"qemu\" {\n  config {\n    image_path = [\"/x\"]\n  }\n}", `agent.hcl:3,5-15: Unsupported argument`},
		{"\nplugin \"docker2\" {\n}", `agent.hcl:2,8-17: Unknown plugin`},
		{"options = {\n  \"driver.allowlst\" = \"exec\"\n}", `agent.hcl:2,3-20: Unknown option`},
	} {
		c := DefaultConfig()
		_, err := ParseConfigFile(&c, "agent.hcl", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerr = %v\nwant it to contain %q", tc.src, err, tc.want)
		}
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.QEMU.ImagePaths = []string{"images"} }, `image_paths: "images" is not an absolute path`},
		{func(c *Config) { c.QEMU.ArgsAllowlist = []string{"-drive file=/dev/sda"} }, `args_allowlist: "-drive file=/dev/sda" is not a QEMU flag`},
		{func(c *Config) { c.Docker.AllowCaps = []string{"net admin"} }, `allow_caps: "net admin" is not a capability name`},
		{func(c *Config) { c.DriverAllowlist = []string{""} }, `driver.allowlist: "" is not a driver name`},
	} {
		c := DefaultConfig()
		c.DataDir, c.Servers = t.TempDir(), []string{"127.0.0.1:4747"}
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

// Drivers the allowlist leaves out, or the denylist names, are not
// registered: the node does not report them and a job needing one is
// unplaceable for "missing drivers". A name that is no driver is an
// error, not a silent no-op.
func TestAgentDriverAllowlist(t *testing.T) {
	for _, tc := range []struct {
		name         string
		allow, deny  []string
		have, absent string
	}{
		{"allowlist", []string{"exec"}, nil, "exec", "raw_exec"},
		{"denylist", nil, []string{"raw_exec"}, "exec", "raw_exec"},
		{"deny wins", []string{"exec", "raw_exec"}, []string{"raw_exec"}, "exec", "raw_exec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Single(t)
			cfg := agentConfig(t, srv, t.TempDir(), "n1")
			cfg.Drivers = nodeDrivers(t, true)
			cfg.DriverAllowlist, cfg.DriverDenylist = tc.allow, tc.deny
			ta := startAgent(t, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			n, _, err := srv.Client.Nodes().Info(ctx, ta.NodeID(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := n.Drivers[tc.absent]; ok {
				t.Errorf("node reports driver %s: %+v", tc.absent, n.Drivers)
			}
			if !n.Drivers[tc.have].Healthy {
				t.Errorf("node's %s driver: %+v", tc.have, n.Drivers[tc.have])
			}
			plan, err := srv.Client.Jobs().Plan(ctx, parseJob(t, fmt.Sprintf(shJob, "raw", tc.absent, "", "sleep 1000", 32)))
			if err != nil {
				t.Fatal(err)
			}
			if m := plan.FailedTGAllocs["g"]; m == nil || m.ConstraintFiltered["missing drivers"] == 0 {
				t.Errorf("plan of a %s job: failed placements %+v; want missing drivers", tc.absent, m)
			}
		})
	}
	t.Run("unknown name", func(t *testing.T) {
		srv := servertest.Single(t)
		cfg := agentConfig(t, srv, t.TempDir(), "n1")
		cfg.DriverAllowlist = []string{"exec", "dokcer"}
		if a, err := New(cfg); err == nil || !strings.Contains(err.Error(), `driver.allowlist names "dokcer", which is not a driver of this agent`) {
			if a != nil {
				a.db.Close()
			}
			t.Errorf("New = %v", err)
		}
	})
}

// The docker plugin's gates reach the docker driver: its fingerprint
// reports what the node allows, off by default.
func TestAgentDockerGates(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED — the default drivers' fingerprint needs root for exec's cgroups")
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, "false"},
		{"allowed", func(c *Config) { c.Docker.AllowPrivileged, c.Docker.VolumesEnabled = true, true }, "true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Single(t)
			cfg := agentConfig(t, srv, t.TempDir(), "n1")
			cfg.Drivers = nil // the drivers New builds from the config
			cfg.DriverAllowlist = []string{"docker"}
			tc.mod(&cfg)
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, c := range a.closers {
					_ = c.Close()
				}
				a.db.Close()
				_ = a.listener.Close()
			}()
			if names := a.registry.Names(); !slices.Equal(names, []string{"docker"}) {
				t.Fatalf("registered drivers %q, want docker only", names)
			}
			d, _ := a.registry.Lookup("docker")
			fp := d.Fingerprint(t.Context())
			if !fp.Detected {
				t.Skipf("SKIP: needs a running Docker daemon: %s", fp.Description)
			}
			for _, attr := range []string{"driver.docker.privileged.enabled", "driver.docker.volumes.enabled"} {
				if got := fp.Attributes[attr]; got != tc.want {
					t.Errorf("%s = %q, want %q", attr, got, tc.want)
				}
			}
		})
	}
}

// scriptCheckJob is a service job whose task's script check runs cmd.
const scriptCheckJob = `
job %q {
  datacenters = ["dc1"]
  group "g" {
    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "15s"
      progress_deadline = "30s"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "t" {
      driver = %q
      env {
        TASK_MARK = "in-task"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 1000"]
      }
      service {
        name = "s"
        check {
          type     = "script"
          command  = "/bin/sh"
          args     = ["-c", %q]
          interval = "1s"
          timeout  = "5s"
        }
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`

// The script-check attack of issue 13 through the agent: the agent runs
// as root with DROVER_TOKEN in its environment; an isolated exec task's
// script check runs inside the task as nobody, in its root, with the
// task's environment only, and the deployment succeeds on it.
func TestScriptCheckRunsInsideExecTask(t *testing.T) {
	t.Setenv("DROVER_TOKEN", "agent-secret")
	srv, ta := isolationAgent(t, false)
	probe := `(echo uid=$(id -u); test ! -e /root && echo root=hidden; echo mark=$TASK_MARK; echo token=$DROVER_TOKEN) > /alloc/check.tmp && mv /alloc/check.tmp /alloc/check.out`
	submit(t, srv.Client, fmt.Sprintf(scriptCheckJob, "chk", "exec", probe))
	cleanupTasks(t, srv, "chk")
	d := waitDeployment(t, srv.Client, "chk", 0)
	if d.Status != cluster.DeploymentSuccessful {
		t.Errorf("deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	allocs := waitAllocs(t, srv.Client, "chk", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	out := waitFile(t, filepath.Join(allocDirOf(ta, allocs[0].ID), "alloc", "check.out"))
	for _, want := range []string{"uid=65534\n", "root=hidden\n", "mark=in-task\n", "token=\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the check saw:\n%s\nwant a line %q", out, want)
		}
	}
}

// noExec is a real driver that cannot run commands inside its tasks.
type noExec struct{ drivers.Driver }

// A script check of a task whose driver has no Execer fails (so does the
// deployment), and never runs on the host instead.
func TestScriptCheckWithoutExecerNeverRunsOnHost(t *testing.T) {
	srv := servertest.Single(t)
	cfg := agentConfig(t, srv, t.TempDir(), "n1")
	cfg.Drivers = []drivers.Driver{noExec{testDriver(t)}}
	startAgent(t, cfg)
	marker := filepath.Join(t.TempDir(), "ran-on-host")
	submit(t, srv.Client, fmt.Sprintf(scriptCheckJob, "noexec", "exec", "touch "+marker))
	cleanupTasks(t, srv, "noexec")
	d := waitDeployment(t, srv.Client, "noexec", 0)
	if d.Status != cluster.DeploymentFailed {
		t.Errorf("deployment: %s (%s), want failed", d.Status, d.StatusDescription)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script check ran on the host")
	}
}
