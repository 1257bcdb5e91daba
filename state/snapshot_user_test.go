package state_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

// saveFile saves a snapshot of r into a byte slice.
func saveFile(t *testing.T, r *state.Replicated) ([]byte, *state.SnapshotFileMeta) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	var buf bytes.Buffer
	meta, err := r.SaveSnapshot(ctx, &buf, "test-version")
	if err != nil {
		t.Fatalf("save snapshot: %v", err)
	}
	return buf.Bytes(), meta
}

// writeClusterA writes what cluster A of the restore tests holds: jobs
// with allocations, an ACL policy, its own member record and keyring.
func writeClusterA(t *testing.T, r *state.Replicated) {
	t.Helper()
	writeSome(t, r, 0)
	writeSome(t, r, 1)
	mustApply(t, r, state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "a-server", RaftAddr: "10.0.0.1:4647", HTTPAddr: "10.0.0.1:4747"}, Now: t0})
	mustApply(t, r, state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("cluster-a"), Now: t0})
	mustApply(t, r, state.MsgACLPolicyUpsert, &state.ACLPolicyUpsertRequest{Policies: []*cluster.ACLPolicy{{Name: "readonly", Rules: `namespace "default" { policy = "read" }`}}, Now: t0})
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	r := openSingle(t, t.TempDir())
	writeClusterA(t, r)
	data, meta := saveFile(t, r)
	if meta.Index == 0 || meta.Term == 0 || meta.ServerID != "solo" || len(meta.Servers) != 1 || meta.DroverVersion != "test-version" {
		t.Fatalf("meta = %+v", meta)
	}
	info, err := state.InspectSnapshot(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if info.Meta.Index != meta.Index || info.Meta.Term != meta.Term || info.Size != int64(len(data)) || len(info.SHA256) != 64 {
		t.Fatalf("info = %+v, want index %d term %d size %d", info, meta.Index, meta.Term, len(data))
	}
	snap := r.Store().Snapshot()
	for table, want := range map[string]int{
		state.TableJobs: len(snap.Jobs()), state.TableAllocs: len(snap.Allocs()), state.TableNodes: len(snap.Nodes()),
		state.TableMembers: 1, state.TableACLPolicies: 1, state.TableTLSKeyring: 1,
	} {
		if got := info.Tables[table]; got != want || want == 0 {
			t.Errorf("table %s: %d records, want %d", table, got, want)
		}
	}
	if info.Records == 0 {
		t.Error("no records counted")
	}
}

// TestSnapshotFileDamage truncates and alters a snapshot file everywhere
// that matters: each is a clear ErrBadSnapshot, never a partial state.
func TestSnapshotFileDamage(t *testing.T) {
	r := openSingle(t, t.TempDir())
	writeClusterA(t, r)
	data, _ := saveFile(t, r)
	headerEnd := bytes.IndexByte(data[len("drover-snapshot v1\n"):], '\n') + len("drover-snapshot v1\n") + 1
	flip := func(i int) []byte {
		b := bytes.Clone(data)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a Drover snapshot file"},
		{"not a snapshot", []byte("hello world\n"), "not a Drover snapshot file"},
		{"cut in the magic", data[:5], "truncated"},
		{"cut in the header", data[:headerEnd-10], "truncated"},
		{"cut in the state", data[:headerEnd+100], "truncated: the file ends 100 bytes into its state"},
		{"cut before the checksum", data[:len(data)-72], "checksum line at the end is missing"},
		{"cut in the checksum", data[:len(data)-5], "checksum line at the end is missing"},
		{"byte flipped in the header", flip(headerEnd - 5), ""},
		{"byte flipped in the state", flip(headerEnd + 200), "checksum mismatch"},
		{"byte flipped in the checksum", flip(len(data) - 10), "checksum mismatch"},
		{"bytes appended", append(bytes.Clone(data), "more"...), "bytes after the checksum line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := state.InspectSnapshot(bytes.NewReader(tc.data))
			if !errors.Is(err, state.ErrBadSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("inspect: %v, want ErrBadSnapshot with %q", err, tc.want)
			}
		})
	}
	// A restore refuses it too, before touching anything.
	before := dump(t, r.Store().Snapshot())
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	if _, err := r.RestoreSnapshot(ctx, bytes.NewReader(flip(headerEnd+200))); !errors.Is(err, state.ErrBadSnapshot) {
		t.Fatalf("restore of an altered file: %v", err)
	}
	if after := dump(t, r.Store().Snapshot()); after != before {
		t.Fatal("a refused restore changed the state")
	}
}

// TestSnapshotRestoreOntoOtherCluster saves cluster A and restores it on
// a fresh three-server cluster B: every server of B ends with A's jobs,
// allocations and ACL policies, and with B's own members and keyring;
// indexes move forward.
func TestSnapshotRestoreOntoOtherCluster(t *testing.T) {
	a := openSingle(t, t.TempDir())
	writeClusterA(t, a)
	data, meta := saveFile(t, a)

	b := statetest.NewCluster(t, 3)
	leader := b.WaitForLeader()
	mustApply(t, leader, state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "b-server", RaftAddr: "10.1.0.1:4647", HTTPAddr: "10.1.0.1:4747"}, Now: t0})
	mustApply(t, leader, state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("cluster-b"), Now: t0})
	for range 30 { // B's indexes run ahead of A's
		mustApply(t, leader, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("b-only", "b", 1), Now: t0})
	}
	bIndex := leader.LastIndex()

	// A follower refuses: a restore runs on the leader.
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	if _, err := b.Followers()[0].RestoreSnapshot(ctx, bytes.NewReader(data)); !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("restore on a follower: %v", err)
	}
	info, err := leader.RestoreSnapshot(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if info.Meta.Index != meta.Index {
		t.Fatalf("restored index %d, saved %d", info.Meta.Index, meta.Index)
	}
	aSnap := a.Store().Snapshot()
	// A write after the restore: once every server applied it, each has
	// installed the restored snapshot before it.
	idx, _ := mustApply(t, leader, state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("after-restore"), Now: t0})
	b.WaitForApplied(idx)
	for _, s := range b.Live() {
		snap := s.Store().Snapshot()
		if got, want := jobIDs(snap), jobIDs(aSnap); got != want {
			t.Errorf("%s: jobs %s, want A's %s", s.ID(), got, want)
		}
		if len(snap.Allocs()) != len(aSnap.Allocs()) || len(snap.ACLPolicies()) != 1 || len(snap.Nodes()) != len(aSnap.Nodes())+1 {
			t.Errorf("%s: %d allocs (A: %d), %d policies", s.ID(), len(snap.Allocs()), len(aSnap.Allocs()), len(snap.ACLPolicies()))
		}
		if snap.Member("a-server") != nil || snap.Member("b-server") == nil {
			t.Errorf("%s: members are not B's: %v", s.ID(), snap.Members())
		}
		if k := snap.TLSKeyring(); k == nil || !bytes.Equal(k.SealedCAKey, testKeyring("cluster-b").SealedCAKey) {
			t.Errorf("%s: keyring is not B's", s.ID())
		}
		if idx := snap.Index(state.TableJobs); idx <= bIndex {
			t.Errorf("%s: jobs index %d went back (B was at %d)", s.ID(), idx, bIndex)
		}
	}
}

func jobIDs(s *state.Snapshot) string {
	var ids []string
	for _, j := range s.Jobs() {
		ids = append(ids, j.ID)
	}
	return strings.Join(ids, ",")
}

// TestRecoverFromRaftSnapshot is `drover server -recover` on a lost
// raft.db: the state comes back from raft's own newest snapshot, the
// damaged file is moved aside, not deleted.
func TestRecoverFromRaftSnapshot(t *testing.T) {
	dir := t.TempDir()
	r := openSingle(t, dir)
	writeSome(t, r, 0)
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	if err := r.TakeSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	want := jobIDs(r.Store().Snapshot())
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "raft.db")
	if err := os.WriteFile(db, []byte("garbage that is not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if why, err := state.RecoveryNeeded(dir); err != nil || why == "" {
		t.Fatalf("recovery needed: %q, %v", why, err)
	}
	rec, err := state.Recover(dir, nil, t0)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if rec.From.File || rec.From.Index == 0 || rec.MovedDB == "" {
		t.Fatalf("recovered = %+v", rec)
	}
	if b, err := os.ReadFile(rec.MovedDB); err != nil || !strings.HasPrefix(string(b), "garbage") {
		t.Fatalf("the damaged raft.db was not kept: %v", err)
	}
	r2 := openSingle(t, dir)
	if got := jobIDs(r2.Store().Snapshot()); got != want || got == "" {
		t.Fatalf("jobs after recover: %q, want %q", got, want)
	}
	mustApply(t, r2, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("after", "g", 1), Now: t0})
	if err := r2.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if why, err := state.RecoveryNeeded(dir); err != nil || why != "" {
		t.Fatalf("after recover and a write: %q, %v", why, err)
	}
}

// TestRecoverFromSnapshotFile recovers from an automatic snapshot file
// newer than raft's own snapshots.
func TestRecoverFromSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	r := openSingle(t, dir)
	writeSome(t, r, 0)
	mustApply(t, r, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("in-file", "f", 1), Now: t0})
	data, meta := saveFile(t, r)
	file := filepath.Join(t.TempDir(), "auto.snap")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := jobIDs(r.Store().Snapshot())
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// Lose raft.db and raft's own snapshots: only the file is left.
	for _, p := range []string{"raft.db", "snapshots"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	damaged := filepath.Join(t.TempDir(), "damaged.snap")
	if err := os.WriteFile(damaged, append(bytes.Clone(data[:len(data)-20]), "xxxxxxxxxxxxxxxxxxx\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err := state.Recover(dir, []string{damaged, file}, time.Now())
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if !rec.From.File || rec.From.Path != file || rec.From.Index != meta.Index || rec.MovedDB != "" || len(rec.Skipped) != 1 {
		t.Fatalf("recovered = %+v", rec)
	}
	r2 := openSingle(t, dir)
	if got := jobIDs(r2.Store().Snapshot()); got != want {
		t.Fatalf("jobs after recover: %q, want %q", got, want)
	}
	mustApply(t, r2, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("after", "g", 1), Now: t0})
}

func TestMemberDelete(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "a", RaftAddr: "10.0.0.1:4647"}, Now: t0})
	h.must(state.MsgMemberDelete, &state.MemberDeleteRequest{ID: "a", Now: t0})
	if h.snap().Member("a") != nil || h.snap().Index(state.TableMembers) != h.index {
		t.Fatalf("member a not deleted at index %d", h.index)
	}
	// Deleting again is no error: a new leader repeats an interrupted
	// cleanup.
	h.must(state.MsgMemberDelete, &state.MemberDeleteRequest{ID: "a", Now: t0})
	if err, ok := h.apply(state.MsgMemberDelete, &state.MemberDeleteRequest{}).(error); !ok || !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("delete without ID: %v", err)
	}
}
