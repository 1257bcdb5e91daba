package state_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// recountSummaries counts every allocation from scratch: what the job
// summary table must always hold.
func recountSummaries(s *state.Snapshot) map[string]*state.JobSummary {
	out := map[string]*state.JobSummary{}
	for _, a := range s.Allocs() {
		k := a.Namespace + "/" + a.JobID
		sum := out[k]
		if sum == nil {
			sum = &state.JobSummary{Namespace: a.Namespace, JobID: a.JobID, Summary: map[string]state.TaskGroupSummary{}}
			out[k] = sum
		}
		sum.Allocs++
		if !a.Terminal() {
			sum.NonTerminal++
		}
		if sum.Summary[a.TaskGroup] == nil {
			sum.Summary[a.TaskGroup] = state.TaskGroupSummary{}
		}
		sum.Summary[a.TaskGroup][a.ClientStatus]++
	}
	return out
}

// checkSummaries fails unless the table equals a recount, and each row
// is what JobSummary returns for its job.
func checkSummaries(t *testing.T, s *state.Snapshot, step string) {
	t.Helper()
	got := map[string]*state.JobSummary{}
	for _, sum := range s.JobSummaries() {
		got[sum.Namespace+"/"+sum.JobID] = sum
		if s.JobSummary(sum.Namespace, sum.JobID) != sum {
			t.Fatalf("%s: JobSummary(%s, %s) is not the listed row", step, sum.Namespace, sum.JobID)
		}
	}
	if g, w := asJSON(t, got), asJSON(t, recountSummaries(s)); g != w {
		t.Fatalf("%s: job summary table differs from a recount of the allocations\ntable: %s\nrecount: %s", step, g, w)
	}
}

// summaryModel drives an FSM with random allocation writes of every kind
// that changes allocations: plan chunks (placements, in-place updates
// that may move an allocation to another group, stops), agent updates,
// desired-status updates, disconnect marks, GC, job stop and purge, and
// batches of them applied together, including one that fails half way.
type summaryModel struct {
	t    *testing.T
	h    *fsmHarness
	rng  *rand.Rand
	ids  []string // every allocation ID placed so far, GC'd ones too
	next int
}

var (
	summaryJobs     = []string{"web", "api", "batch", "cron"}
	summaryGroups   = []string{"web", "worker", "canary"}
	summaryStatuses = []string{"", cluster.AllocClientPending, cluster.AllocClientRunning, cluster.AllocClientComplete,
		cluster.AllocClientFailed, cluster.AllocClientLost, cluster.AllocClientUnknown}
	summaryDesired = []string{"", cluster.AllocDesiredRun, cluster.AllocDesiredStop, cluster.AllocDesiredEvict}
)

func (m *summaryModel) pick(xs []string) string { return xs[m.rng.IntN(len(xs))] }

func (m *summaryModel) someIDs() []string {
	if len(m.ids) == 0 {
		return nil
	}
	var out []string
	for range 1 + m.rng.IntN(8) {
		id := m.ids[m.rng.IntN(len(m.ids))]
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// existing returns some of someIDs that are still in state.
func (m *summaryModel) existing() []string {
	var out []string
	for _, id := range m.someIDs() {
		if m.h.snap().Alloc(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

func (m *summaryModel) register(id string) *raft.Log {
	j := testJob(id, "c0ffee", 3)
	j.Namespace = []string{"default", "ops"}[m.rng.IntN(2)]
	if id == "batch" {
		j.Spec.Type = "batch"
	}
	return m.h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
}

func (m *summaryModel) plan() *raft.Log {
	req := &state.PlanApplyRequest{Now: t0}
	for range m.rng.IntN(12) {
		job := m.pick(summaryJobs)
		a := testAlloc(fmt.Sprintf("alloc-%05d", m.next), job, "node-1", "e1")
		m.next++
		if len(m.ids) > 0 && m.rng.IntN(3) == 0 {
			// An in-place update: the same ID, perhaps another group
			// (and, as the scheduler never does, another job).
			a.ID = m.ids[m.rng.IntN(len(m.ids))]
		} else {
			m.ids = append(m.ids, a.ID)
		}
		if slices.ContainsFunc(req.Allocs, func(b *cluster.Allocation) bool { return b.ID == a.ID }) {
			continue
		}
		a.Namespace = []string{"", "default", "ops"}[m.rng.IntN(3)]
		a.TaskGroup = m.pick(summaryGroups)
		a.ClientStatus = m.pick(summaryStatuses)
		a.DesiredStatus = m.pick(summaryDesired)
		req.Allocs = append(req.Allocs, a)
	}
	for _, id := range m.existing() {
		if slices.ContainsFunc(req.Allocs, func(b *cluster.Allocation) bool { return b.ID == id }) {
			continue
		}
		u := state.AllocDesired{AllocID: id, DesiredStatus: m.pick(summaryDesired)}
		if m.rng.IntN(3) == 0 {
			u.ClientStatus = cluster.AllocClientLost
		}
		req.Stop = append(req.Stop, u)
	}
	return m.h.log(state.MsgPlanApply, req)
}

func (m *summaryModel) clientUpdate(failHalfWay bool) *raft.Log {
	req := &state.AllocClientUpdateRequest{Now: t0}
	for _, id := range m.someIDs() { // GC'd ones come back as Unknown
		req.Allocs = append(req.Allocs, state.AllocClientState{ID: id, ClientStatus: m.pick(summaryStatuses)})
	}
	if failHalfWay && len(req.Allocs) > 0 {
		// Check statuses are validated as each allocation is written:
		// the command fails after writing the ones before it.
		last := &req.Allocs[len(req.Allocs)-1]
		last.CheckStatuses = []cluster.CheckStatus{{Name: "c", Service: "s", Status: "bogus"}}
	}
	return m.h.log(state.MsgAllocClientUpdate, req)
}

func (m *summaryModel) desired() *raft.Log {
	req := &state.AllocDesiredRequest{Now: t0}
	for _, id := range m.existing() {
		req.Updates = append(req.Updates, state.AllocDesired{AllocID: id, DesiredStatus: m.pick(summaryDesired),
			ClientStatus: []string{"", cluster.AllocClientLost}[m.rng.IntN(2)]})
	}
	return m.h.log(state.MsgAllocUpdateDesired, req)
}

func (m *summaryModel) disconnect() *raft.Log {
	req := &state.AllocDisconnectRequest{Now: t0.Add(time.Minute)}
	for _, id := range m.existing() {
		req.Allocs = append(req.Allocs, state.AllocDisconnect{AllocID: id,
			ClientStatus: []string{cluster.AllocClientUnknown, cluster.AllocClientLost}[m.rng.IntN(2)]})
	}
	return m.h.log(state.MsgAllocDisconnect, req)
}

func (m *summaryModel) gc() *raft.Log {
	return m.h.log(state.MsgGC, &state.GCRequest{Allocs: m.someIDs(), Now: t0})
}

func (m *summaryModel) deregister() *raft.Log {
	return m.h.log(state.MsgJobDeregister, &state.JobDeregisterRequest{Namespace: []string{"default", "ops"}[m.rng.IntN(2)],
		JobID: m.pick(summaryJobs), Purge: m.rng.IntN(2) == 0, Now: t0})
}

// step builds one random command.
func (m *summaryModel) step() (string, *raft.Log) {
	switch n := m.rng.IntN(10); n {
	case 0:
		id := m.pick(summaryJobs)
		return "register " + id, m.register(id)
	case 1, 2:
		return "plan", m.plan()
	case 3, 4:
		return "client update", m.clientUpdate(m.rng.IntN(8) == 0)
	case 5:
		return "desired", m.desired()
	case 6:
		return "disconnect", m.disconnect()
	case 7, 8:
		return "gc", m.gc()
	default:
		return "deregister", m.deregister()
	}
}

// TestJobSummaryMatchesRecount applies random allocation writes, one
// command at a time and in batches (raft's ApplyBatch, whose failing
// command sends the batch down the one-transaction-per-command path),
// and checks after each that the job summary table equals a recount of
// the allocations; then that a snapshot restores it, though it does not
// carry it.
func TestJobSummaryMatchesRecount(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			m := &summaryModel{t: t, h: newFSM(t), rng: rand.New(rand.NewPCG(seed, 0x5eed))}
			for _, id := range summaryJobs {
				m.h.fsm.Apply(m.register(id))
			}
			var before *state.Snapshot
			for i := range 400 {
				var ( // the snapshot a reader held must not change under it
					held     = m.h.snap()
					heldJSON = asJSON(t, held.JobSummaries())
				)
				if m.rng.IntN(4) == 0 {
					var logs []*raft.Log
					var what []string
					for range 2 + m.rng.IntN(6) {
						w, l := m.step()
						logs, what = append(logs, l), append(what, w)
					}
					m.h.fsm.ApplyBatch(logs)
					checkSummaries(t, m.h.snap(), fmt.Sprintf("step %d: batch %v", i, what))
				} else {
					w, l := m.step()
					m.h.fsm.Apply(l)
					checkSummaries(t, m.h.snap(), fmt.Sprintf("step %d: %s", i, w))
				}
				if got := asJSON(t, held.JobSummaries()); got != heldJSON {
					t.Fatalf("step %d: a snapshot taken before it saw its job summaries change", i)
				}
				if i == 200 {
					before = m.h.snap()
				}
			}
			if len(m.h.snap().Allocs()) == 0 || len(m.h.snap().JobSummaries()) == 0 {
				t.Fatalf("the random walk left no allocations (%d placed): it tests nothing", len(m.ids))
			}

			var buf bytes.Buffer
			persist(t, m.h.fsm, &buf)
			if bytes.Contains(buf.Bytes(), []byte("NonTerminal")) || bytes.Contains(buf.Bytes(), []byte(state.TableJobSummary)) {
				t.Fatal("the snapshot carries job summaries; they must be rebuilt, not stored")
			}
			dst := newFSM(t)
			if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, dst.snap(), "after restore")
			if g, w := asJSON(t, dst.snap().JobSummaries()), asJSON(t, m.h.snap().JobSummaries()); g != w {
				t.Fatalf("restored job summaries differ\nrestored: %s\nsource: %s", g, w)
			}
			checkSummaries(t, before, "an old snapshot")
		})
	}
}

// TestJobSummaryTable: the rows a few plain writes leave, spelled out.
func TestJobSummaryTable(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c0ffee", 3), Now: t0})
	var plan []*cluster.Allocation
	for i := range 3 {
		plan = append(plan, testAlloc(fmt.Sprintf("a%d", i), "web", "node-1", "e1"))
	}
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: t0})
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Now: t0, Allocs: []state.AllocClientState{
		{ID: "a0", ClientStatus: cluster.AllocClientRunning}, {ID: "a1", ClientStatus: cluster.AllocClientFailed}}})

	got := h.snap().JobSummary("default", "web")
	want := &state.JobSummary{Namespace: "default", JobID: "web", Allocs: 3, NonTerminal: 2,
		Summary: map[string]state.TaskGroupSummary{"web": {"pending": 1, "running": 1, "failed": 1}}}
	if asJSON(t, got) != asJSON(t, want) {
		t.Fatalf("summary after placing 3 and two updates:\n%s\nwant:\n%s", asJSON(t, got), asJSON(t, want))
	}
	if h.snap().JobSummary("default", "api") != nil {
		t.Fatal("a job without allocations has a summary")
	}

	// Collected allocations leave the counts; the last one takes the row.
	h.must(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Now: t0, Updates: []state.AllocDesired{
		{AllocID: "a0", DesiredStatus: cluster.AllocDesiredStop, ClientStatus: cluster.AllocClientComplete},
		{AllocID: "a2", DesiredStatus: cluster.AllocDesiredStop, ClientStatus: cluster.AllocClientComplete}}})
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true, Now: t0})
	h.must(state.MsgGC, &state.GCRequest{Allocs: []string{"a0", "a1"}, Now: t0})
	got = h.snap().JobSummary("default", "web")
	want = &state.JobSummary{Namespace: "default", JobID: "web", Allocs: 1,
		Summary: map[string]state.TaskGroupSummary{"web": {"complete": 1}}}
	if asJSON(t, got) != asJSON(t, want) {
		t.Fatalf("summary after GC of two:\n%s\nwant:\n%s", asJSON(t, got), asJSON(t, want))
	}
	h.must(state.MsgGC, &state.GCRequest{Allocs: []string{"a2"}, Now: t0})
	if s := h.snap().JobSummary("default", "web"); s != nil {
		t.Fatalf("summary after the last allocation was collected: %s", asJSON(t, s))
	}
}
