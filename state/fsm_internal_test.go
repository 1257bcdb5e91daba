package state

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/hashicorp/raft"
)

// A command that fails after it wrote must not leave its writes in the
// batch's shared transaction, and must not take the rest of the batch
// down with it.
func TestApplyBatchFallsBackWhenACommandFailsAfterWriting(t *testing.T) {
	const msgBroken MessageType = 250
	handlers[msgBroken] = handle(func(w *writer, req *NodeRegisterRequest) (any, error) {
		if err := w.insert(TableNodes, req.Node); err != nil {
			return nil, err
		}
		return nil, errors.New("disk on fire")
	})
	t.Cleanup(func() { delete(handlers, msgBroken) })

	f := NewFSM(NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	enc := func(index uint64, mt MessageType, req any) *raft.Log {
		data, err := Encode(mt, req)
		if err != nil {
			t.Fatal(err)
		}
		return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
	}
	resps := f.ApplyBatch([]*raft.Log{
		enc(1, MsgNodeRegister, &NodeRegisterRequest{Node: &cluster.Node{ID: "good-1"}}),
		enc(2, msgBroken, &NodeRegisterRequest{Node: &cluster.Node{ID: "broken"}}),
		enc(3, MsgNodeRegister, &NodeRegisterRequest{Node: &cluster.Node{ID: "good-2"}}),
	})
	if err, _ := resps[1].(error); err == nil {
		t.Fatalf("broken command: got %v, want its error", resps[1])
	}
	s := f.Store().Snapshot()
	if s.Node("broken") != nil {
		t.Fatal("the failed command's write was committed")
	}
	if s.Node("good-1") == nil || s.Node("good-2") == nil || s.Index(TableNodes) != 3 {
		t.Fatalf("the other commands were lost: %v %v index %d", s.Node("good-1"), s.Node("good-2"), s.Index(TableNodes))
	}
}

func TestSchemaIsValid(t *testing.T) {
	if err := schema().Validate(); err != nil {
		t.Fatal(err)
	}
}
