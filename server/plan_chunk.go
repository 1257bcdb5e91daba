package server

import (
	"encoding/json"

	"github.com/droverhq/drover/state"
)

// A plan is committed in chunks, each one Raft entry of bounded size.
//
// Why: a plan used to be one MsgPlanApply, and a job of 100,000
// allocations made a 70 MB entry. The leader encoded, fsynced and sent
// it as one AppendEntries RPC; the followers decoded and applied it as
// one transaction. That took longer than the transport's timeout, the
// leader lost contact with its followers, and elections followed
// (issue 14). hashicorp/raft bounds an AppendEntries RPC by entries
// (MaxAppendEntries, 128 here), not by bytes, so the bytes have to be
// bounded per entry: a follower catching up gets at most
// MaxAppendEntries × planChunkBytes = 32 MiB in one RPC.
//
// What readers see: the chunks apply one after the other, each waiting
// for the one before it. The deployment a plan creates and the status
// updates of older deployments are in the first chunk; then the stops,
// then the placements and in-place updates; the evaluation's final
// status, its follow-ups (blocked, delayed) and the evaluations it
// cancels are in the last one. A large plan's allocations therefore
// appear chunk by chunk (a stop before the placement that replaces it,
// as agents see them in one entry), but its evaluation completes only
// once all of them are in. If the leader dies midway, the evaluation is
// still pending: the next leader runs it again, and the scheduler,
// which reconciles a group's existing allocations by name index, places
// only what is missing (into the deployment the first chunk created).
// Between chunks nothing else places: the leader runs one evaluation at
// a time (runEvals), so the capacity EvaluatePlan checked for the whole
// plan stays the plan's.
const (
	// planChunkItems bounds the allocations and stops in one chunk, so
	// that one FSM transaction stays short.
	planChunkItems = 1000
	// planChunkBytes bounds a chunk's encoded size. A placed allocation
	// encodes to about 800 bytes (with its metrics), a stop to about
	// 150: a chunk holds some 300 placements or 1,000 stops.
	planChunkBytes = 256 << 10
)

// chunkLimits bound one chunk of a plan; tests use small ones.
type chunkLimits struct {
	items int
	bytes int
}

func defaultChunkLimits() chunkLimits {
	return chunkLimits{items: planChunkItems, bytes: planChunkBytes}
}

// chunkPlan splits a plan into requests of at most lim.items
// allocations and stops and, where one item allows, at most lim.bytes
// encoded (an item larger than that goes alone). Applied in order, the
// chunks have the effect of req: the first carries the deployment and
// deployment updates, the last the evaluations; every chunk has req's
// Now. A plan within the limits is returned as it is, as one chunk.
func chunkPlan(req *state.PlanApplyRequest, lim chunkLimits) []*state.PlanApplyRequest {
	var sz sizer
	n := len(req.Stop) + len(req.Allocs)
	if n == 0 {
		return []*state.PlanApplyRequest{req}
	}
	first := sz.of(req.Deployment) + sz.of(req.DeploymentUpdates)
	evals := sz.of(req.Evals)
	sizes := make([]int, 0, n)
	total := first + evals
	for _, u := range req.Stop {
		sizes = append(sizes, sz.of(u))
		total += sizes[len(sizes)-1]
	}
	for _, a := range req.Allocs {
		sizes = append(sizes, sz.of(a))
		total += sizes[len(sizes)-1]
	}
	if n <= lim.items && total <= lim.bytes {
		return []*state.PlanApplyRequest{req}
	}

	var out []*state.PlanApplyRequest
	cur := &state.PlanApplyRequest{Deployment: req.Deployment, DeploymentUpdates: req.DeploymentUpdates, Now: req.Now}
	curItems, curBytes := 0, first
	for i, size := range sizes {
		if curItems > 0 && (curItems == lim.items || curBytes+size > lim.bytes) {
			out = append(out, cur)
			cur = &state.PlanApplyRequest{Now: req.Now}
			curItems, curBytes = 0, 0
		}
		if i < len(req.Stop) {
			cur.Stop = append(cur.Stop, req.Stop[i])
		} else {
			cur.Allocs = append(cur.Allocs, req.Allocs[i-len(req.Stop)])
		}
		curItems++
		curBytes += size
	}
	if len(req.Evals) > 0 && curBytes+evals > lim.bytes {
		// The evaluations alone, last: what completes the plan.
		out = append(out, cur)
		cur = &state.PlanApplyRequest{Now: req.Now}
	}
	cur.Evals = req.Evals
	return append(out, cur)
}

// sizer measures encoded JSON sizes without keeping the bytes: a
// chunk's size is the sum of its items' (plus a few bytes of framing,
// which the bound's margin absorbs). A value that does not encode
// counts as 0; Raft's Encode then reports the error.
type sizer struct {
	n   int
	enc *json.Encoder
}

func (s *sizer) Write(p []byte) (int, error) {
	s.n += len(p)
	return len(p), nil
}

func (s *sizer) of(v any) int {
	if s.enc == nil {
		s.enc = json.NewEncoder(s)
	}
	s.n = 0
	if err := s.enc.Encode(v); err != nil {
		return 0
	}
	return s.n
}
