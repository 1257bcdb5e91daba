package agent

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

func TestAgentRunsJobWithEnvAndTemplates(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "envjob")
	submit(t, srv.Client, `
job "envjob" {
  datacenters = ["dc1"]
  meta { team = "core" }
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "env > $NOMAD_ALLOC_DIR/env.txt.tmp && mv $NOMAD_ALLOC_DIR/env.txt.tmp $NOMAD_ALLOC_DIR/env.txt; exec sleep 1000", "${NOMAD_PORT_http}"]
      }
      env {
        GREETING = "port-${NOMAD_PORT_http}"
        KERNEL   = "${attr.kernel.name}"
      }
      template {
        data        = "port={{ env \"NOMAD_PORT_http\" }}\n"
        destination = "local/app.conf"
      }
      template {
        data        = "FROM_TMPL=yes-{{ env \"DROVER_TASK_NAME\" }}\n"
        destination = "local/tmpl.env"
        env         = true
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "envjob", "the allocation to run", allStatus(cluster.AllocClientRunning, 1))
	a := allocs[0]
	if a.NodeID != ta.NodeID() {
		t.Fatalf("placed on %s, want %s", a.NodeID, ta.NodeID())
	}
	dir := allocDirOf(ta, a.ID)
	env := parseEnv(waitFile(t, filepath.Join(dir, "alloc", "env.txt")))
	port := fmt.Sprint(a.Resources.Ports[0].Value)
	want := map[string]string{
		"DROVER_ALLOC_ID":    a.ID,
		"NOMAD_ALLOC_ID":     a.ID,
		"DROVER_ALLOC_NAME":  a.Name,
		"DROVER_ALLOC_INDEX": "0",
		"DROVER_JOB_NAME":    "envjob",
		"DROVER_JOB_ID":      "envjob",
		"DROVER_GROUP_NAME":  "g",
		"NOMAD_TASK_NAME":    "t",
		"DROVER_ALLOC_DIR":   filepath.Join(dir, "alloc"),
		"NOMAD_TASK_DIR":     filepath.Join(dir, "t", "local"),
		"DROVER_SECRETS_DIR": filepath.Join(dir, "t", "secrets"),
		"DROVER_CPU_LIMIT":   "50",
		"NOMAD_MEMORY_LIMIT": "32",
		"DROVER_PORT_http":   port,
		"NOMAD_PORT_http":    port,
		"DROVER_IP_http":     "127.0.0.1",
		"NOMAD_ADDR_http":    "127.0.0.1:" + port,
		"DROVER_META_team":   "core",
		"GREETING":           "port-" + port,
		"KERNEL":             "linux",
		"FROM_TMPL":          "yes-t",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	conf := waitFile(t, filepath.Join(dir, "t", "local", "app.conf"))
	if conf != "port="+port+"\n" {
		t.Errorf("app.conf = %q", conf)
	}
	st := a.TaskStates["t"]
	for _, typ := range []string{"Received", "Task Setup", "Started"} {
		if !hasEvent(st, typ, "") {
			t.Errorf("no %s event:\n%s", typ, describeAllocs(allocs))
		}
	}
	// Node resources are real.
	n := ta.Node()
	if n.Resources.CPU <= 0 || n.Resources.MemoryMB <= 0 || n.Attributes["cpu.numcores"] == "" || n.Attributes["driver.exec"] != "1" {
		t.Errorf("node = %+v", n)
	}
}

func parseEnv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
