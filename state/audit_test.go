package state_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func TestAuditAppendTrimsAndRestores(t *testing.T) {
	h := newFSM(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	entry := func(i int) *cluster.AuditEntry {
		return &cluster.AuditEntry{Who: "acc", Method: "POST", Route: "/v1/jobs", Object: "web", Status: 200, Time: t0.Add(time.Duration(i) * time.Second)}
	}
	for i := range 5 {
		h.must(state.MsgAuditAppend, &state.AuditAppendRequest{Entries: []*cluster.AuditEntry{entry(2 * i), entry(2*i + 1)}, Keep: 4, Now: t0})
	}
	got := h.snap().AuditEntries(time.Time{})
	if len(got) != 4 {
		t.Fatalf("kept %d entries, want 4", len(got))
	}
	if got[0].Seq != 7 || got[3].Seq != 10 || !got[0].Time.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("kept seqs %d..%d, want the newest 7..10", got[0].Seq, got[3].Seq)
	}
	if n := len(h.snap().AuditEntries(t0.Add(8 * time.Second))); n != 2 {
		t.Fatalf("since filter kept %d, want 2", n)
	}
	if err, _ := h.apply(state.MsgAuditAppend, &state.AuditAppendRequest{}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("empty batch = %v, want ErrInvalid", err)
	}

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	restored := newFSM(t)
	if err := restored.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if rs := restored.snap().AuditEntries(time.Time{}); len(rs) != 4 || rs[3].Seq != 10 || rs[3].Who != "acc" {
		t.Fatalf("restore lost audit entries: %s", asJSON(t, rs))
	}
	// Sequence numbers continue after a restore.
	restored.must(state.MsgAuditAppend, &state.AuditAppendRequest{Entries: []*cluster.AuditEntry{entry(20)}, Keep: 4, Now: t0})
	if rs := restored.snap().AuditEntries(time.Time{}); len(rs) != 4 || rs[3].Seq != 11 {
		t.Fatalf("after restore: %s", asJSON(t, rs))
	}
}
