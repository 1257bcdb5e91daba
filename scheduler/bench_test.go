package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// BenchmarkServiceScheduler has the shape of Nomad's
// scheduler/benchmarks: nodes split over dc-1 and dc-2, 4 × 3,500 MHz and
// 32 GB each, racks r0..r(R-1) round-robin in meta; one service job of
// count allocations asking 6,000 MHz and 6,000 MB, constrained to the
// first half of the racks, with or without a spread over racks. One op is
// one Process of the freshly registered job: placements computed, not
// committed.
func BenchmarkServiceScheduler(b *testing.B) {
	for _, nodes := range []int{500, 1000, 5000, 10000} {
		for _, racks := range []int{25, 75} {
			st := benchState(nodes, racks)
			for _, count := range []int{50, 300, 1200} {
				for _, spread := range []bool{true, false} {
					name := fmt.Sprintf("%d_nodes_%d_racks_%d_allocs_%s", nodes, racks, count, map[bool]string{true: "spread", false: "no_spread"}[spread])
					b.Run(name, func(b *testing.B) {
						j := benchJob(st, racks, count, spread)
						// Two allocations fit a node (CPU): small clusters
						// cannot take every allocation.
						want := min(count, 2*admittedNodes(nodes, racks))
						eval := registerEval(j)
						b.ReportAllocs()
						cpu0 := cpuTime()
						n := 0
						for b.Loop() {
							p, err := Process(st, eval, benchOptions(uint64(n)))
							if err != nil {
								b.Fatal(err)
							}
							placed := 0
							for _, as := range p.NodeAllocation {
								placed += len(as)
							}
							if placed != want {
								b.Fatalf("placed %d, want %d: %s", placed, want, explainText(p, "web"))
							}
							n++
						}
						// The machine is shared: CPU time per op is steadier
						// than wall time.
						b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
					})
				}
			}
		}
	}
}

// admittedNodes counts the nodes in the racks the job's constraint admits.
func admittedNodes(nodes, racks int) int {
	n := 0
	for i := range nodes {
		if i%racks < racks/2 {
			n++
		}
	}
	return n
}

func benchState(n, racks int) *memState {
	ns := make([]*cluster.Node, n)
	for i := range ns {
		ns[i] = &cluster.Node{
			ID: fmt.Sprintf("node-%05d", i), Name: fmt.Sprintf("client-%05d", i),
			Datacenter: []string{"dc-1", "dc-2"}[i%2],
			Attributes: map[string]string{"kernel.name": "linux", "cpu.arch": "amd64"},
			Meta:       map[string]string{"rack": "r" + strconv.Itoa(i%racks)},
			Resources:  cluster.NodeResources{CPU: 4 * 3500, Cores: 4, MemoryMB: 32 * 1024},
			Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
			Status:     cluster.NodeStatusReady, SchedulingEligibility: cluster.NodeEligible,
		}
	}
	return newMemState(ns...)
}

// benchJob registers a fresh version of the benchmark job in st.
func benchJob(st *memState, racks, count int, spread bool) *cluster.Job {
	admitted := make([]string, racks/2)
	for i := range admitted {
		admitted[i] = "r" + strconv.Itoa(i)
	}
	g := &jobspec.Group{
		Name: "web", Count: count,
		Constraints: []jobspec.Constraint{{Attribute: "${meta.rack}", Operator: "set_contains_any", Value: strings.Join(admitted, ",")}},
		Tasks: []*jobspec.Task{{
			Name: "server", Driver: "exec",
			Resources: jobspec.Resources{CPU: 6000, MemoryMB: 6000},
		}},
	}
	if spread {
		g.Spreads = []jobspec.Spread{{Attribute: "${meta.rack}", Weight: 100}}
	}
	delete(st.jobs, "default/web")
	return st.register(&jobspec.Job{
		ID: "web", Name: "web", Type: jobspec.JobTypeService, Namespace: "default",
		Datacenters: []string{"dc-1", "dc-2"}, Priority: 50, Groups: []*jobspec.Group{g},
	})
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchOptions(seed uint64) Options {
	n := 0
	return Options{
		Now:  time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Rand: rand.New(rand.NewPCG(seed, 0x5eed)),
		NewID: func() string {
			n++
			return "alloc-" + strconv.Itoa(n)
		},
	}
}
