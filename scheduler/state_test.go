package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// memState is a test-only State: plain slices and maps.
type memState struct {
	nodes       []*cluster.Node
	jobs        map[string][]*cluster.Job // "ns/id" -> versions, oldest first
	allocs      []*cluster.Allocation
	deployments map[string]*cluster.Deployment
}

var _ State = (*memState)(nil)

func newMemState(nodes ...*cluster.Node) *memState {
	return &memState{nodes: nodes, jobs: map[string][]*cluster.Job{}, deployments: map[string]*cluster.Deployment{}}
}

func (s *memState) Nodes() []*cluster.Node { return s.nodes }

func (s *memState) Node(id string) *cluster.Node {
	for _, n := range s.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (s *memState) Job(ns, id string) *cluster.Job {
	vs := s.jobs[ns+"/"+id]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (s *memState) JobVersion(ns, id string, v uint64) *cluster.Job {
	for _, j := range s.jobs[ns+"/"+id] {
		if j.Version == v {
			return j
		}
	}
	return nil
}

func (s *memState) AllocsByJob(ns, id string) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range s.allocs {
		if a.Namespace == ns && a.JobID == id {
			out = append(out, a)
		}
	}
	return out
}

func (s *memState) AllocsByNode(id string) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range s.allocs {
		if a.NodeID == id {
			out = append(out, a)
		}
	}
	return out
}

func (s *memState) LatestDeployment(ns, id string) *cluster.Deployment {
	return s.deployments[ns+"/"+id]
}

// register adds spec as the job's next version and returns it.
func (s *memState) register(spec *jobspec.Job) *cluster.Job {
	key := spec.Namespace + "/" + spec.ID
	v := uint64(len(s.jobs[key]))
	j := &cluster.Job{Namespace: spec.Namespace, ID: spec.ID, Spec: spec, Hash: spec.Hash(), Version: v, JobModifyIndex: v + 1}
	s.jobs[key] = append(s.jobs[key], j)
	return j
}

// apply commits a plan the way the state store would.
func (s *memState) apply(p *Plan) {
	upsert := func(a *cluster.Allocation) {
		for i, old := range s.allocs {
			if old.ID == a.ID {
				s.allocs[i] = a
				return
			}
		}
		s.allocs = append(s.allocs, a)
	}
	for _, id := range sortedMapKeys(p.NodeUpdate) {
		for _, a := range p.NodeUpdate[id] {
			upsert(a)
		}
	}
	for _, id := range sortedMapKeys(p.NodeAllocation) {
		for _, a := range p.NodeAllocation[id] {
			upsert(a)
		}
	}
	if p.Deployment != nil {
		s.deployments[p.Deployment.Namespace+"/"+p.Deployment.JobID] = p.Deployment
	}
}

// setClient sets the client status of every allocation of the job that
// the servers want running.
func (s *memState) setClient(status string) {
	for i, a := range s.allocs {
		if a.DesiredStatus == cluster.AllocDesiredRun {
			c := *a
			c.ClientStatus = status
			s.allocs[i] = &c
		}
	}
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testOptions(seed uint64) Options {
	n := 0
	return Options{
		Now:  testNow,
		Rand: rand.New(rand.NewPCG(seed, seed+1)),
		NewID: func() string {
			n++
			return fmt.Sprintf("s%d-%05d", seed, n)
		},
	}
}

// node returns a ready linux node with docker and exec, 4000 MHz and 8 GB.
func node(id string, mods ...func(*cluster.Node)) *cluster.Node {
	n := &cluster.Node{
		ID: id, Name: "name-" + id, Datacenter: "dc1",
		Attributes: map[string]string{"kernel.name": "linux", "os.version": "22.04", "cpu.arch": "amd64"},
		Meta:       map[string]string{},
		Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192},
		Drivers: map[string]cluster.DriverInfo{
			"docker": {Detected: true, Healthy: true},
			"exec":   {Detected: true, Healthy: true},
		},
		Status: cluster.NodeStatusReady, SchedulingEligibility: cluster.NodeEligible,
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func nodes(n int, mods ...func(i int, n *cluster.Node)) []*cluster.Node {
	out := make([]*cluster.Node, n)
	for i := range out {
		out[i] = node(fmt.Sprintf("n%02d", i))
		for _, m := range mods {
			m(i, out[i])
		}
	}
	return out
}

// job returns a service job "web" with one group "web" of count
// allocations of one docker task asking 500 MHz and 256 MB.
func job(count int, mods ...func(*jobspec.Job)) *jobspec.Job {
	j := &jobspec.Job{
		ID: "web", Name: "web", Type: jobspec.JobTypeService, Namespace: "default",
		Datacenters: []string{"dc1"}, Priority: 50,
		Groups: []*jobspec.Group{{
			Name: "web", Count: count,
			Tasks: []*jobspec.Task{{
				Name: "server", Driver: "docker",
				Config:    map[string]any{"image": "nginx:1.25"},
				Resources: jobspec.Resources{CPU: 500, MemoryMB: 256},
			}},
		}},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

func grp(j *jobspec.Job) *jobspec.Group { return j.Groups[0] }

func registerEval(j *cluster.Job) *cluster.Evaluation {
	return &cluster.Evaluation{ID: "eval-1", Namespace: j.Namespace, JobID: j.ID, Type: j.Spec.Type, TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending}
}

// run registers spec in st and processes its evaluation.
func run(t *testing.T, st *memState, spec *jobspec.Job, seed uint64) *Plan {
	t.Helper()
	j := st.register(spec)
	p, err := Process(st, registerEval(j), testOptions(seed))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reprocess evaluates the latest version again, without registering.
func reprocess(t *testing.T, st *memState, seed uint64) *Plan {
	t.Helper()
	j := st.Job("default", "web")
	p, err := Process(st, registerEval(j), testOptions(seed))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func placed(p *Plan) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, id := range sortedMapKeys(p.NodeAllocation) {
		out = append(out, p.NodeAllocation[id]...)
	}
	return out
}

func stopped(p *Plan) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, id := range sortedMapKeys(p.NodeUpdate) {
		out = append(out, p.NodeUpdate[id]...)
	}
	return out
}

func perNode(p *Plan) map[string]int {
	m := map[string]int{}
	for id, as := range p.NodeAllocation {
		m[id] += len(as)
	}
	return m
}

func names(as []*cluster.Allocation) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	slices.Sort(out)
	return out
}

func explainText(p *Plan, group string) string {
	return strings.Join(Explain(group, p.FailedTGAllocs[group]), "\n")
}

// fresh returns the plan's new allocations, leaving out in-place updated
// copies of allocations the state has.
func fresh(st *memState, p *Plan) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range placed(p) {
		if !slices.ContainsFunc(st.allocs, func(b *cluster.Allocation) bool { return b.ID == a.ID }) {
			out = append(out, a)
		}
	}
	return out
}
