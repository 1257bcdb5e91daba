package jobspec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// wrapTask puts task-level HCL into a batch job's task, group-level HCL
// into its group and job-level HCL into the job.
func wrapJob(typ, job, group, task string) string {
	return `job "j" {
  type = "` + typ + `"
` + job + `
  group "g" {
` + group + `
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
` + task + `
    }
  }
}`
}

func ptr[T any](v T) *T { return &v }

// TestIssue15Blocks checks that each block Nomad accepts decodes to its
// Nomad meaning.
func TestIssue15Blocks(t *testing.T) {
	tests := []struct {
		name             string
		typ              string
		job, group, task string
		check            func(t *testing.T, j *Job)
	}{
		{name: "node_pool", typ: "service", job: `node_pool = "gpu"`, check: func(t *testing.T, j *Job) {
			if j.NodePool != "gpu" || j.JobNodePool() != "gpu" {
				t.Errorf("node pool %q", j.NodePool)
			}
		}},
		{name: "node_pool default is stored unset", typ: "service", job: `node_pool = "default"`, check: func(t *testing.T, j *Job) {
			if j.NodePool != "" || j.JobNodePool() != "default" {
				t.Errorf("node pool %q", j.NodePool)
			}
		}},
		{name: "ui", typ: "service", job: `ui {
  description = "A **job**"
  link {
    label = "Docs"
    url   = "https://example.com/docs"
  }
  link {
    label = "Repo"
    url   = "https://example.com/repo"
  }
}`, check: func(t *testing.T, j *Job) {
			want := &JobUI{Description: "A **job**", Links: []UILink{{"Docs", "https://example.com/docs"}, {"Repo", "https://example.com/repo"}}}
			if !reflect.DeepEqual(j.UI, want) {
				t.Errorf("ui = %+v", j.UI)
			}
		}},
		{name: "host volume and mount", typ: "service", group: `volume "data" {
  type      = "host"
  source    = "shared"
  read_only = true
  per_alloc = true
}`, task: `volume_mount {
  volume           = "data"
  destination      = "/srv/data/"
  read_only        = true
  propagation_mode = "host-to-task"
}`, check: func(t *testing.T, j *Job) {
			g := j.Groups[0]
			want := map[string]*VolumeRequest{"data": {Name: "data", Type: "host", Source: "shared", ReadOnly: true, PerAlloc: true}}
			if !reflect.DeepEqual(g.Volumes, want) {
				t.Errorf("volumes = %+v", g.Volumes["data"])
			}
			wm := []VolumeMount{{Volume: "data", Destination: "/srv/data", ReadOnly: true, PropagationMode: "host-to-task"}}
			if !reflect.DeepEqual(g.Tasks[0].VolumeMounts, wm) {
				t.Errorf("mounts = %+v", g.Tasks[0].VolumeMounts)
			}
		}},
		{name: "volume type defaults to host", typ: "service", group: `volume "d" { source = "s" }`, task: `volume_mount {
  volume = "d"
  destination = "local/d"
  propagation_mode = "private"
}`, check: func(t *testing.T, j *Job) {
			if v := j.Groups[0].Volumes["d"]; v.Type != "host" || v.Source != "s" {
				t.Errorf("volume = %+v", v)
			}
			if m := j.Groups[0].Tasks[0].VolumeMounts[0]; m.PropagationMode != "" || m.Destination != "local/d" {
				t.Errorf("mount = %+v", m)
			}
		}},
		{name: "scaling", typ: "service", group: `count = 3
scaling {
  min = 1
  max = 5
  policy {
    cooldown = "1m"
    check "cpu" {
      source = "prometheus"
    }
  }
}`, check: func(t *testing.T, j *Job) {
			g := j.Groups[0]
			if g.Count != 3 || g.Scaling.Min != 1 || g.Scaling.Max != 5 || !g.Scaling.Enabled {
				t.Errorf("count %d scaling %+v", g.Count, g.Scaling)
			}
			if g.Scaling.Policy["cooldown"] != "1m" || g.Scaling.Policy["check"] == nil {
				t.Errorf("policy = %v", g.Scaling.Policy)
			}
		}},
		{name: "scaling without count starts at min", typ: "service", group: `scaling {
  min = 2
  max = 3
  enabled = false
}`, check: func(t *testing.T, j *Job) {
			g := j.Groups[0]
			if g.Count != 2 || g.Scaling.Enabled {
				t.Errorf("count %d scaling %+v", g.Count, g.Scaling)
			}
		}},
		{name: "scaling without min takes count", typ: "service", group: `count = 4
scaling { max = 10 }`, check: func(t *testing.T, j *Job) {
			if s := j.Groups[0].Scaling; s.Min != 4 || s.Max != 10 {
				t.Errorf("scaling %+v", s)
			}
		}},
		{name: "disconnect block", typ: "service", group: `disconnect {
  lost_after = "6h"
  replace    = false
  reconcile  = "keep_original"
}`, check: func(t *testing.T, j *Job) {
			want := &Disconnect{LostAfter: 6 * time.Hour, Replace: ptr(false), Reconcile: "keep_original"}
			if !reflect.DeepEqual(j.Groups[0].Disconnect, want) {
				t.Errorf("disconnect = %+v", j.Groups[0].Disconnect)
			}
		}},
		{name: "disconnect stop_on_client_after", typ: "batch", group: `disconnect {
  stop_on_client_after = "5s"
  replace = true
}`, check: func(t *testing.T, j *Job) {
			want := &Disconnect{StopOnClientAfter: 5 * time.Second, Reconcile: "best_score"}
			if !reflect.DeepEqual(j.Groups[0].Disconnect, want) {
				t.Errorf("disconnect = %+v", j.Groups[0].Disconnect)
			}
		}},
		{name: "max_client_disconnect", typ: "service", group: `max_client_disconnect = "1h"
prevent_reschedule_on_lost = true`, check: func(t *testing.T, j *Job) {
			want := &Disconnect{LostAfter: time.Hour, Replace: ptr(false), Reconcile: "best_score"}
			if !reflect.DeepEqual(j.Groups[0].Disconnect, want) {
				t.Errorf("disconnect = %+v", j.Groups[0].Disconnect)
			}
		}},
		{name: "stop_after_client_disconnect", typ: "service", group: `stop_after_client_disconnect = "90s"`, check: func(t *testing.T, j *Job) {
			want := &Disconnect{StopOnClientAfter: 90 * time.Second, Reconcile: "best_score"}
			if !reflect.DeepEqual(j.Groups[0].Disconnect, want) {
				t.Errorf("disconnect = %+v", j.Groups[0].Disconnect)
			}
		}},
		{name: "max_run_duration", typ: "batch", group: `max_run_duration = "1h"`, task: `max_run_duration = "5m"`, check: func(t *testing.T, j *Job) {
			if j.Groups[0].MaxRunDuration != time.Hour || j.Groups[0].Tasks[0].MaxRunDuration != 5*time.Minute {
				t.Errorf("max_run_duration %v / %v", j.Groups[0].MaxRunDuration, j.Groups[0].Tasks[0].MaxRunDuration)
			}
		}},
		{name: "dispatch_payload", typ: "batch", job: `parameterized { payload = "required" }`, task: `dispatch_payload { file = "in/./payload.json" }`, check: func(t *testing.T, j *Job) {
			if p := j.Groups[0].Tasks[0].DispatchPayload; p == nil || p.File != "in/payload.json" {
				t.Errorf("dispatch_payload = %+v", p)
			}
		}},
		{name: "identities", typ: "service", task: `identity {
  env  = true
  file = true
}
identity {
  name          = "vault"
  aud           = ["vault.io"]
  ttl           = "1h"
  change_mode   = "signal"
  change_signal = "sighup"
}
identity "other" {
  file = true
  change_mode = "noop"
}`, check: func(t *testing.T, j *Job) {
			want := []WorkloadIdentity{
				{Name: "default", Env: true, File: true},
				{Name: "vault", Audience: []string{"vault.io"}, TTL: time.Hour, ChangeMode: "signal", ChangeSignal: "SIGHUP"},
				{Name: "other", File: true},
			}
			if got := j.Groups[0].Tasks[0].Identities; !reflect.DeepEqual(got, want) {
				t.Errorf("identities = %+v", got)
			}
		}},
		{name: "actions", typ: "service", task: `action "echo" {
  command = "/bin/echo"
  args    = ["hi"]
}
action "date" { command = "date" }`, check: func(t *testing.T, j *Job) {
			want := []Action{{Name: "echo", Command: "/bin/echo", Args: []string{"hi"}}, {Name: "date", Command: "date"}}
			if got := j.Groups[0].Tasks[0].Actions; !reflect.DeepEqual(got, want) {
				t.Errorf("actions = %+v", got)
			}
		}},
		{name: "template options", typ: "service", task: `template {
  data        = "x"
  destination = "local/x"
  splay       = "10s"
  uid         = 1000
  gid         = 0
  once        = true
  error_on_missing_key = true
  change_mode = "script"
  wait {
    min = "5s"
    max = "1m"
  }
  change_script {
    command       = "/local/reload.sh"
    args          = ["-q"]
    timeout       = "20s"
    fail_on_error = true
  }
}`, check: func(t *testing.T, j *Job) {
			tm := j.Groups[0].Tasks[0].Templates[0]
			want := defaultTemplate()
			want.Data, want.Destination, want.Splay = "x", "local/x", 10*time.Second
			want.UID, want.GID, want.Once, want.ErrorOnMissingKey = ptr(1000), ptr(0), true, true
			want.ChangeMode = "script"
			want.Wait = &TemplateWait{Min: 5 * time.Second, Max: time.Minute}
			want.ChangeScript = &ChangeScript{Command: "/local/reload.sh", Args: []string{"-q"}, Timeout: 20 * time.Second, FailOnError: true}
			if !reflect.DeepEqual(tm, want) {
				t.Errorf("template = %+v", tm)
			}
		}},
		{name: "service address_mode and on_update", typ: "service", group: `network {
  hostname = "web-1"
  port "http" {}
}
service {
  port = "http"
  address_mode = "alloc"
  on_update = "ignore"
  check {
    type = "tcp"
    interval = "10s"
    timeout = "2s"
    address_mode = "driver"
    on_update = "ignore_warnings"
  }
}`, check: func(t *testing.T, j *Job) {
			g := j.Groups[0]
			s := g.Services[0]
			if s.AddressMode != "alloc" || s.OnUpdate != "ignore" || s.Checks[0].AddressMode != "driver" || s.Checks[0].OnUpdate != "ignore_warnings" {
				t.Errorf("service = %+v", s)
			}
			if g.Networks[0].Hostname != "web-1" {
				t.Errorf("hostname = %q", g.Networks[0].Hostname)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, wrapJob(tt.typ, tt.job, tt.group, tt.task), nil))
		})
	}
}

// TestIssue15BlockErrors checks Nomad's validation of the new blocks:
// each bad file is refused at the right place with a message that says
// what to do.
func TestIssue15BlockErrors(t *testing.T) {
	tests := []struct {
		name             string
		typ              string
		job, group, task string
		want             string
	}{
		{name: "bad node pool", typ: "service", job: `node_pool = "a b"`, want: "node pool name"},
		{name: "ui link without url", typ: "service", job: `ui {
  link { label = "x" }
}`, want: `"url" is required`},
		{name: "csi volume", typ: "service", group: `volume "v" {
  type = "csi"
  source = "x"
}`, want: "Drover has no CSI"},
		{name: "mount_options", typ: "service", group: `volume "v" {
  source = "x"
  mount_options { fs_type = "ext4" }
}`, want: "Drover has no CSI"},
		{name: "volume without source", typ: "service", group: `volume "v" { type = "host" }`, want: `"source" is required`},
		{name: "duplicate volume", typ: "service", group: `volume "v" { source = "x" }
volume "v" { source = "y" }`, want: "Duplicate volume"},
		{name: "mount of unknown volume", typ: "service", group: `volume "data" { source = "x" }`, task: `volume_mount {
  volume = "dat"
  destination = "/d"
}`, want: `Did you mean "data"`},
		{name: "mount without volumes", typ: "service", task: `volume_mount {
  volume = "data"
  destination = "/d"
}`, want: `Declare it in the group`},
		{name: "mount escaping", typ: "service", group: `volume "v" { source = "x" }`, task: `volume_mount {
  volume = "v"
  destination = "/srv/../etc"
}`, want: `".."`},
		{name: "bad propagation", typ: "service", group: `volume "v" { source = "x" }`, task: `volume_mount {
  volume = "v"
  destination = "/d"
  propagation_mode = "shared"
}`, want: `"shared" is not one of`},
		{name: "count above max", typ: "service", group: `count = 6
scaling {
  min = 1
  max = 5
}`, want: "outside its scaling block"},
		{name: "count below min", typ: "service", group: `count = 0
scaling {
  min = 1
  max = 5
}`, want: "outside its scaling block"},
		{name: "max below min", typ: "service", group: `scaling {
  min = 3
  max = 2
}`, want: "at least min"},
		{name: "scaling without max", typ: "service", group: `scaling { min = 1 }`, want: `"max" is required`},
		{name: "task scaling cpu", typ: "service", task: `scaling "cpu" {
  min = 100
  max = 200
}`, want: "Nomad Enterprise"},
		{name: "group scaling cpu", typ: "service", group: `scaling "mem" { max = 2 }`, want: "Nomad Enterprise"},
		{name: "bad reconcile", typ: "service", group: `disconnect { reconcile = "newest" }`, want: `"newest" is not one of`},
		{name: "old and new disconnect", typ: "service", group: `max_client_disconnect = "1h"
disconnect { lost_after = "1h" }`, want: "use only the disconnect block"},
		{name: "lost and stop", typ: "service", group: `disconnect {
  lost_after = "1h"
  stop_on_client_after = "1m"
}`, want: "not both"},
		{name: "old lost and stop", typ: "service", group: `max_client_disconnect = "1h"
stop_after_client_disconnect = "1m"`, want: "not both"},
		{name: "stop_on_client_after in system job", typ: "system", group: `disconnect { stop_on_client_after = "1m" }`, want: "only applies to service and batch"},
		{name: "max_run_duration in service", typ: "service", group: `max_run_duration = "1h"`, want: "batch and sysbatch"},
		{name: "task max_run_duration in system", typ: "system", task: `max_run_duration = "1h"`, want: "batch and sysbatch"},
		{name: "dispatch_payload without parameterized", typ: "batch", task: `dispatch_payload { file = "p" }`, want: "add a parameterized block"},
		{name: "dispatch_payload absolute", typ: "batch", job: `parameterized {}`, task: `dispatch_payload { file = "/etc/passwd" }`, want: "it is absolute"},
		{name: "dispatch_payload climbing", typ: "batch", job: `parameterized {}`, task: `dispatch_payload { file = "../../x" }`, want: `".."`},
		{name: "duplicate identity", typ: "service", task: `identity { env = true }
identity { file = true }`, want: "Duplicate identity"},
		{name: "identity label and name differ", typ: "service", task: `identity "a" { name = "b" }`, want: `the block's label "a"`},
		{name: "identity signal without signal", typ: "service", task: `identity {
  name = "x"
  change_mode = "signal"
}`, want: "needs change_signal"},
		{name: "identity bad change_mode", typ: "service", task: `identity { change_mode = "script" }`, want: `"script" is not one of`},
		{name: "action without command", typ: "service", task: `action "a" { args = ["x"] }`, want: `"command" is required`},
		{name: "duplicate action", typ: "service", task: `action "a" { command = "x" }
action "a" { command = "y" }`, want: "Duplicate action"},
		{name: "script without change_script", typ: "service", task: `template {
  data = "x"
  destination = "local/x"
  change_mode = "script"
}`, want: "needs a change_script"},
		{name: "wait max below min", typ: "service", task: `template {
  data = "x"
  destination = "local/x"
  wait {
    min = "1m"
    max = "1s"
  }
}`, want: "at least min"},
		{name: "service address_mode", typ: "service", group: `network {
  port "http" {}
}
service {
  port = "http"
  address_mode = "bridge"
}`, want: `"bridge" is not one of`},
		{name: "check address_mode auto", typ: "service", group: `network {
  port "http" {}
}
service {
  port = "http"
  check {
    type = "tcp"
    interval = "10s"
    timeout = "2s"
    address_mode = "auto"
  }
}`, want: "only valid for a service"},
		{name: "check on_update", typ: "service", group: `network {
  port "http" {}
}
service {
  port = "http"
  on_update = "sometimes"
}`, want: `"sometimes" is not one of`},
		{name: "cni mode", typ: "service", group: `network { mode = "cni/mynet" }`, want: `use mode = "bridge"`},
		{name: "cni block", typ: "service", group: `network {
  mode = "bridge"
  cni { args = { a = "b" } }
}`, want: `use mode = "bridge"`},
		{name: "task schedule", typ: "service", task: `schedule {
  cron { start = "0 3 * * *" }
}`, want: "Nomad Enterprise"},
		{name: "multiregion", typ: "service", job: `multiregion {}`, want: "Nomad Enterprise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFail(t, wrapJob(tt.typ, tt.job, tt.group, tt.task), nil)
			for _, d := range errs {
				if strings.Contains(d.Summary+"; "+d.Detail, tt.want) {
					if d.Subject == nil || d.Subject.Start.Line == 0 {
						t.Errorf("error %q has no position", d.Summary)
					}
					return
				}
			}
			t.Errorf("no error containing %q in:\n%s", tt.want, diagText(errs))
		})
	}
}
