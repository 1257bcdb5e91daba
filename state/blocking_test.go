package state_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

type blockResult struct {
	index uint64
	value any
	err   error
	at    time.Time
}

// block starts a blocking query on the allocs table in the background,
// counting how often its query runs.
func block(ctx context.Context, s *state.Store, minIndex uint64, runs *atomic.Int32) <-chan blockResult {
	out := make(chan blockResult, 1)
	go func() {
		idx, v, err := s.Blocking(ctx, minIndex, []string{state.TableAllocs}, func(snap *state.Snapshot) (uint64, any) {
			runs.Add(1)
			return snap.Index(state.TableAllocs), len(snap.Allocs())
		})
		out <- blockResult{idx, v, err, time.Now()}
	}()
	return out
}

func TestBlockingWakesOnRelevantWrite(t *testing.T) {
	h := planFixture(t)
	min := h.snap().Index(state.TableAllocs)
	var runs atomic.Int32
	res := block(t.Context(), h.store(), min, &runs)

	time.Sleep(50 * time.Millisecond)
	select {
	case r := <-res:
		t.Fatalf("returned before any write: %+v", r)
	default:
	}
	written := time.Now()
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{testAlloc("a9", "web", "n2", "e9")}, Now: t0})
	select {
	case r := <-res:
		latency := r.at.Sub(written)
		t.Logf("woke %v after the write", latency)
		if r.err != nil || r.index != h.index || r.value != 4 {
			t.Fatalf("got %+v, want index %d and 4 allocs", r, h.index)
		}
		if latency > 100*time.Millisecond {
			t.Fatalf("woke %v after the write", latency)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not wake on a write to its table")
	}
}

func TestBlockingIgnoresOtherTables(t *testing.T) {
	h := planFixture(t)
	min := h.snap().Index(state.TableAllocs)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var runs atomic.Int32
	res := block(ctx, h.store(), min, &runs)

	time.Sleep(20 * time.Millisecond)
	for i := range 20 {
		h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode(string(rune('a' + i))), Now: t0})
		h.must(state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: []*cluster.Evaluation{testEval("x", "web")}, Now: t0})
	}
	r := <-res
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("got %+v, want the timeout", r)
	}
	if r.index != min || r.value != 3 {
		t.Fatalf("timed-out query returned %+v, want its latest result", r)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("query ran %d times: writes to other tables woke it", n)
	}
}

func TestBlockingReturnsAtOnce(t *testing.T) {
	h := planFixture(t)
	cur := h.snap().Index(state.TableAllocs)
	for _, min := range []uint64{0, cur - 1} {
		var runs atomic.Int32
		select {
		case r := <-block(t.Context(), h.store(), min, &runs):
			if r.err != nil || r.index != cur {
				t.Fatalf("min %d: %+v", min, r)
			}
		case <-time.After(time.Second):
			t.Fatalf("min %d: blocked", min)
		}
	}
	// An empty table reports index 1, so a client feeding it back blocks
	// instead of spinning.
	idx, _, err := state.NewStore().Blocking(t.Context(), 0, []string{state.TableAllocs}, func(s *state.Snapshot) (uint64, any) {
		return s.Index(state.TableAllocs), nil
	})
	if err != nil || idx != 1 {
		t.Fatalf("empty table: index %d, err %v", idx, err)
	}
}

func TestBlockingWakesOnRestore(t *testing.T) {
	src := planFixture(t)
	var buf bytes.Buffer
	persist(t, src.fsm, &buf)

	h := newFSM(t)
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	var runs atomic.Int32
	res := block(t.Context(), h.store(), 1, &runs)
	time.Sleep(20 * time.Millisecond)
	if err := h.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || r.value != 3 {
			t.Fatalf("after restore: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a restore did not wake the query")
	}
}
