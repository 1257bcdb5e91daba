package diff_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

func jobs(js ...*jobspec.Job) map[string]*jobspec.Job {
	m := make(map[string]*jobspec.Job, len(js))
	for _, j := range js {
		m[j.ID] = j
	}
	return m
}

// update diffs difftest.Job("web") against a copy changed by mutate, after
// prepare was applied to both.
func update(t *testing.T, prepare, mutate func(*jobspec.Job)) *diff.JobDiff {
	t.Helper()
	old := difftest.Job("web")
	if prepare != nil {
		prepare(old)
	}
	new := difftest.Clone(old)
	mutate(new)
	p := diff.Compute(jobs(old), jobs(new), diff.Options{})
	if len(p.Jobs) != 1 {
		t.Fatalf("plan has %d jobs, want 1", len(p.Jobs))
	}
	return p.Jobs[0]
}

func task(j *jobspec.Job) *jobspec.Task { return j.Groups[0].Tasks[0] }

func group(d *diff.JobDiff, name string) *diff.GroupDiff {
	for _, g := range d.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

func reasons(g *diff.GroupDiff) []string {
	var out []string
	for _, r := range g.Reasons {
		out = append(out, r.String())
	}
	return out
}

// TestDestructiveChanges follows Nomad's tasksUpdated: each of these
// replaces the group's allocations and names the field that forced it.
func TestDestructiveChanges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*jobspec.Job)
		reason string
	}{
		{"driver", func(j *jobspec.Job) { task(j).Driver = "podman" }, `task "server": driver changed`},
		{"user", func(j *jobspec.Job) { task(j).User = "nobody" }, `task "server": user added`},
		{"config value", func(j *jobspec.Job) { task(j).Config["image"] = "nginx:1.27" }, `task "server": config.image changed`},
		{"config list element", func(j *jobspec.Job) { task(j).Config["args"] = []any{"-g", "daemon on;"} }, `task "server": config.args[1] changed`},
		{"config nested block", func(j *jobspec.Job) {
			task(j).Config["mount"] = []any{map[string]any{"source": "a"}}
		}, `task "server": config.mount[0].source added`},
		{"env edited", func(j *jobspec.Job) { task(j).Env["LOG_LEVEL"] = "debug" }, `task "server": env.LOG_LEVEL changed`},
		{"env added", func(j *jobspec.Job) { task(j).Env["NEW"] = "1" }, `task "server": env.NEW added`},
		{"env removed", func(j *jobspec.Job) { delete(task(j).Env, "LOG_LEVEL") }, `task "server": env removed`},
		{"task meta", func(j *jobspec.Job) { task(j).Meta = map[string]string{"v": "2"} }, `task "server": meta added`},
		{"group meta", func(j *jobspec.Job) { j.Groups[0].Meta = map[string]string{"v": "2"} }, `group "web": meta added`},
		{"job meta", func(j *jobspec.Job) { j.Meta["owner"] = "team-api" }, `job: meta.owner changed`},
		{"template added", func(j *jobspec.Job) {
			task(j).Templates = []jobspec.Template{{Destination: "local/a.conf", Data: "x"}}
		}, `task "server": template[local/a.conf] added`},
		{"cpu", func(j *jobspec.Job) { task(j).Resources.CPU = 200 }, `task "server": resources.cpu changed`},
		{"cores", func(j *jobspec.Job) { task(j).Resources.Cores = 2 }, `task "server": resources.cores changed`},
		{"memory", func(j *jobspec.Job) { task(j).Resources.MemoryMB = 256 }, `task "server": resources.memory changed`},
		{"memory max", func(j *jobspec.Job) { task(j).Resources.MemoryMaxMB = 512 }, `task "server": resources.memory_max changed`},
		{"logs disabled", func(j *jobspec.Job) { task(j).Logs.Disabled = true }, `task "server": logs.disabled changed`},
		{"restart render_templates", func(j *jobspec.Job) { task(j).Restart.RenderTemplates = true }, `task "server": restart.render_templates changed`},
		{"task affinity", func(j *jobspec.Job) {
			task(j).Affinities = []jobspec.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "big", Weight: 50}}
		}, `task "server": affinity[${node.class} = big weight=50] added`},
		{"group affinity", func(j *jobspec.Job) {
			j.Groups[0].Affinities = []jobspec.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "big", Weight: 50}}
		}, `group "web": affinity[${node.class} = big weight=50] added`},
		{"job spread", func(j *jobspec.Job) {
			j.Spreads = []jobspec.Spread{{Attribute: "${node.datacenter}", Weight: 100}}
		}, `job: spread[${node.datacenter}] added`},
		{"network mode", func(j *jobspec.Job) { j.Groups[0].Networks[0].Mode = "host" }, `group "web": network.mode changed`},
		{"port to", func(j *jobspec.Job) { j.Groups[0].Networks[0].Ports[0].To = 9090 }, `group "web": network.port[http].to changed`},
		{"port static", func(j *jobspec.Job) { j.Groups[0].Networks[0].Ports[0].Static = 80 }, `group "web": network.port[http].static changed`},
		{"port added", func(j *jobspec.Job) {
			n := &j.Groups[0].Networks[0]
			n.Ports = append(n.Ports, jobspec.Port{Label: "metrics"})
		}, `group "web": network.port[metrics] added`},
		{"ephemeral disk", func(j *jobspec.Job) { j.Groups[0].EphemeralDisk.SizeMB = 500 }, `group "web": ephemeral_disk.size changed`},
		{"task added", func(j *jobspec.Job) {
			j.Groups[0].Tasks = append(j.Groups[0].Tasks, difftest.Task("sidecar"))
		}, `task "sidecar" added`},
		{"task removed", func(j *jobspec.Job) {
			j.Groups[0].Tasks = append(j.Groups[0].Tasks[:0:0], difftest.Task("other"))
		}, `task "server" removed`},
		{"namespace", func(j *jobspec.Job) { j.Namespace = "prod" }, `job: namespace changed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := update(t, nil, tt.mutate)
			g := group(d, "web")
			if want := (diff.Updates{Destructive: 2}); g.Updates != want {
				t.Errorf("updates = %+v, want %+v", g.Updates, want)
			}
			if got := reasons(g); !contains(got, tt.reason) {
				t.Errorf("reasons = %q, want one %q", got, tt.reason)
			}
		})
	}
}

// TestInPlaceChanges: these reach running allocations without replacing
// them.
func TestInPlaceChanges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*jobspec.Job)
		path   string // a field the diff must show
	}{
		{"kill timeout", func(j *jobspec.Job) { task(j).KillTimeout = 30 * time.Second }, "kill_timeout"},
		{"kill signal", func(j *jobspec.Job) { task(j).KillSignal = "SIGINT" }, "kill_signal"},
		{"shutdown delay", func(j *jobspec.Job) { task(j).ShutdownDelay = time.Second }, "shutdown_delay"},
		{"leader", func(j *jobspec.Job) { task(j).Leader = true }, "leader"},
		{"lifecycle", func(j *jobspec.Job) { task(j).Lifecycle = &jobspec.Lifecycle{Hook: "prestart"} }, "lifecycle.hook"},
		{"logs size", func(j *jobspec.Job) { task(j).Logs.MaxFiles = 3 }, "logs.max_files"},
		{"restart attempts", func(j *jobspec.Job) { task(j).Restart.Attempts = 5 }, "restart.attempts"},
		{"task constraint", func(j *jobspec.Job) {
			task(j).Constraints = []jobspec.Constraint{{Operator: "distinct_hosts", Value: "true"}}
		}, "constraint[distinct_hosts true].operator"},
		{"task service", func(j *jobspec.Job) { task(j).Services = []jobspec.Service{{Name: "x"}} }, "service[x].name"},
		{"group update", func(j *jobspec.Job) { j.Groups[0].Update.MaxParallel = 2 }, "update.max_parallel"},
		{"group migrate", func(j *jobspec.Job) { j.Groups[0].Migrate.MaxParallel = 2 }, "migrate.max_parallel"},
		{"group reschedule", func(j *jobspec.Job) { j.Groups[0].Reschedule.Unlimited = false }, "reschedule.unlimited"},
		{"service tags", func(j *jobspec.Job) { j.Groups[0].Services[0].Tags = []string{"v2"} }, "service[web].tags[v2]"},
		{"check interval", func(j *jobspec.Job) { j.Groups[0].Services[0].Checks[0].Interval = 20 * time.Second }, "service[web].check[alive].interval"},
		{"service check_restart", func(j *jobspec.Job) { j.Groups[0].Services[0].CheckRestart = &jobspec.CheckRestart{Limit: 3} }, "service[web].check_restart.limit"},
		{"group constraint", func(j *jobspec.Job) {
			j.Groups[0].Constraints = []jobspec.Constraint{{Attribute: "${meta.rack}", Operator: "=", Value: "r1"}}
		}, "constraint[${meta.rack} = r1].attribute"},
		{"job priority", func(j *jobspec.Job) { j.Priority = 70 }, "priority"},
		{"job datacenters", func(j *jobspec.Job) { j.Datacenters = []string{"dc1", "dc2"} }, "datacenters[dc2]"},
		{"job constraint", func(j *jobspec.Job) { j.Constraints = nil }, "constraint[${attr.kernel.name} = linux]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := update(t, nil, tt.mutate)
			g := group(d, "web")
			if want := (diff.Updates{InPlace: 2}); g.Updates != want {
				t.Errorf("updates = %+v, want %+v (reasons %q)", g.Updates, want, reasons(g))
			}
			if !hasPath(d, tt.path) {
				t.Errorf("no diff at path %q", tt.path)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	count := func(n int) func(*jobspec.Job) { return func(j *jobspec.Job) { j.Groups[0].Count = n } }
	both := func(fs ...func(*jobspec.Job)) func(*jobspec.Job) {
		return func(j *jobspec.Job) {
			for _, f := range fs {
				f(j)
			}
		}
	}
	image := func(j *jobspec.Job) { task(j).Config["image"] = "nginx:1.27" }
	kill := func(j *jobspec.Job) { task(j).KillTimeout = time.Minute }
	tests := []struct {
		name       string
		prepare    func(*jobspec.Job)
		mutate     func(*jobspec.Job)
		want       diff.Updates
		annotation string
	}{
		{"grow only", nil, count(3), diff.Updates{Create: 1, Ignore: 2}, diff.AnnotationForcesCreate},
		{"grow destructive", nil, both(count(3), image), diff.Updates{Create: 1, Destructive: 2}, diff.AnnotationForcesCreate},
		{"shrink in place", count(3), both(count(1), kill), diff.Updates{Destroy: 2, InPlace: 1}, diff.AnnotationForcesDestroy},
		{"shrink to zero", nil, both(count(0), image), diff.Updates{Destroy: 2}, diff.AnnotationForcesDestroy},
		{"grow from zero", count(0), count(2), diff.Updates{Create: 2}, diff.AnnotationForcesCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := update(t, tt.prepare, tt.mutate)
			g := group(d, "web")
			if g.Updates != tt.want {
				t.Errorf("updates = %+v, want %+v", g.Updates, tt.want)
			}
			f := field(g.Fields, "count")
			if f == nil || !reflect.DeepEqual(f.Annotations, []string{tt.annotation}) {
				t.Errorf("count field = %+v, want annotation %q", f, tt.annotation)
			}
		})
	}
	if got := (diff.Updates{Create: 1, Destructive: 2}).String(); got != "1 create, 2 create/destroy update" {
		t.Errorf("Updates.String() = %q", got)
	}
	if got := (diff.Updates{Destroy: 2, InPlace: 1}).String(); got != "2 destroy, 1 in-place update" {
		t.Errorf("Updates.String() = %q", got)
	}
}

func TestCreateAndStop(t *testing.T) {
	a, b := difftest.Job("a"), difftest.Job("b")
	b.Groups = append(b.Groups, difftest.Group("api", 3))
	same := difftest.Job("same")
	p := diff.Compute(jobs(a, same), jobs(b, difftest.Clone(same)), diff.Options{})
	if got, want := p.Summary(), (diff.Summary{Create: 1, Stop: 1}); got != want {
		t.Fatalf("summary = %+v, want %+v", got, want)
	}
	if !p.HasChanges() || p.Unchanged != 1 || len(p.Jobs) != 2 {
		t.Fatalf("plan = %+v", p)
	}
	stop, create := p.Jobs[0], p.Jobs[1]
	if stop.ID != "a" || stop.Type != diff.DiffTypeDeleted || stop.Action() != "stop" {
		t.Errorf("job a = %s %s", stop.Type, stop.Action())
	}
	if u := stop.Updates(); u != (diff.Updates{Destroy: 2}) {
		t.Errorf("stop updates = %+v", u)
	}
	if create.ID != "b" || create.Type != diff.DiffTypeAdded || create.Action() != "create" {
		t.Errorf("job b = %s %s", create.Type, create.Action())
	}
	if g := group(create, "api"); g.Updates != (diff.Updates{Create: 3}) || g.Type != diff.DiffTypeAdded {
		t.Errorf("group api = %+v", g)
	}
	if tk := group(create, "web").Tasks[0]; !reflect.DeepEqual(tk.Annotations, []string{diff.AnnotationForcesCreate}) {
		t.Errorf("created task annotations = %q", tk.Annotations)
	}
	if tk := group(stop, "web").Tasks[0]; !reflect.DeepEqual(tk.Annotations, []string{diff.AnnotationForcesDestroy}) {
		t.Errorf("stopped task annotations = %q", tk.Annotations)
	}

	none := diff.Compute(jobs(same), jobs(difftest.Clone(same)), diff.Options{})
	if none.HasChanges() || none.Summary() != (diff.Summary{}) || none.Unchanged != 1 {
		t.Errorf("unchanged plan = %+v", none)
	}
}

func TestGroupAddedAndRemoved(t *testing.T) {
	d := update(t, nil, func(j *jobspec.Job) {
		j.Groups = append(j.Groups, difftest.Group("api", 3))
	})
	if g := group(d, "api"); g.Type != diff.DiffTypeAdded || g.Updates != (diff.Updates{Create: 3}) {
		t.Errorf("added group = %s %+v", g.Type, g.Updates)
	}
	// The untouched group is listed, as Nomad does, with its allocations
	// ignored.
	if g := group(d, "web"); g.Type != diff.DiffTypeNone || g.Updates != (diff.Updates{Ignore: 2}) {
		t.Errorf("unchanged group = %s %+v", g.Type, g.Updates)
	}

	d = update(t, func(j *jobspec.Job) {
		j.Groups = append(j.Groups, difftest.Group("api", 3))
	}, func(j *jobspec.Job) { j.Groups = j.Groups[:1] })
	if g := group(d, "api"); g.Type != diff.DiffTypeDeleted || g.Updates != (diff.Updates{Destroy: 3}) {
		t.Errorf("removed group = %s %+v", g.Type, g.Updates)
	}
}

func TestListDiffs(t *testing.T) {
	t.Run("reordered lists are no change", func(t *testing.T) {
		old := difftest.Job("web")
		old.Groups[0].Services = append(old.Groups[0].Services, jobspec.Service{Name: "admin"})
		old.Constraints = append(old.Constraints, jobspec.Constraint{Operator: "distinct_hosts", Value: "true"})
		new := difftest.Clone(old)
		s := new.Groups[0].Services
		s[0], s[1] = s[1], s[0]
		c := new.Constraints
		c[0], c[1] = c[1], c[0]
		if p := diff.Compute(jobs(old), jobs(new), diff.Options{}); p.HasChanges() {
			t.Errorf("reordering changed the plan: %+v", p.Jobs[0])
		}
	})
	t.Run("service edited by name", func(t *testing.T) {
		d := update(t, nil, func(j *jobspec.Job) { j.Groups[0].Services[0].Port = "admin" })
		o := group(d, "web").Objects
		if len(o) != 1 || o[0].Name != "Service" || o[0].Key != "web" || o[0].Type != diff.DiffTypeEdited {
			t.Fatalf("objects = %+v", o)
		}
		if f := field(o[0].Fields, "service[web].port"); f == nil || f.Old != "http" || f.New != "admin" {
			t.Errorf("port field = %+v", f)
		}
	})
	t.Run("constraint edited by content", func(t *testing.T) {
		d := update(t, nil, func(j *jobspec.Job) { j.Constraints[0].Value = "windows" })
		var types []diff.DiffType
		for _, o := range d.Objects {
			types = append(types, o.Type)
		}
		if !reflect.DeepEqual(types, []diff.DiffType{diff.DiffTypeDeleted, diff.DiffTypeAdded}) {
			t.Errorf("constraint objects = %v, want one added and one deleted", types)
		}
	})
	t.Run("template by destination", func(t *testing.T) {
		tmpl := func(j *jobspec.Job) {
			task(j).Templates = []jobspec.Template{{Destination: "a"}, {Destination: "b", Perms: "0644"}}
		}
		d := update(t, tmpl, func(j *jobspec.Job) {
			ts := task(j).Templates
			ts[0], ts[1] = ts[1], ts[0]
			ts[0].Perms = "0600"
		})
		o := group(d, "web").Tasks[0].Objects
		if len(o) != 1 || o[0].Key != "b" {
			t.Fatalf("objects = %+v", o)
		}
		if f := field(o[0].Fields, "template[b].perms"); f == nil || f.Old != "0644" || f.New != "0600" {
			t.Errorf("perms field = %+v", f)
		}
	})
	t.Run("durations are printed as durations", func(t *testing.T) {
		d := update(t, nil, func(j *jobspec.Job) { j.Groups[0].Update.MinHealthyTime = 90 * time.Second })
		f := find(d, "update.min_healthy_time")
		if f == nil || f.Old != "10s" || f.New != "1m30s" {
			t.Errorf("field = %+v", f)
		}
	})
	t.Run("destructive field is annotated", func(t *testing.T) {
		d := update(t, nil, func(j *jobspec.Job) { task(j).Config["image"] = "nginx:1.27" })
		f := find(d, "config.image")
		if f == nil || f.Type != diff.DiffTypeEdited || !reflect.DeepEqual(f.Annotations, []string{diff.AnnotationForcesDestructiveUpdate}) {
			t.Errorf("field = %+v", f)
		}
		if a := group(d, "web").Tasks[0].Annotations; !reflect.DeepEqual(a, []string{diff.AnnotationForcesDestructiveUpdate}) {
			t.Errorf("task annotations = %q", a)
		}
	})
}

func TestDeterministic(t *testing.T) {
	old := difftest.State(200, 1)
	new := difftest.State(200, 2)
	first := diff.Compute(old, new, diff.Options{})
	for range 5 {
		if again := diff.Compute(old, new, diff.Options{}); !reflect.DeepEqual(first, again) {
			t.Fatal("two computations of the same plan differ")
		}
	}
	for i := 1; i < len(first.Jobs); i++ {
		if first.Jobs[i-1].ID >= first.Jobs[i].ID {
			t.Fatalf("jobs not sorted: %q before %q", first.Jobs[i-1].ID, first.Jobs[i].ID)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func field(fs []*diff.FieldDiff, path string) *diff.FieldDiff {
	for _, f := range fs {
		if f.Path == path {
			return f
		}
	}
	return nil
}

// walk visits every field of a job diff.
func walk(d *diff.JobDiff, visit func(*diff.FieldDiff)) {
	var objs func([]*diff.FieldDiff, []*diff.ObjectDiff)
	objs = func(fs []*diff.FieldDiff, os []*diff.ObjectDiff) {
		for _, f := range fs {
			visit(f)
		}
		for _, o := range os {
			objs(o.Fields, o.Objects)
		}
	}
	objs(d.Fields, d.Objects)
	for _, g := range d.Groups {
		objs(g.Fields, g.Objects)
		for _, tk := range g.Tasks {
			objs(tk.Fields, tk.Objects)
		}
	}
}

func find(d *diff.JobDiff, path string) *diff.FieldDiff {
	var found *diff.FieldDiff
	walk(d, func(f *diff.FieldDiff) {
		if f.Path == path {
			found = f
		}
	})
	return found
}

func hasPath(d *diff.JobDiff, prefix string) bool {
	ok := false
	walk(d, func(f *diff.FieldDiff) {
		if strings.HasPrefix(f.Path, prefix) {
			ok = true
		}
	})
	return ok
}
