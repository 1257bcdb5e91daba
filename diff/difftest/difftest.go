// Package difftest builds jobs for the tests and benchmarks of diff and
// its renderers. Jobs are Go values rather than parsed HCL so that these
// tests do not depend on the parser.
package difftest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Job returns a service job with one group "web" of two allocations, a
// "server" task and the defaults the parser applies. Each call returns a
// fresh value that tests may mutate.
func Job(id string) *jobspec.Job {
	return &jobspec.Job{
		ID:          id,
		Name:        id,
		Type:        jobspec.JobTypeService,
		Region:      "global",
		Namespace:   "default",
		Datacenters: []string{"dc1"},
		Priority:    50,
		Meta:        map[string]string{"owner": "team-web"},
		Constraints: []jobspec.Constraint{{Attribute: "${attr.kernel.name}", Operator: "=", Value: "linux"}},
		Groups:      []*jobspec.Group{Group("web", 2)},
	}
}

// Group returns a group of count allocations with one "server" task.
func Group(name string, count int) *jobspec.Group {
	return &jobspec.Group{
		Name:  name,
		Count: count,
		Update: &jobspec.UpdateStrategy{
			Stagger: 30 * time.Second, MaxParallel: 1, HealthCheck: "checks",
			MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute,
			ProgressDeadline: 10 * time.Minute,
		},
		Migrate: &jobspec.Migrate{MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute},
		Reschedule: &jobspec.ReschedulePolicy{
			Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true,
		},
		Networks: []jobspec.Network{{Mode: "bridge", Ports: []jobspec.Port{{Label: "http", To: 8080}}}},
		Services: []jobspec.Service{{
			Name: name, Port: "http", Provider: "consul", Tags: []string{"v1"},
			Checks: []jobspec.Check{{Name: "alive", Type: "http", Path: "/health", Interval: 10 * time.Second, Timeout: 2 * time.Second}},
		}},
		EphemeralDisk: &jobspec.EphemeralDisk{SizeMB: 300},
		Tasks:         []*jobspec.Task{Task("server")},
	}
}

// Task returns a docker task running nginx.
func Task(name string) *jobspec.Task {
	return &jobspec.Task{
		Name:   name,
		Driver: "docker",
		Config: map[string]any{
			"image": "nginx:1.25",
			"ports": []any{"http"},
			"args":  []any{"-g", "daemon off;"},
		},
		Env:         map[string]string{"LOG_LEVEL": "info"},
		Resources:   jobspec.Resources{CPU: 100, MemoryMB: 128},
		Restart:     &jobspec.RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"},
		KillTimeout: 5 * time.Second,
		Logs:        jobspec.Logs{MaxFiles: 10, MaxFileSizeMB: 10},
	}
}

// State returns n realistic jobs keyed by ID ("job-00042"): 1–3 groups of
// 1–2 tasks each, with env, config, services and constraints. The same
// seed gives the same state.
func State(n int, seed uint64) map[string]*jobspec.Job {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make(map[string]*jobspec.Job, n)
	for i := range n {
		id := fmt.Sprintf("job-%05d", i)
		j := Job(id)
		j.Meta["cost_center"] = fmt.Sprintf("cc-%d", r.IntN(40))
		j.Groups = nil
		for g := range 1 + r.IntN(3) {
			grp := Group(fmt.Sprintf("g%d", g), 1+r.IntN(5))
			grp.Tasks = nil
			for t := range 1 + r.IntN(2) {
				tk := Task(fmt.Sprintf("t%d", t))
				tk.Config["image"] = fmt.Sprintf("registry.example.com/app-%d:%d.%d", i, r.IntN(10), r.IntN(100))
				tk.Config["mount"] = []any{map[string]any{"type": "bind", "source": "local/conf", "target": "/etc/app"}}
				for e := range 3 + r.IntN(6) {
					tk.Env[fmt.Sprintf("VAR_%d", e)] = fmt.Sprintf("value-%d", r.IntN(1000))
				}
				tk.Resources.CPU = 100 * (1 + r.IntN(10))
				tk.Templates = []jobspec.Template{{
					Data: "PORT={{ env \"NOMAD_PORT_http\" }}\n", Destination: "local/app.env",
					ChangeMode: "restart", Perms: "0644", LeftDelim: "{{", RightDelim: "}}",
				}}
				grp.Tasks = append(grp.Tasks, tk)
			}
			j.Groups = append(j.Groups, grp)
		}
		out[id] = j
	}
	return out
}

// Clone returns a deep copy of a job, so
// that tests can mutate one side of a diff.
func Clone(j *jobspec.Job) *jobspec.Job {
	c := *j
	c.Datacenters = append([]string(nil), j.Datacenters...)
	c.Meta = cloneMap(j.Meta)
	c.Constraints = append([]jobspec.Constraint(nil), j.Constraints...)
	c.Affinities = append([]jobspec.Affinity(nil), j.Affinities...)
	c.Spreads = cloneSpreads(j.Spreads)
	c.Update = clonePtr(j.Update)
	if j.Periodic != nil {
		p := *j.Periodic
		p.Crons = append([]string(nil), p.Crons...)
		c.Periodic = &p
	}
	if j.Parameterized != nil {
		p := *j.Parameterized
		p.MetaRequired = append([]string(nil), p.MetaRequired...)
		p.MetaOptional = append([]string(nil), p.MetaOptional...)
		c.Parameterized = &p
	}
	c.Groups = nil
	for _, g := range j.Groups {
		c.Groups = append(c.Groups, cloneGroup(g))
	}
	return &c
}

func cloneGroup(g *jobspec.Group) *jobspec.Group {
	c := *g
	c.Meta = cloneMap(g.Meta)
	c.Constraints = append([]jobspec.Constraint(nil), g.Constraints...)
	c.Affinities = append([]jobspec.Affinity(nil), g.Affinities...)
	c.Spreads = cloneSpreads(g.Spreads)
	c.Update = clonePtr(g.Update)
	c.Migrate = clonePtr(g.Migrate)
	c.Reschedule = clonePtr(g.Reschedule)
	c.EphemeralDisk = clonePtr(g.EphemeralDisk)
	c.Networks = nil
	for _, n := range g.Networks {
		n.Ports = append([]jobspec.Port(nil), n.Ports...)
		c.Networks = append(c.Networks, n)
	}
	c.Services = cloneServices(g.Services)
	c.Tasks = nil
	for _, t := range g.Tasks {
		c.Tasks = append(c.Tasks, cloneTask(t))
	}
	return &c
}

func cloneTask(t *jobspec.Task) *jobspec.Task {
	c := *t
	c.Config, _ = cloneAny(t.Config).(map[string]any)
	c.Env = cloneMap(t.Env)
	c.Meta = cloneMap(t.Meta)
	c.Services = cloneServices(t.Services)
	c.Restart = clonePtr(t.Restart)
	c.Lifecycle = clonePtr(t.Lifecycle)
	c.Templates = append([]jobspec.Template(nil), t.Templates...)
	c.Constraints = append([]jobspec.Constraint(nil), t.Constraints...)
	c.Affinities = append([]jobspec.Affinity(nil), t.Affinities...)
	return &c
}

func cloneServices(ss []jobspec.Service) []jobspec.Service {
	var out []jobspec.Service
	for _, s := range ss {
		s.Tags = append([]string(nil), s.Tags...)
		s.CanaryTags = append([]string(nil), s.CanaryTags...)
		s.Meta = cloneMap(s.Meta)
		s.CheckRestart = clonePtr(s.CheckRestart)
		var checks []jobspec.Check
		for _, c := range s.Checks {
			c.Args = append([]string(nil), c.Args...)
			if c.Header != nil {
				h := make(map[string][]string, len(c.Header))
				for k, v := range c.Header {
					h[k] = append([]string(nil), v...)
				}
				c.Header = h
			}
			c.CheckRestart = clonePtr(c.CheckRestart)
			checks = append(checks, c)
		}
		s.Checks = checks
		out = append(out, s)
	}
	return out
}

func cloneSpreads(ss []jobspec.Spread) []jobspec.Spread {
	var out []jobspec.Spread
	for _, s := range ss {
		s.Targets = append([]jobspec.SpreadTarget(nil), s.Targets...)
		out = append(out, s)
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneAny(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneAny(e)
		}
		return c
	}
	return v
}
