package state_test

import (
	"fmt"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// BenchmarkFSMAllocWrite measures the FSM alone writing allocations the
// ways the scheduler does, one command of 1,000 allocations per op, into
// a store that already holds 10,000: place (a plan chunk of new
// allocations) and stop (desired-status updates, alternately stop and
// run, so that every op changes each one). jobs=1 has them all in one
// job, as a big job's chunks do; jobs=1000 spreads each command over
// 1,000 jobs, the worst case for the job summaries (one summary write
// per allocation). BenchmarkFSMApplyBatch covers agents' client updates.
func BenchmarkFSMAllocWrite(b *testing.B) {
	const existing, perOp = 10_000, 1_000
	for _, jobs := range []int{1, 1000} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) { benchFSMAllocWrite(b, existing, perOp, jobs) })
	}
}

func benchFSMAllocWrite(b *testing.B, existing, perOp, jobs int) {
	job := func(i int) string { return fmt.Sprintf("job-%04d", i%jobs) }
	setup := func(b *testing.B) (*fsmHarness, []string) {
		h := newFSM(b)
		var ids []string
		for chunk := 0; chunk < existing; chunk += perOp {
			var plan []*cluster.Allocation
			for i := chunk; i < chunk+perOp; i++ {
				id := fmt.Sprintf("alloc-%07d", i)
				ids = append(ids, id)
				plan = append(plan, testAlloc(id, job(i), fmt.Sprintf("node-%d", i%50), "e1"))
			}
			h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: t0})
		}
		return h, ids
	}
	apply := func(b *testing.B, h *fsmHarness, l *raft.Log) {
		if err, ok := h.fsm.Apply(l).(error); ok {
			b.Fatal(err)
		}
	}
	b.Run("place", func(b *testing.B) {
		h, _ := setup(b)
		next := existing
		for b.Loop() {
			b.StopTimer()
			var plan []*cluster.Allocation
			for range perOp {
				plan = append(plan, testAlloc(fmt.Sprintf("alloc-%07d", next), job(next), fmt.Sprintf("node-%d", next%50), "e1"))
				next++
			}
			l := h.log(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: t0})
			b.StartTimer()
			apply(b, h, l)
		}
		b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "allocs/s")
	})
	b.Run("stop", func(b *testing.B) {
		h, ids := setup(b)
		n := 0
		for b.Loop() {
			b.StopTimer()
			desired := []string{cluster.AllocDesiredStop, cluster.AllocDesiredRun}[n%2]
			req := &state.AllocDesiredRequest{Now: t0}
			for _, id := range ids[:perOp] {
				req.Updates = append(req.Updates, state.AllocDesired{AllocID: id, DesiredStatus: desired})
			}
			l := h.log(state.MsgAllocUpdateDesired, req)
			n++
			b.StartTimer()
			apply(b, h, l)
		}
		b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "allocs/s")
	})
}
