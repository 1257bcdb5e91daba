package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// sealed returns a good enveloped JobRegister entry's bytes.
func sealed(t *testing.T, id string) []byte {
	t.Helper()
	data, err := state.Encode(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, "a", 1), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every way a log entry can be damaged or unreadable stops the FSM at
// that entry, naming it, instead of skipping it: a replica that skips
// what the others apply has silently diverged.
func TestCorruptEntryHaltsFSM(t *testing.T) {
	good := sealed(t, "web")
	flip := func(i int) []byte {
		d := append([]byte(nil), good...)
		d[i] ^= 0x20
		return d
	}
	badBody, err := state.Encode(state.MsgJobRegister, "not a request")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty", nil, "empty entry"},
		{"flipped byte in the body", flip(len(good) / 2), "checksum mismatch"},
		{"flipped byte in the checksum", flip(2), "checksum mismatch"},
		{"flipped message type", flip(5), "checksum mismatch"},
		{"truncated", good[:len(good)-7], "checksum mismatch"},
		{"shorter than the header", good[:4], "shorter than its 6-byte header"},
		{"unknown envelope version", append([]byte{0xD2}, good[1:]...), "unknown envelope version 0xd2"},
		{"unknown message type (legacy)", []byte{0x7E, '{', '}'}, "unknown message type 126"},
		{"legacy body that does not decode", []byte{byte(state.MsgJobRegister), '{'}, "decode body"},
		{"sealed body that does not decode", badBody, "decode body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFSM(t)
			h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("db", "a", 1), Now: t0})
			h.index++
			bad := h.index
			resp := h.fsm.Apply(&raft.Log{Index: bad, Type: raft.LogCommand, Data: tc.data})
			var ce *state.CorruptEntryError
			if err, _ := resp.(error); !errors.As(err, &ce) || !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("got %v, want a CorruptEntryError", resp)
			}
			if ce.Index != bad || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("error %q: want index %d and reason containing %q", ce, bad, tc.reason)
			}
			select {
			case <-h.fsm.Halted():
			default:
				t.Fatal("Halted is not closed")
			}
			if !errors.Is(h.fsm.HaltErr(), state.ErrCorrupt) {
				t.Fatalf("HaltErr = %v", h.fsm.HaltErr())
			}
			// Nothing after it applies, and no snapshot can be taken
			// that would claim the entry's index.
			if err, _ := h.apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("api", "a", 1), Now: t0}).(error); !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("apply after the halt: %v", err)
			}
			if h.snap().Job("default", "api") != nil {
				t.Fatal("a command after the corrupt entry was applied")
			}
			if h.snap().Job("default", "db") == nil {
				t.Fatal("the command before the corrupt entry is gone")
			}
			if got := h.fsm.AppliedIndex(); got != bad-1 {
				t.Fatalf("applied index %d, want %d", got, bad-1)
			}
			if _, err := h.fsm.Snapshot(); !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("Snapshot after the halt: %v", err)
			}
		})
	}
}

// In a batch raft commits together, the entries before a corrupt one go
// in; it and those after it do not.
func TestCorruptEntryInBatch(t *testing.T) {
	h := newFSM(t)
	first := h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	bad := h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("api", "a", 1), Now: t0})
	bad.Data[len(bad.Data)-3] ^= 1
	last := h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("db", "a", 1), Now: t0})
	resps := h.fsm.ApplyBatch([]*raft.Log{first, bad, last})
	if err, _ := resps[0].(error); err != nil {
		t.Fatalf("first: %v", err)
	}
	for i, r := range resps[1:] {
		if err, _ := r.(error); !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("entry %d: %v, want ErrCorrupt", i+1, r)
		}
	}
	s := h.snap()
	if s.Job("default", "web") == nil || s.Job("default", "api") != nil || s.Job("default", "db") != nil {
		t.Fatal("want only the entry before the corrupt one applied")
	}
	if got := h.fsm.AppliedIndex(); got != first.Index {
		t.Fatalf("applied index %d, want %d", got, first.Index)
	}
}

// Logs written before the envelope existed still apply, and the
// envelope is what Encode writes now.
func TestLegacyEntriesStillApply(t *testing.T) {
	h := newFSM(t)
	data, err := state.EncodeLegacyForTest(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	h.index++
	if err, _ := h.fsm.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data}).(error); err != nil {
		t.Fatal(err)
	}
	if h.snap().Job("default", "web") == nil {
		t.Fatal("legacy entry not applied")
	}
	if env := sealed(t, "x"); env[0] != 0xD1 || env[5] != byte(state.MsgJobRegister) {
		t.Fatalf("Encode wrote % x…, want the v1 envelope", env[:6])
	}
}

// FuzzOpenEnvelope: whatever bytes an entry holds, the FSM either applies
// them as a command or halts naming the entry; it never panics.
func FuzzOpenEnvelope(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xD1, 0, 0, 0, 0, 1, '{', '}'})
	data, _ := state.Encode(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	f.Add(data)
	legacy, _ := state.EncodeLegacyForTest(state.MsgNodeRegister, &state.NodeRegisterRequest{})
	f.Add(legacy)
	f.Fuzz(func(t *testing.T, b []byte) {
		h := newFSM(t)
		resp := h.fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: b})
		if err, ok := resp.(error); ok && errors.Is(err, state.ErrCorrupt) {
			if h.fsm.HaltErr() == nil {
				t.Fatal("a corrupt entry did not halt the FSM")
			}
		}
	})
}
