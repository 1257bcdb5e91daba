package state_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

const testCACert = "-----BEGIN CERTIFICATE-----\nMIIB...test CA...\n-----END CERTIFICATE-----\n"

// testKeyring is a keyring whose sealed parts are tagged with gen, so
// that a rotation is visible. The bytes are opaque to the store: they need
// not be real ciphertext.
func testKeyring(gen string) *cluster.TLSKeyring {
	return &cluster.TLSKeyring{
		CACert:            testCACert,
		SealedCAKey:       []byte("sealed-ca-key-" + gen + "\x00\xff"),
		SealedServerToken: []byte("sealed-server-token-" + gen),
		SealedClientToken: []byte("sealed-client-token-" + gen),
	}
}

// stored is what the FSM keeps of k written at create and modify.
func stored(k *cluster.TLSKeyring, create, modify uint64) *cluster.TLSKeyring {
	c := k.Copy()
	c.CreateIndex, c.ModifyIndex = create, modify
	return c
}

func TestTLSKeyringSet(t *testing.T) {
	other := testKeyring("b")
	other.CACert = "-----BEGIN CERTIFICATE-----\nanother CA\n-----END CERTIFICATE-----\n"
	noCA := testKeyring("b")
	noCA.CACert = ""
	noKey := testKeyring("b")
	noKey.SealedCAKey = nil

	for _, tc := range []struct {
		name string
		// prior is how many writes come first: 0 none, 1 a create at
		// index 1, 2 that and a rotation at index 2.
		prior   int
		keyring *cluster.TLSKeyring
		cas     uint64
		wantErr error
		want    *cluster.TLSKeyring // stored after the request, nil for none
	}{
		{name: "create", prior: 0, keyring: testKeyring("b"), cas: 0, want: stored(testKeyring("b"), 1, 1)},
		{name: "second create", prior: 1, keyring: testKeyring("b"), cas: 0, wantErr: state.ErrCASConflict},
		{name: "rotate", prior: 1, keyring: testKeyring("b"), cas: 1, want: stored(testKeyring("b"), 1, 2)},
		{name: "rotate again", prior: 2, keyring: testKeyring("c"), cas: 2, want: stored(testKeyring("c"), 1, 3)},
		{name: "stale cas", prior: 2, keyring: testKeyring("c"), cas: 1, wantErr: state.ErrCASConflict},
		{name: "cas from the future", prior: 1, keyring: testKeyring("b"), cas: 7, wantErr: state.ErrCASConflict},
		{name: "rotate nothing", prior: 0, keyring: testKeyring("b"), cas: 1, wantErr: state.ErrCASConflict},
		{name: "replace the CA", prior: 1, keyring: other, cas: 1, wantErr: state.ErrInvalid},
		{name: "no keyring", prior: 1, keyring: nil, cas: 1, wantErr: state.ErrInvalid},
		{name: "no CA certificate", prior: 0, keyring: noCA, cas: 0, wantErr: state.ErrInvalid},
		{name: "no sealed CA key", prior: 1, keyring: noKey, cas: 1, wantErr: state.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFSM(t)
			if tc.prior >= 1 {
				h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0})
			}
			if tc.prior >= 2 {
				h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("a2"), CASIndex: 1, Now: t0})
			}
			before := h.snap()

			resp := h.apply(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: tc.keyring, CASIndex: tc.cas, Now: t0})
			err, _ := resp.(error)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", resp, tc.wantErr)
			}
			s := h.snap()
			if tc.wantErr != nil {
				// A refused request stores nothing and moves no index.
				if got, want := s.TLSKeyring(), before.TLSKeyring(); !reflect.DeepEqual(got, want) {
					t.Fatalf("refused request changed the keyring:\n%s\nwant:\n%s", asJSON(t, got), asJSON(t, want))
				}
				if got, want := s.Index(state.TableTLSKeyring), before.Index(state.TableTLSKeyring); got != want {
					t.Fatalf("refused request moved the table index to %d from %d", got, want)
				}
				return
			}
			if got := s.TLSKeyring(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("stored:\n%s\nwant:\n%s", asJSON(t, got), asJSON(t, tc.want))
			}
			if got := s.Index(state.TableTLSKeyring); got != h.index {
				t.Fatalf("table index = %d, want %d", got, h.index)
			}
		})
	}
}

func TestTLSKeyringErrorMessages(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0})
	other := testKeyring("a")
	other.CACert = "another"
	err, _ := h.apply(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: other, CASIndex: 1, Now: t0}).(error)
	if err == nil || err.Error() != "state: invalid command: the cluster CA cannot be replaced" {
		t.Fatalf("replacing the CA: %v", err)
	}
	// Errors never carry the sealed bytes.
	for _, req := range []*state.TLSKeyringSetRequest{
		{Keyring: testKeyring("a"), Now: t0},
		{Keyring: testKeyring("a"), CASIndex: 9, Now: t0},
		{Keyring: other, CASIndex: 1, Now: t0},
	} {
		err, _ := h.apply(state.MsgTLSKeyringSet, req).(error)
		if err == nil || strings.Contains(err.Error(), "sealed-") {
			t.Fatalf("error %q", err)
		}
	}
}

// The store hands out shared records: a writer's Copy must not alias them.
func TestTLSKeyringCopy(t *testing.T) {
	h := newFSM(t)
	req := &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0}
	h.must(state.MsgTLSKeyringSet, req)
	got := h.snap().TLSKeyring()
	c := got.Copy()
	c.SealedCAKey[0] ^= 0xff
	c.SealedServerToken[0] ^= 0xff
	c.SealedClientToken[0] ^= 0xff
	if !reflect.DeepEqual(h.snap().TLSKeyring(), stored(testKeyring("a"), 1, 1)) {
		t.Fatal("changing a copy changed the stored keyring")
	}
	if (*cluster.TLSKeyring)(nil).Copy() != nil {
		t.Fatal("nil.Copy() != nil")
	}
}

func TestTLSKeyringSnapshotRestore(t *testing.T) {
	h := newFSM(t)
	if h.snap().TLSKeyring() != nil {
		t.Fatal("an empty store has a keyring")
	}
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0})
	h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("b"), CASIndex: h.index, Now: t0})
	want := h.snap().TLSKeyring()
	wantIndex := h.snap().Index(state.TableTLSKeyring)

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	restored := newFSM(t)
	if err := restored.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	rs := restored.snap()
	if got := rs.TLSKeyring(); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored keyring:\n%s\nwant:\n%s", asJSON(t, got), asJSON(t, want))
	}
	if got := rs.Index(state.TableTLSKeyring); got != wantIndex {
		t.Fatalf("restored table index = %d, want %d", got, wantIndex)
	}
	if rs.Node("n1") == nil {
		t.Fatal("restore lost the other tables")
	}

	// The restored store goes on from the restored ModifyIndex: a stale
	// rotation is refused, a current one applies.
	restored.index = h.index
	if err, _ := restored.apply(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("c"), CASIndex: want.CreateIndex, Now: t0}).(error); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("stale rotation after restore = %v, want ErrCASConflict", err)
	}
	restored.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("c"), CASIndex: want.ModifyIndex, Now: t0})
	if got := restored.snap().TLSKeyring(); got.CreateIndex != want.CreateIndex || got.ModifyIndex != restored.index {
		t.Fatalf("rotation after restore: indexes %d/%d", got.CreateIndex, got.ModifyIndex)
	}

	// A store without a keyring restores to one without a keyring.
	var empty bytes.Buffer
	persist(t, newFSM(t).fsm, &empty)
	if err := restored.fsm.Restore(readCloser(&empty)); err != nil {
		t.Fatal(err)
	}
	if restored.snap().TLSKeyring() != nil {
		t.Fatal("restoring an empty snapshot kept the keyring")
	}
}

func TestTLSKeyringBlockingQuery(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0})
	min := h.snap().Index(state.TableTLSKeyring)
	query := func(s *state.Snapshot) (uint64, any) {
		return s.Index(state.TableTLSKeyring), s.TLSKeyring()
	}

	type result struct {
		index uint64
		value any
		err   error
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	out := make(chan result, 1)
	go func() {
		idx, v, err := h.store().Blocking(ctx, min, []string{state.TableTLSKeyring}, query)
		out <- result{idx, v, err}
	}()

	// A write to another table does not wake it.
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	time.Sleep(50 * time.Millisecond)
	select {
	case r := <-out:
		t.Fatalf("woke on a write to another table: %+v", r)
	default:
	}

	h.must(state.MsgTLSKeyringSet, &state.TLSKeyringSetRequest{Keyring: testKeyring("b"), CASIndex: min, Now: t0})
	r := <-out
	if r.err != nil || r.index != h.index {
		t.Fatalf("got index %d, err %v; want index %d", r.index, r.err, h.index)
	}
	if k, _ := r.value.(*cluster.TLSKeyring); k == nil || !bytes.Equal(k.SealedCAKey, testKeyring("b").SealedCAKey) {
		t.Fatalf("blocking query returned %+v", r.value)
	}
}

func TestTLSKeyringThreeServers(t *testing.T) {
	c := statetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()

	// A malformed request is refused before Raft, even on a follower; a
	// good one on a follower is refused for want of leadership.
	follower := c.Followers()[0]
	if _, err := follower.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: &cluster.TLSKeyring{CACert: testCACert}, Now: t0}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("malformed request on a follower = %v, want ErrInvalid", err)
	}
	if _, err := follower.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0}); !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("create on a follower = %v, want ErrNotLeader", err)
	}

	created, err := leader.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: testKeyring("a"), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: testKeyring("x"), Now: t0}); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("second create = %v, want ErrCASConflict", err)
	}
	rotated, err := leader.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: testKeyring("b"), CASIndex: created, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: testKeyring("y"), CASIndex: created, Now: t0}); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("stale rotation = %v, want ErrCASConflict", err)
	}

	c.WaitForApplied(rotated)
	want := stored(testKeyring("b"), created, rotated)
	for _, s := range c.Live() {
		if got := s.Store().Snapshot().TLSKeyring(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s has keyring:\n%s\nwant:\n%s", s.ID(), asJSON(t, got), asJSON(t, want))
		}
	}
}
