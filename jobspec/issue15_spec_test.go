package jobspec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Every spelling Nomad accepts for distinct_hosts and distinct_property
// decodes to one stored form.
func TestDistinctConstraintSpellings(t *testing.T) {
	hosts := &Constraint{Operator: "distinct_hosts"}
	tests := []struct {
		body string
		want *Constraint // nil: no constraint
		warn string
	}{
		{`distinct_hosts = true`, hosts, ""},
		{`distinct_hosts = "true"`, hosts, ""},
		{`distinct_hosts = false`, nil, ""},
		{`operator = "distinct_hosts"`, hosts, ""},
		{`operator = "distinct_hosts"
          value = "true"`, hosts, ""},
		{`operator = "distinct_hosts"
          value = true`, hosts, ""},
		{`operator = "distinct_hosts"
          value = "false"`, nil, ""},
		{`operator = "distinct_hosts"
          value = "0"`, nil, ""},
		{`operator = "distinct_hosts"
          value = "yes please"`, hosts, "not a boolean"},
		{`attribute = "${node.unique.id}"
          operator = "distinct_hosts"`, hosts, "ignores attribute"},
		{`operator = "distinct_property"
          attribute = "${meta.rack}"`, &Constraint{"${meta.rack}", "distinct_property", ""}, ""},
		{`operator = "distinct_property"
          attribute = "${meta.rack}"
          value = 3`, &Constraint{"${meta.rack}", "distinct_property", "3"}, ""},
		{`distinct_property = "${meta.rack}"`, &Constraint{"${meta.rack}", "distinct_property", ""}, ""},
		{`distinct_property = "${meta.rack}"
          value = "2"`, &Constraint{"${meta.rack}", "distinct_property", "2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			src := "job \"j\" {\n group \"g\" {\n constraint {\n" + tt.body + "\n }\n task \"t\" {\n driver = \"exec\"\n }\n }\n}"
			f, diags := Parse("job.hcl", []byte(src), nil)
			if diags.HasErrors() {
				t.Fatal(diagText(diags))
			}
			got := f.Job.Groups[0].Constraints
			switch {
			case tt.want == nil && len(got) != 0:
				t.Errorf("got %+v, want no constraint", got)
			case tt.want != nil && (len(got) != 1 || got[0] != *tt.want):
				t.Errorf("got %+v, want %+v", got, *tt.want)
			}
			if tt.warn != "" && !strings.Contains(diagText(diags), tt.warn) {
				t.Errorf("want a warning %q, got:\n%s", tt.warn, diagText(diags))
			}
		})
	}
	for _, bad := range []string{`operator = "distinct_property"
          attribute = "${meta.rack}"
          value = "0"`, `distinct_property = "${meta.rack}"
          value = "many"`, `operator = "distinct_property"`} {
		src := "job \"j\" {\n constraint {\n" + bad + "\n }\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n }\n }\n}"
		mustFail(t, src, nil)
	}
}

// warnings returns the warning diagnostics of a parse that must succeed.
func parseWarn(t *testing.T, src string) (*Job, string) {
	t.Helper()
	f, diags := Parse("job.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	var w []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			w = append(w, d.Error())
		}
	}
	return f.Job, strings.Join(w, "\n")
}

func TestResourcesDiskMapsToEphemeralDisk(t *testing.T) {
	tests := []struct {
		name   string
		group  string
		sizeMB int
		warn   string
	}{
		{"summed", `task "a" {
  driver = "exec"
  resources { disk = 500 }
}
task "b" {
  driver = "exec"
  resources { disk = 250 }
}`, 750, "ephemeral_disk { size = 750 }"},
		{"block wins", `ephemeral_disk { size = 100 }
task "a" {
  driver = "exec"
  resources { disk = 500 }
}`, 100, "which wins"},
		{"none", `task "a" {
  driver = "exec"
}`, 300, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, warn := parseWarn(t, "job \"j\" {\n group \"g\" {\n"+tt.group+"\n }\n}")
			if got := j.Groups[0].EphemeralDisk.SizeMB; got != tt.sizeMB {
				t.Errorf("ephemeral disk %d MB, want %d", got, tt.sizeMB)
			}
			if tt.warn == "" && warn != "" || !strings.Contains(warn, tt.warn) {
				t.Errorf("warnings %q, want %q", warn, tt.warn)
			}
		})
	}
}

func TestMemoryMaxUnlimited(t *testing.T) {
	j := mustParse(t, wrapJob("service", "", "", `resources {
  memory = 256
  memory_max = -1
}`), nil)
	if r := j.Groups[0].Tasks[0].Resources; r.MemoryMaxMB != MemoryUnlimited || r.MemoryMB != 256 {
		t.Errorf("resources %+v", r)
	}
	if errs := ValidateJob(j); len(errs) != 0 {
		t.Errorf("ValidateJob: %v", errs)
	}
	mustFail(t, wrapJob("service", "", "", `resources { memory_max = -2 }`), nil)
	mustFail(t, wrapJob("service", "", "", `resources {
  memory = 256
  memory_max = 100
}`), nil)
}

// A task written in the job is a group of the same name, before the
// written groups, as Nomad's jobspec2 makes it.
func TestTaskInJob(t *testing.T) {
	j := mustParse(t, `job "j" {
  update { max_parallel = 3 }
  task "solo" {
    driver = "exec"
    config { command = "/bin/true" }
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}`, nil)
	if len(j.Groups) != 2 || j.Groups[0].Name != "solo" || j.Groups[1].Name != "g" {
		t.Fatalf("groups %+v", j.Groups)
	}
	solo := j.Groups[0]
	if solo.Count != 1 || len(solo.Tasks) != 1 || solo.Tasks[0].Name != "solo" || solo.Update.MaxParallel != 3 || solo.EphemeralDisk.SizeMB != 300 {
		t.Errorf("solo group %+v", solo)
	}
	// The same as writing the group out.
	written := mustParse(t, `job "j" {
  update { max_parallel = 3 }
  group "solo" {
    task "solo" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}`, nil)
	if j.Hash() != written.Hash() {
		t.Error("a task in the job hashes differently from its group written out")
	}
	errs := mustFail(t, `job "j" {
  task "x" { driver = "exec" }
  group "x" {
    task "t" { driver = "exec" }
  }
}`, nil)
	if !strings.Contains(diagText(errs), "Duplicate group") {
		t.Errorf("want a duplicate group, got %s", diagText(errs))
	}
}

func TestAllAtOnceIsAWarning(t *testing.T) {
	_, warn := parseWarn(t, wrapJob("service", "all_at_once = true", "", ""))
	if !strings.Contains(warn, "all_at_once is ignored") {
		t.Errorf("warnings %q", warn)
	}
}

func TestNodePoolHashStable(t *testing.T) {
	a := mustParse(t, wrapJob("service", "", "", ""), nil)
	b := mustParse(t, wrapJob("service", `node_pool = "default"`, "", ""), nil)
	if a.Hash() != b.Hash() {
		t.Error(`node_pool = "default" changes the job's hash`)
	}
}

// An unset variable is one error at the variable, naming the ways to set
// it, and nothing that uses it is reported again (testdata/unset_vars.hcl
// uses its variables in nearly every argument of every block).
func TestUnsetVariableOneError(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "unset_vars.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	_, diags := Parse("unset_vars.hcl", src, nil)
	errs := errorsOf(diags)
	if len(errs) != 3 {
		t.Fatalf("want 3 errors (one per variable), got:\n%s", diagText(errs))
	}
	for _, d := range errs {
		if d.Summary != "Unset variable" {
			t.Errorf("knock-on error: %s", d.Error())
		}
		for _, want := range []string{"-var '", "-var-file", "NOMAD_VAR_"} {
			if !strings.Contains(d.Detail, want) {
				t.Errorf("%q does not mention %s", d.Detail, want)
			}
		}
	}
}

func TestPortVariableSuggestsLabel(t *testing.T) {
	for _, tt := range []struct{ network, port, want string }{
		{`network {
  port "api" {}
}`, "${NOMAD_PORT_api}", `write port = "api" instead of "${NOMAD_PORT_api}"`},
		{``, "${NOMAD_HOST_PORT_web}", `Declare it in the group too: network { port "web" {} }`},
	} {
		errs := mustFail(t, wrapJob("service", "", tt.network+`
service {
  port = "`+tt.port+`"
}`, ""), nil)
		if !strings.Contains(diagText(errs), tt.want) {
			t.Errorf("want %q in:\n%s", tt.want, diagText(errs))
		}
	}
}

// Every name Nomad accepts and Drover refuses says what to do instead.
func TestEveryUnsupportedHasAHint(t *testing.T) {
	specs := []*bodySpec{
		topSpec, jobSpec, groupSpec, taskSpec, resourcesSpec, networkSpec, portSpec,
		serviceSpec, checkSpec, constraintSpec, affinitySpec, spreadSpec, targetSpec,
		periodicSpec, parameterizedSpec, templateSpec, lifecycleSpec,
		uiSpec, uiLinkSpec, volumeSpec, volumeMountSpec, scalingSpec, disconnectSpec,
		dispatchPayloadSpec, identitySpec, actionSpec, templateWaitSpec, changeScriptSpec,
		updateFlat.spec, migrateFlat.spec, restartFlat.spec, rescheduleFlat.spec,
		diskFlat.spec, logsFlat.spec, checkRestartFlat.spec,
		variableSpec, validationSpec, rolloutSpec,
	}
	for _, s := range specs {
		for name, hint := range s.nomad {
			if len(hint) < 10 {
				t.Errorf("%s: %q has no hint", s.what, name)
			}
			if _, ok := s.attrs[name]; ok {
				t.Errorf("%s: %q is both supported and refused", s.what, name)
			}
			if _, ok := s.blocks[name]; ok {
				t.Errorf("%s: %q is both supported and refused", s.what, name)
			}
		}
	}
}

// A Nomad 0.x job: the network in the task's resources, ports named by
// port_map and services. Its ports join the group's network.
func TestTaskNetworkLifted(t *testing.T) {
	j, warn := parseWarn(t, `job "old" {
  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "redis:3.2"
        port_map {
          db = 6379
        }
      }
      resources {
        cpu    = 500
        memory = 256
        network {
          mbits = 10
          port "db" {}
        }
      }
      service {
        name = "redis-cache"
        port = "db"
      }
    }
  }
}`)
	n := j.Groups[0].Networks
	if len(n) != 1 || n[0].Mode != "host" || len(n[0].Ports) != 1 || n[0].Ports[0].Label != "db" {
		t.Errorf("networks = %+v", n)
	}
	for _, w := range []string{"Task-level network is deprecated", "mbits is ignored"} {
		if !strings.Contains(warn, w) {
			t.Errorf("no warning %q in %q", w, warn)
		}
	}
	errs := mustFail(t, `job "j" {
  group "g" {
    network {
      mode = "bridge"
      port "a" {}
    }
    task "t" {
      driver = "exec"
      resources {
        network {
          port "b" {}
        }
      }
    }
  }
}`, nil)
	if !strings.Contains(diagText(errs), "Task network in a bridge group") {
		t.Errorf("got %s", diagText(errs))
	}
}

func TestGroupShutdownDelayAndLogsEnabled(t *testing.T) {
	j := mustParse(t, `job "j" {
  group "g" {
    shutdown_delay = "7s"
    task "a" {
      driver = "exec"
      logs { enabled = false }
    }
    task "b" {
      driver = "exec"
      shutdown_delay = "1s"
    }
  }
}`, nil)
	a, b := j.Groups[0].Tasks[0], j.Groups[0].Tasks[1]
	if a.ShutdownDelay != 7*time.Second || b.ShutdownDelay != time.Second {
		t.Errorf("shutdown delays %v %v", a.ShutdownDelay, b.ShutdownDelay)
	}
	if !a.Logs.Disabled || b.Logs.Disabled {
		t.Errorf("logs %+v %+v", a.Logs, b.Logs)
	}
}
