package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

const scaleJobFile = `
job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    scaling {
      min     = 1
      max     = 4
      enabled = true
      policy {
        cooldown = "1m"
      }
    }
    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

// TestJobScaleEndToEnd: the real binary, drover dev, a job with a
// scaling block: `drover job scale web 3` runs a third allocation and
// `drover job status` shows three running; a count above the block's max
// is refused with Nomad's message and changes nothing.
func TestJobScaleEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dev := startDevCluster(t)
	c := dev.client
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), scaleJobFile)
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	if r := cli("job", "run", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	followAllocs(t, c, "web", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 })
	lastDeployment(t, c, "web") // a job cannot be scaled during a deployment (as in Nomad)

	if r := cli("job", "scale", "web", "3"); r.code != 0 || !strings.Contains(r.stdout, "scaled to 3") {
		t.Fatalf("job scale web 3: %s", r)
	}
	followAllocs(t, c, "web", "three running", func(as []*cluster.Allocation) bool { return len(running(as)) == 3 })
	r := cli("job", "status", "-json", "web")
	var st struct {
		Summary map[string]map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.Summary["web"]["running"] != 3 {
		t.Fatalf("job status after scaling to 3: %v %s", err, r)
	}
	if r := cli("job", "status", "web"); r.code != 0 || !strings.Contains(r.stdout, "\nScaling\n") || !strings.Contains(r.stdout, "cooldown") ||
		!strings.Contains(r.stdout, `scaled group "web" from 2 to 3`) {
		t.Fatalf("job status shows neither the scaling block nor the scale: %s", r)
	}
	lastDeployment(t, c, "web")

	r = cli("job", "scale", "web", "9")
	if r.code != 1 || !strings.Contains(r.stderr, "group count was greater than scaling policy maximum: 9 > 4") {
		t.Fatalf("job scale web 9: %s", r)
	}
	r = cli("job", "scale", "-json", "-detach", "web", "web", "1")
	var out struct {
		Scale api.JobScaleResponse `json:"scale"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil || out.Scale.EvalID == "" {
		t.Fatalf("job scale -json web web 1: %v %s", err, r)
	}
	followAllocs(t, c, "web", "one running", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	ss, _, err := c.Jobs().ScaleStatus(context.Background(), "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := ss.TaskGroups["web"]; g.Desired != 1 || len(g.Events) != 2 || *g.Events[0].Count != 1 || *g.Events[1].Count != 3 {
		t.Fatalf("scale status %+v", g)
	}
	if r := cli("job", "scale", "--help"); r.code != 0 || !strings.Contains(r.stdout, "drover job scale web 3") {
		t.Fatalf("job scale --help: %s", r)
	}
}
