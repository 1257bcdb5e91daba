package jobspec

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// mustParse parses src and fails the test on any error diagnostic.
func mustParse(t *testing.T, src string, opts *ParseOptions) *Job {
	t.Helper()
	f, diags := Parse("job.hcl", []byte(src), opts)
	if diags.HasErrors() || f == nil {
		t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
	}
	return f.Job
}

// mustFail parses src and returns its error diagnostics, failing the test
// when there are none.
func mustFail(t *testing.T, src string, opts *ParseOptions) hcl.Diagnostics {
	t.Helper()
	f, diags := Parse("job.hcl", []byte(src), opts)
	if !diags.HasErrors() {
		t.Fatalf("expected an error, got none")
	}
	if f != nil {
		t.Fatalf("File must be nil when there are errors")
	}
	return errorsOf(diags)
}

func errorsOf(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

const minimal = `
job "web" {
  group "g" {
    task "t" {
      driver = "docker"
    }
  }
}
`

func TestParseDefaults(t *testing.T) {
	job := mustParse(t, minimal, nil)
	g := job.Groups[0]
	task := g.Tasks[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", job.Name, "web"},
		{"type", job.Type, JobTypeService},
		{"region", job.Region, "global"},
		{"namespace", job.Namespace, "default"},
		{"datacenters", strings.Join(job.Datacenters, ","), "*"},
		{"priority", job.Priority, 50},
		{"job update", job.Update == nil, true},
		{"count", g.Count, 1},
		{"update", *g.Update, UpdateStrategy{Stagger: 30 * time.Second, MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute}},
		{"migrate", *g.Migrate, Migrate{MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute}},
		{"reschedule", *g.Reschedule, ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true}},
		{"disk", *g.EphemeralDisk, EphemeralDisk{SizeMB: 300}},
		{"networks", len(g.Networks), 0},
		{"restart", *task.Restart, RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}},
		{"resources", task.Resources, Resources{CPU: 100, MemoryMB: 300}},
		{"kill_timeout", task.KillTimeout, 5 * time.Second},
		{"logs", task.Logs, Logs{MaxFiles: 10, MaxFileSizeMB: 10}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseTypeDefaults(t *testing.T) {
	tests := []struct {
		typ        JobType
		update     bool
		migrate    bool
		reschedule *ReschedulePolicy
		restart    RestartPolicy
	}{
		{JobTypeService, true, true, &ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true}, RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}},
		{JobTypeBatch, false, false, &ReschedulePolicy{Attempts: 1, Interval: 24 * time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"}, RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}},
		{JobTypeSystem, true, false, nil, RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}},
		{JobTypeSysBatch, false, false, nil, RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			src := strings.Replace(minimal, `job "web" {`, "job \"web\" {\n  type = \""+string(tt.typ)+"\"", 1)
			g := mustParse(t, src, nil).Groups[0]
			if (g.Update != nil) != tt.update {
				t.Errorf("update set = %v, want %v", g.Update != nil, tt.update)
			}
			if (g.Migrate != nil) != tt.migrate {
				t.Errorf("migrate set = %v, want %v", g.Migrate != nil, tt.migrate)
			}
			if (g.Reschedule == nil) != (tt.reschedule == nil) || (g.Reschedule != nil && *g.Reschedule != *tt.reschedule) {
				t.Errorf("reschedule = %+v, want %+v", g.Reschedule, tt.reschedule)
			}
			if *g.Tasks[0].Restart != tt.restart {
				t.Errorf("restart = %+v, want %+v", *g.Tasks[0].Restart, tt.restart)
			}
		})
	}
}

// Spelling Nomad's defaults out, or moving a block between levels where
// Nomad merges them, must not change the job.
func TestParseEquivalence(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		differ bool
	}{
		{name: "explicit service defaults", a: minimal, b: `
job "web" {
  name = "web"
  type = "service"
  region = "global"
  namespace = "default"
  datacenters = ["*"]
  priority = 50
  update {
    stagger = "30s"
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    progress_deadline = "10m"
    canary = 0
  }
  migrate {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }
  reschedule {
    delay = "30s"
    delay_function = "exponential"
    max_delay = "1h"
    unlimited = true
  }
  group "g" {
    count = 1
    ephemeral_disk { size = 300 }
    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }
    task "t" {
      driver = "docker"
      kill_timeout = "5s"
      resources {
        cpu = 100
        memory = 300
      }
      logs {
        max_files = 10
        max_file_size = 10
      }
    }
  }
}`},
		{name: "update at job or group level",
			a: `job "j" {
  update { max_parallel = 3 }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`,
			b: `job "j" {
  group "g" {
    update { max_parallel = 3 }
    task "t" {
 driver = "exec"
 }
  }
}`},
		{name: "restart at group or task level",
			a: `job "j" {
 group "g" {
  restart { attempts = 7 }
  task "t" {
 driver = "exec"
 }
}
}`,
			b: `job "j" {
 group "g" {
  task "t" {
    driver = "exec"
    restart { attempts = 7 }
  }
}
}`},
		{name: "cron or crons",
			a: `job "j" {
 type = "batch"
  periodic { cron = "*/5 * * * *" }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`,
			b: `job "j" {
 type = "batch"
  periodic {
    crons = ["*/5 * * * *"]
    enabled = true
    time_zone = "UTC"
  }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`},
		{name: "meta as block or argument",
			a: `job "j" {
 meta {
 a = "1"
 }
 group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`,
			b: `job "j" {
 meta = { a = 1 }
 group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`},
		{name: "template defaults",
			a: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  template {
    data = "x"
    destination = "local/x"
  }
}
}
}`,
			b: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  template {
    data = "x"
    destination = "local/x"
    change_mode = "restart"
    perms = "0644"
    left_delimiter = "{{"
    right_delimiter = "}}"
  }
}
}
}`},
		{name: "constraint operator alias",
			a: `job "j" {
 constraint {
  attribute = "${attr.kernel.name}"
  value = "linux"
}
 group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`,
			b: `job "j" {
 constraint {
  attribute = "${attr.kernel.name}"
  operator = "=="
  value = "linux"
}
 group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`},
		{name: "network mode default",
			a: `job "j" {
 group "g" {
  network {
    port "http" {
      to = -1
    }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`,
			b: `job "j" {
 group "g" {
  network {
    mode = "host"
    port "http" {}
  }
  task "t" {
 driver = "exec"
 }
 }
 }`},
		{name: "a real change is a change", differ: true,
			a: minimal,
			b: strings.Replace(minimal, `driver = "docker"`, `driver = "exec"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, hb := mustParse(t, tt.a, nil).Hash(), mustParse(t, tt.b, nil).Hash()
			if (ha != hb) != tt.differ {
				a, _ := mustParse(t, tt.a, nil).Canonical()
				b, _ := mustParse(t, tt.b, nil).Canonical()
				t.Errorf("hashes differ = %v, want %v\na: %s\nb: %s", ha != hb, tt.differ, a, b)
			}
		})
	}
}

const varJob = `
variable "dc" {
  type    = string
  default = "from-default"
}
variable "count" {
  type    = number
  default = 1
}
variable "dcs" {
  type    = list(string)
  default = ["x"]
}
job "j" {
  region      = var.dc
  datacenters = var.dcs
  group "g" {
    count = var.count
    task "t" {
 driver = "exec"
 }
  }
}
`

func TestParseVariables(t *testing.T) {
	tests := []struct {
		name   string
		opts   *ParseOptions
		region string
		count  int
		dcs    string
	}{
		{name: "defaults", opts: nil, region: "from-default", count: 1, dcs: "x"},
		{name: "NOMAD_VAR", opts: &ParseOptions{Environ: []string{"NOMAD_VAR_dc=nomad-env"}}, region: "nomad-env", count: 1, dcs: "x"},
		{name: "DROVER_VAR beats NOMAD_VAR",
			opts:   &ParseOptions{Environ: []string{"DROVER_VAR_dc=drover-env", "NOMAD_VAR_dc=nomad-env"}},
			region: "drover-env", count: 1, dcs: "x"},
		{name: "var file beats env",
			opts: &ParseOptions{
				Environ:  []string{"DROVER_VAR_dc=env"},
				VarFiles: []VarFile{{Name: "a.hcl", Src: []byte(`dc = "file"` + "\n" + `unrelated = 5`)}},
			},
			region: "file", count: 1, dcs: "x"},
		{name: "later var file wins",
			opts: &ParseOptions{VarFiles: []VarFile{
				{Name: "a.hcl", Src: []byte(`dc = "a"`)},
				{Name: "b.hcl", Src: []byte(`dc = "b"`)},
			}},
			region: "b", count: 1, dcs: "x"},
		{name: "-var beats var file",
			opts: &ParseOptions{
				VarFiles: []VarFile{{Name: "a.hcl", Src: []byte(`dc = "file"`)}},
				Vars:     map[string]string{"dc": "flag"},
			},
			region: "flag", count: 1, dcs: "x"},
		{name: "typed values from strings",
			opts:   &ParseOptions{Vars: map[string]string{"count": "3", "dcs": `["a", "b"]`}},
			region: "from-default", count: 3, dcs: "a,b"},
		{name: "number from environment",
			opts:   &ParseOptions{Environ: []string{"NOMAD_VAR_count=4"}},
			region: "from-default", count: 4, dcs: "x"},
		{name: "string var keeps quotes literally",
			opts:   &ParseOptions{Vars: map[string]string{"dc": `"q"`}},
			region: `"q"`, count: 1, dcs: "x"},
		{name: "undeclared values are ignored",
			opts:   &ParseOptions{Vars: map[string]string{"nope": "1"}, Environ: []string{"DROVER_VAR_other=1"}},
			region: "from-default", count: 1, dcs: "x"},
		{name: "var file numbers convert to string variables",
			opts:   &ParseOptions{VarFiles: []VarFile{{Name: "a.hcl", Src: []byte(`dc = 12`)}}},
			region: "12", count: 1, dcs: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := mustParse(t, varJob, tt.opts)
			if job.Region != tt.region {
				t.Errorf("region = %q, want %q", job.Region, tt.region)
			}
			if job.Groups[0].Count != tt.count {
				t.Errorf("count = %d, want %d", job.Groups[0].Count, tt.count)
			}
			if got := strings.Join(job.Datacenters, ","); got != tt.dcs {
				t.Errorf("datacenters = %q, want %q", got, tt.dcs)
			}
		})
	}
}

func TestParseVariableErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts *ParseOptions
		want string // substring of an error's summary + detail
	}{
		{name: "unset variable is named",
			src:  `variable "image" {}` + minimal,
			want: `Variable "image" has no default`},
		{name: "number variable gets a word",
			src:  strings.Replace(varJob, "", "", 1),
			opts: &ParseOptions{Vars: map[string]string{"count": "three"}},
			want: "Variables not allowed"},
		{name: "wrong default type",
			src: `variable "n" {
  type = number
  default = "x"
}
` + minimal,
			want: "must be of type number"},
		{name: "undeclared variable reference",
			src:  strings.Replace(minimal, `driver = "docker"`, `driver = var.nope`, 1),
			want: `does not have an attribute named "nope"`},
		{name: "validation fails",
			src: `variable "n" {
  type = number
  default = 0
  validation {
    condition     = var.n > 0
    error_message = "n must be positive"
  }
}` + minimal,
			want: "n must be positive"},
		{name: "duplicate variable",
			src:  `variable "a" { default = 1 }` + "\n" + `variable "a" { default = 2 }` + minimal,
			want: "Duplicate variable declaration"},
		{name: "bad var file",
			src:  varJob,
			opts: &ParseOptions{VarFiles: []VarFile{{Name: "bad.hcl", Src: []byte(`dc = `)}}},
			want: "bad.hcl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFail(t, tt.src, tt.opts)
			if !strings.Contains(diagText(errs), tt.want) {
				t.Errorf("want an error containing %q, got:\n%s", tt.want, diagText(errs))
			}
		})
	}
}

func TestParseLocals(t *testing.T) {
	src := `
locals {
  full = "${local.base}-${var.suffix}"
}
variable "suffix" { default = "v1" }
locals {
  base  = upper("app")
  ports = [for p in ["a", "b"] : "${p}-${NOMAD_PORT_http}"]
}
job "j" {
  group "g" {
    task "t" {
      driver = "exec"
      env {
        NAME  = local.full
        PORTS = join(",", local.ports)
      }
    }
  }
}`
	env := mustParse(t, src, nil).Groups[0].Tasks[0].Env
	if env["NAME"] != "APP-v1" {
		t.Errorf("NAME = %q, want APP-v1", env["NAME"])
	}
	if want := "a-${NOMAD_PORT_http},b-${NOMAD_PORT_http}"; env["PORTS"] != want {
		t.Errorf("PORTS = %q, want %q", env["PORTS"], want)
	}
}

func TestParseLocalCycles(t *testing.T) {
	tests := []struct {
		name, locals, want string
	}{
		{"self", `a = local.a`, "local.a -> local.a"},
		{"pair", "a = local.b\n b = local.a", "local.a -> local.b -> local.a"},
		{"long", "a = local.b\n b = local.c\n c = \"${local.a}x\"\n d = local.a", "local.a -> local.b -> local.c -> local.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "locals {\n" + tt.locals + "\n}\n" + strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      env = { A = local.a }`, 1)
			done := make(chan hcl.Diagnostics, 1)
			go func() {
				_, diags := Parse("job.hcl", []byte(src), nil)
				done <- diags
			}()
			select {
			case diags := <-done:
				text := diagText(errorsOf(diags))
				if !strings.Contains(text, "Cycle in local values") || !strings.Contains(text, tt.want) {
					t.Errorf("want a cycle error naming %q, got:\n%s", tt.want, text)
				}
				if n := strings.Count(text, "Cycle in local values"); n != 1 {
					t.Errorf("cycle reported %d times, want once", n)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Parse hangs on a cycle of locals")
			}
		})
	}
}

func TestRuntimeInterpolations(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{`"${attr.kernel.name}"`, "${attr.kernel.name}"},
		{`"http://${NOMAD_ADDR_http}/x"`, "http://${NOMAD_ADDR_http}/x"},
		{`"${node.unique.name}-${meta.rack}"`, "${node.unique.name}-${meta.rack}"},
		{`"${env.HOME}/bin"`, "${env.HOME}/bin"},
		{`"${ NOMAD_ALLOC_DIR }/data"`, "${ NOMAD_ALLOC_DIR }/data"},
		{`"${attr.unique.network.ip-address}"`, "${attr.unique.network.ip-address}"},
		{`"${meta["rack"]}"`, `${meta["rack"]}`},
		{`"$${not_interpolated}"`, "${not_interpolated}"},
		{`"${var.v}:${NOMAD_PORT_db}"`, "value:${NOMAD_PORT_db}"},
		{"<<EOT\nport=${NOMAD_PORT_http}\nEOT", "port=${NOMAD_PORT_http}\n"},
		{`"%{ if true }${NOMAD_TASK_NAME}%{ endif }"`, "${NOMAD_TASK_NAME}"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			src := `variable "v" { default = "value" }
job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  env = {
    X = ` + tt.expr + `
  }
  config {
    command = ` + tt.expr + `
  }
}
}
}`
			task := mustParse(t, src, nil).Groups[0].Tasks[0]
			if task.Env["X"] != tt.want {
				t.Errorf("env X = %q, want %q", task.Env["X"], tt.want)
			}
			if task.Config["command"] != tt.want {
				t.Errorf("config command = %q, want %q", task.Config["command"], tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		want      string // substring of summary or detail of some error
		line, col int    // its position; 0 = not checked
	}{
		{name: "vault block", src: `job "j" {
  group "g" {
    task "t" {
      driver = "docker"
      vault {
        policies = ["x"]
      }
    }
  }
}`, want: `Drover does not support the "vault" block`, line: 5, col: 7},
		{name: "artifact block", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  artifact { source = "http://x" }
}
}
}`, want: `Drover does not support the "artifact" block`, line: 5, col: 3},
		{name: "connect in service", src: `job "j" {
 group "g" {
  service {
    connect {
      sidecar_service {}
    }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `Drover does not support the "connect" block`, line: 4, col: 5},
		{name: "unsupported job argument", src: `job "j" {
  vault_token = "x"
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: `Drover does not support the "vault_token" argument`, line: 2, col: 3},
		{name: "typo argument suggests", src: `job "j" {
 group "g" {
  coutn = 3
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `Did you mean "count"?`, line: 3, col: 3},
		{name: "typo block suggests", src: `job "j" {
 group "g" {
  task "t" {
    driver = "exec"
    resorces { cpu = 1 }
  }
}
}`, want: `Did you mean "resources"?`, line: 5, col: 5},
		{name: "unsupported driver", src: `job "j" {
 group "g" {
 task "t" {
    driver = "java"
}
}
}`, want: "the supported drivers are docker, exec, qemu, raw_exec", line: 4, col: 14},
		{name: "invalid job type", src: `job "j" {
  type = "daemon"
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: `"daemon" is not one of`, line: 2, col: 10},
		{name: "bad duration", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  kill_timeout = "5 seconds"
}
}
}`, want: `"kill_timeout" must be a duration`, line: 5, col: 18},
		{name: "priority range", src: `job "j" {
  priority = 101
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: "from 1 to 100", line: 2, col: 14},
		{name: "huge count", src: `job "j" {
 group "g" {
  count = 1e400
  task "t" {
 driver = "exec"
 }
 }
 }`, want: "whole number", line: 3, col: 11},
		{name: "negative count", src: `job "j" {
 group "g" {
  count = -1
  task "t" {
 driver = "exec"
 }
 }
 }`, want: "whole number", line: 3, col: 11},
		{name: "fractional count", src: `job "j" {
 group "g" {
  count = 1.5
  task "t" {
 driver = "exec"
 }
 }
 }`, want: "whole number"},
		{name: "duplicate group", src: `job "j" {
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: "Duplicate group", line: 7, col: 9},
		{name: "duplicate task", src: `job "j" {
 group "g" {
  task "t" {
 driver = "exec"
 }
  task "t" {
 driver = "exec"
 }
}
}`, want: "Duplicate task", line: 6, col: 8},
		{name: "no task", src: `job "j" {
  group "g" {
    count = 1
  }
}`, want: "Missing task"},
		{name: "no group", src: `job "j" {
}`, want: "Missing group"},
		{name: "no job", src: `variable "x" { default = 1 }`, want: "Missing job"},
		{name: "two jobs", src: minimal + `job "k" {
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: "More than one job", line: 9, col: 1},
		{name: "job id with space", src: strings.Replace(minimal, `"web"`, `"my web"`, 1), want: "must not contain spaces", line: 2, col: 5},
		{name: "job id with slash", src: strings.Replace(minimal, `"web"`, `"a/b"`, 1), want: "slash"},
		{name: "duplicate port label", src: `job "j" {
 group "g" {
  network {
    port "http" {}
    port "http" {}
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: "Duplicate port label", line: 5, col: 10},
		{name: "two networks", src: `job "j" {
 group "g" {
  network {}
  network {}
  task "t" {
 driver = "exec"
 }
 }
 }`, want: "Duplicate network block", line: 4, col: 3},
		{name: "service port unknown", src: `job "j" {
 group "g" {
  network {
    port "http" {}
  }
  task "t" {
    driver = "exec"
    service { port = "htp" }
  }
}
}`, want: `Did you mean "http"?`, line: 8, col: 22},
		{name: "check without interval", src: `job "j" {
 group "g" {
  network {
    port "http" {}
  }
  service {
    port = "http"
    check {
      type = "tcp"
      timeout = "2s"
    }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `"interval" is required`},
		{name: "http check needs path", src: `job "j" {
 group "g" {
  network {
    port "http" {}
  }
  service {
    port = "http"
    check {
      type = "http"
      interval = "10s"
      timeout = "2s"
    }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `"path" is required`},
		{name: "grpc check", src: `job "j" {
 group "g" {
  service {
    check {
      type = "grpc"
      interval = "10s"
      timeout = "2s"
    }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `Drover does not support type "grpc"`, line: 5, col: 14},
		{name: "periodic on service", src: `job "j" {
  periodic { cron = "@daily" }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: `Job type "service" does not allow the periodic block`, line: 2, col: 3},
		{name: "update on batch", src: `job "j" {
  type = "batch"
  group "g" {
    update { canary = 1 }
    task "t" {
 driver = "exec"
 }
 }
 }`, want: `Job type "batch" does not allow the update block`, line: 4, col: 5},
		{name: "reschedule on system", src: `job "j" {
  type = "system"
  reschedule { attempts = 1 }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: `does not allow the reschedule block`, line: 3, col: 3},
		{name: "template without destination", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  template { data = "x" }
}
}
}`, want: `"destination" is required`, line: 5, col: 3},
		{name: "lifecycle hook", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  lifecycle { hook = "prerun" }
}
}
}`, want: `"prerun" is not one of "prestart", "poststart", "poststop"`, line: 5, col: 22},
		{name: "two leaders", src: `job "j" {
 group "g" {
  task "a" {
    driver = "exec"
    leader = true
  }
  task "b" {
    driver = "exec"
    leader = true
  }
}
}`, want: "More than one leader", line: 9, col: 5},
		{name: "bad regexp", src: `job "j" {
  constraint {
    attribute = "${attr.os.name}"
    regexp = "("
  }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, want: "Invalid regular expression", line: 4, col: 14},
		{name: "bad perms", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  template {
    data = "x"
    destination = "y"
    perms = "999"
  }
}
}
}`, want: "octal"},
		{name: "unknown function", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  user = nosuchfunction()
}
}
}`, want: "no function named"},
		{name: "bare runtime reference", src: `job "j" {
 group "g" {
 task "t" {
  driver = "exec"
  user = attr.os
}
}
}`, want: `no variable named "attr"`},
		{name: "syntax error", src: `job "j" {`, want: "Unclosed configuration block"},
		{name: "two resources blocks", src: `job "j" {
  group "g" {
    task "t" {
      driver = "exec"
      resources {
        memory_max = 20
      }
      resources {
        memory = 500
      }
    }
  }
}`, want: "Duplicate resources block", line: 8, col: 7},
		{name: "dynamic block", src: `job "j" {
 group "g" {
  dynamic "task" {
    for_each = ["a"]
    content { driver = "exec" }
  }
  task "t" {
 driver = "exec"
 }
 }
 }`, want: `Drover does not support the "dynamic" block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFail(t, tt.src, nil)
			for _, d := range errs {
				if !strings.Contains(d.Summary+"; "+d.Detail, tt.want) {
					continue
				}
				if tt.line == 0 {
					return
				}
				if d.Subject == nil {
					t.Fatalf("error %q has no position", d.Summary)
				}
				if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
					t.Errorf("error at %d:%d, want %d:%d", d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
				}
				if d.Subject.Filename != "job.hcl" {
					t.Errorf("error in file %q, want job.hcl", d.Subject.Filename)
				}
				return
			}
			t.Errorf("no error containing %q in:\n%s", tt.want, diagText(errs))
		})
	}
}

// A file's errors all come out of one parse.
func TestParseReportsAllErrors(t *testing.T) {
	src := `job "j" {
  priority = 0
  vault {}
  group "g" {
    count = -1
    task "t" {
      driver = "java"
      kill_timeout = "soon"
    }
  }
}`
	errs := mustFail(t, src, nil)
	for _, want := range []string{"priority", "vault", "count", "java", "kill_timeout"} {
		if !strings.Contains(diagText(errs), want) {
			t.Errorf("no error mentions %q:\n%s", want, diagText(errs))
		}
	}
	// Sorted by position.
	for i := 1; i < len(errs); i++ {
		if errs[i].Subject.Start.Byte < errs[i-1].Subject.Start.Byte {
			t.Errorf("diagnostics out of order:\n%s", diagText(errs))
		}
	}
}

func TestConstraints(t *testing.T) {
	tests := []struct {
		body string
		want *Constraint // nil: no constraint
	}{
		{`attribute = "${attr.kernel.name}"
          value = "linux"`, &Constraint{"${attr.kernel.name}", "=", "linux"}},
		{`attribute = "${attr.cpu.numcores}"
          operator = ">="
          value = "4"`, &Constraint{"${attr.cpu.numcores}", ">=", "4"}},
		{`distinct_hosts = true`, &Constraint{"", "distinct_hosts", ""}},
		{`distinct_hosts = false`, nil},
		{`distinct_property = "${meta.rack}"`, &Constraint{"${meta.rack}", "distinct_property", ""}},
		{`distinct_property = "${meta.rack}"
          value = "2"`, &Constraint{"${meta.rack}", "distinct_property", "2"}},
		{`attribute = "${attr.kernel.name}"
          regexp = "^lin"`, &Constraint{"${attr.kernel.name}", "regexp", "^lin"}},
		{`attribute = "${attr.nomad.version}"
          version = ">= 1.2"`, &Constraint{"${attr.nomad.version}", "version", ">= 1.2"}},
		{`attribute = "${attr.nomad.version}"
          semver = "~> 1.2"`, &Constraint{"${attr.nomad.version}", "semver", "~> 1.2"}},
		{`attribute = "${meta.tags}"
          set_contains = "a,b"`, &Constraint{"${meta.tags}", "set_contains", "a,b"}},
		{`attribute = "${meta.tags}"
          set_contains_any = "a"`, &Constraint{"${meta.tags}", "set_contains_any", "a"}},
		{`attribute = "${meta.gpu}"
          operator = "is_set"`, &Constraint{"${meta.gpu}", "is_set", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			src := "job \"j\" {\n constraint {\n" + tt.body + "\n }\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n }\n }\n}"
			got := mustParse(t, src, nil).Constraints
			switch {
			case tt.want == nil && len(got) != 0:
				t.Errorf("got %+v, want no constraint", got)
			case tt.want != nil && (len(got) != 1 || got[0] != *tt.want):
				t.Errorf("got %+v, want %+v", got, *tt.want)
			}
		})
	}
	errs := mustFail(t, "job \"j\" {\n constraint {\n attribute = \"a\"\n regexp = \"x\"\n version = \"1\"\n }\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n }\n }\n}", nil)
	if !strings.Contains(diagText(errs), "Conflicting operators") {
		t.Errorf("two shorthands: want a conflict, got:\n%s", diagText(errs))
	}
}

func TestPlacementDefaults(t *testing.T) {
	src := `job "j" {
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
  }
  spread {
    attribute = "${meta.rack}"
    target "r1" { percent = 60 }
    target "r2" { percent = 40 }
  }
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`
	job := mustParse(t, src, nil)
	if a := job.Affinities[0]; a != (Affinity{"${node.datacenter}", "=", "dc1", 50}) {
		t.Errorf("affinity = %+v", a)
	}
	s := job.Spreads[0]
	if s.Weight != 50 || len(s.Targets) != 2 || s.Targets[0] != (SpreadTarget{"r1", 60}) || s.Targets[1] != (SpreadTarget{"r2", 40}) {
		t.Errorf("spread = %+v", s)
	}
}

func TestConfigShape(t *testing.T) {
	src := `job "j" {
 group "g" {
 task "t" {
  driver = "docker"
  config {
    image = "redis:7"
    ports = ["db", "http"]
    n     = 3
    skip  = null
    mount {
      type   = "bind"
      target = "/a"
    }
    mount {
      type = "tmpfs"
    }
    labeled "l1" "l2" {
      k = true
    }
  }
}
}
}`
	cfg := mustParse(t, src, nil).Groups[0].Tasks[0].Config
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"image":"redis:7","labeled":[{"l1":[{"l2":[{"k":true}]}]}],"mount":[{"target":"/a","type":"bind"},{"type":"tmpfs"}],"n":3,"ports":["db","http"]}`
	if string(b) != want {
		t.Errorf("config =\n%s\nwant\n%s", b, want)
	}
}

func TestCanonicalDeterministic(t *testing.T) {
	src := `job "j" {
  meta {
    a = "1"
    b = "2"
    c = "3"
    d = "4"
  }
  group "g" {
    network {
      port "z" {}
      port "a" {}
    }
    task "t" {
      driver = "docker"
      env = { Z = "1", A = "2", M = "3" }
      config {
        labels {
          x = "1"
          y = "2"
        }
        args   = ["b", "a"]
      }
    }
  }
}`
	first, err := mustParse(t, src, nil).Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(first, []byte(`"ports":[{"label":"z"},{"label":"a"}]`)) {
		t.Errorf("port order not kept: %s", first)
	}
	var wg sync.WaitGroup
	results := make([][]byte, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, _ := Parse("job.hcl", []byte(src), nil)
			results[i], _ = f.Job.Canonical()
		}()
	}
	wg.Wait()
	for i, r := range results {
		if !bytes.Equal(r, first) {
			t.Fatalf("parse %d encodes differently:\n%s\n%s", i, r, first)
		}
	}
	if h := mustParse(t, src, nil).Hash(); !strings.HasPrefix(h, "sha256:") || len(h) != 71 {
		t.Errorf("hash %q has the wrong form", h)
	}
}

func TestSupportedDrivers(t *testing.T) {
	got := SupportedDrivers()
	if strings.Join(got, ",") != "docker,exec,qemu,raw_exec" {
		t.Errorf("SupportedDrivers() = %v", got)
	}
	got[0] = "changed"
	if SupportedDrivers()[0] != "docker" {
		t.Error("SupportedDrivers returns shared state")
	}
	for _, d := range []string{"docker", "exec", "qemu", "raw_exec"} {
		src := strings.Replace(minimal, `"docker"`, `"`+d+`"`, 1)
		if job := mustParse(t, src, nil); job.Groups[0].Tasks[0].Driver != d {
			t.Errorf("driver %q not kept as written", d)
		}
	}
}

func TestFunctions(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`upper("a")`, "A"},
		{`format("%s-%03d", "x", 7)`, "x-007"},
		{`join(",", concat(["a"], ["b"]))`, "a,b"},
		{`lookup({a = "1"}, "b", "d")`, "d"},
		{`base64encode("hi")`, "aGk="},
		{`base64decode("aGk=")`, "hi"},
		{`jsonencode({b = 1, a = [true]})`, `{"a":[true],"b":1}`},
		{`tostring(max(1, 5, 3))`, "5"},
		{`replace(trimspace(" a-b "), "-", "_")`, "a_b"},
		{`title(substr("hello", 0, 3))`, "Hel"},
		{`timeadd("2024-01-01T00:00:00Z", "1h")`, "2024-01-01T01:00:00Z"},
		{`try(tonumber("x"), "fallback")`, "fallback"},
		{`regex("[0-9]+", "ab12")`, "12"},
		{`length(range(3))`, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+tt.expr, 1)
			if got := mustParse(t, src, nil).Groups[0].Tasks[0].User; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
	for _, expr := range []string{`format("%999999999d", 1)`, `indent(99999999, "a\nb")`, `length(range(100000))`} {
		src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+expr, 1)
		mustFail(t, src, nil)
	}
}
