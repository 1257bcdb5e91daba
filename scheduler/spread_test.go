package scheduler

import (
	"math/rand/v2"
	"testing"
)

// TestSpreadHistogram checks the incremental minimum and maximum against
// a recount after every random placement and stop.
func TestSpreadHistogram(t *testing.T) {
	s := newSpreads(nil, nil, 0, 0)
	if s != nil {
		t.Fatal("no spreads want nil")
	}
	st := &spreadState{ids: map[string]int32{}, freq: map[int]int{}}
	for i := range 8 {
		st.id(string(rune('a' + i)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 5000 {
		id := int32(r.IntN(8))
		sign := 1
		if r.IntN(3) == 0 {
			sign = -1
		}
		st.addID(id, sign)
		lo, hi := 0, 0
		for _, c := range st.counts {
			if c > 0 && (lo == 0 || c < lo) {
				lo = c
			}
			hi = max(hi, c)
		}
		if st.min != lo || st.max != hi {
			t.Fatalf("step %d: min/max = %d/%d, recount %d/%d (counts %v)", step, st.min, st.max, lo, hi, st.counts)
		}
	}
}

func TestEvenSpreadBoost(t *testing.T) {
	st := &spreadState{ids: map[string]int32{}, freq: map[int]int{}}
	a, b, c := st.id("a"), st.id("b"), st.id("c")
	if got := st.score(a); got != 0 {
		t.Errorf("nothing placed: %v, want 0", got)
	}
	st.addID(a, 1)
	if got := st.score(b); got != 1 {
		t.Errorf("unused value: %v, want 1", got)
	}
	if got := st.score(a); got != -1 {
		t.Errorf("even counts: %v, want -1", got)
	}
	st.addID(a, 1)
	st.addID(b, 1)
	if got := st.score(a); got != -1 {
		t.Errorf("above minimum: %v, want -1", got)
	}
	if got := st.score(b); got != 1 {
		t.Errorf("at minimum below maximum: %v, want 1", got)
	}
	if got := st.score(c); got != 1 {
		t.Errorf("unused: %v, want 1", got)
	}
	if got := st.score(-1); got != -1 {
		t.Errorf("node without the property: %v, want -1", got)
	}
}
