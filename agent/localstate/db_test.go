package localstate

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
)

// TestTemplateSums: a task's template digests survive a reopen of the
// file, are per task, go with their allocation, and do not show up as a
// task record; a record for an allocation not stored, or too big, is
// refused.
func TestTemplateSums(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const alloc = "a1"
	if err := db.PutAlloc(&cluster.Allocation{ID: alloc}, nil); err != nil {
		t.Fatal(err)
	}
	want := &TemplateSums{Key: bytes.Repeat([]byte{7}, 32), Sums: [][]byte{nil, bytes.Repeat([]byte{9}, 32)}}
	if err := db.PutTemplateSums(alloc, "t", want); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTemplateSums("nope", "t", want); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Errorf("for an allocation not stored: %v", err)
	}
	if err := db.PutTemplateSums(alloc, "t", &TemplateSums{Sums: make([][]byte, maxTemplateSums+1)}); err == nil {
		t.Error("an unbounded record was stored")
	}
	db.Close()

	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.TemplateSums(alloc, "t")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("TemplateSums = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct{ alloc, task string }{{alloc, "other"}, {"nope", "t"}} {
		if got, err := db.TemplateSums(tc.alloc, tc.task); got != nil || err != nil {
			t.Errorf("%s/%s: %+v, %v; want none", tc.alloc, tc.task, got, err)
		}
	}
	recs, err := db.Allocs()
	if err != nil || len(recs) != 1 || len(recs[0].Tasks) != 0 {
		t.Fatalf("Allocs = %+v, %v; the digests are not a task", recs, err)
	}
	if err := db.DeleteAlloc(alloc); err != nil {
		t.Fatal(err)
	}
	if got, err := db.TemplateSums(alloc, "t"); got != nil || err != nil {
		t.Errorf("after DeleteAlloc: %+v, %v", got, err)
	}
}
