package scheduler

import (
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// defaultSpreadWeight is Nomad's default weight of a spread block.
const defaultSpreadWeight = 50

// spreadState scores one spread block of a group. It keeps the group's
// allocation count per property value, and the histogram of those counts
// with its minimum and maximum, so that scoring a node and recording a
// placement cost O(1) whatever the number of values or placements.
type spreadState struct {
	attr   target
	weight float64 // this block's share of the group's spread weights

	// desired is the wanted count per value; nil for an even spread.
	desired     map[string]float64
	implicit    float64
	hasImplicit bool

	ids    map[string]int32 // property value -> dense id
	counts []int            // by id
	want   []float64        // by id, with targets: desired count, -1 for none
	freq   map[int]int      // count -> number of values with it (count >= 1)
	min    int              // smallest count >= 1, 0 when no value is used
	max    int

	nodeValue []int32 // candidate slot -> value id; -2 unknown, -1 unset
}

func newSpreads(jobSpreads, groupSpreads []jobspec.Spread, count, nCand int) []*spreadState {
	all := make([]jobspec.Spread, 0, len(jobSpreads)+len(groupSpreads))
	all = append(all, jobSpreads...)
	all = append(all, groupSpreads...)
	if len(all) == 0 {
		return nil
	}
	sum := 0
	for _, s := range all {
		sum += spreadWeight(s)
	}
	out := make([]*spreadState, 0, len(all))
	for _, s := range all {
		st := &spreadState{
			attr: parseTarget(s.Attribute), weight: float64(spreadWeight(s)) / float64(sum),
			ids: map[string]int32{}, freq: map[int]int{}, nodeValue: make([]int32, nCand),
		}
		for i := range st.nodeValue {
			st.nodeValue[i] = -2
		}
		if len(s.Targets) > 0 {
			st.desired = make(map[string]float64, len(s.Targets))
			total := 0.0
			for _, t := range s.Targets {
				d := float64(t.Percent) / 100 * float64(count)
				st.desired[t.Value] = d
				total += d
			}
			if total > 0 && total < float64(count) {
				st.implicit, st.hasImplicit = float64(count)-total, true
			}
		}
		out = append(out, st)
	}
	return out
}

func spreadWeight(s jobspec.Spread) int {
	if s.Weight <= 0 {
		return defaultSpreadWeight
	}
	return s.Weight
}

func (s *spreadState) id(v string) int32 {
	id, ok := s.ids[v]
	if !ok {
		id = int32(len(s.counts))
		s.ids[v] = id
		s.counts = append(s.counts, 0)
		if s.desired != nil {
			w, ok := s.desired[v]
			switch {
			case ok:
			case s.hasImplicit:
				w = s.implicit
			default:
				w = -1
			}
			s.want = append(s.want, w)
		}
	}
	return id
}

// valueOf returns the value id of candidate slot i (or of node n when it
// is not a candidate), -1 when the node lacks the property.
func (s *spreadState) valueOf(i int, n *cluster.Node) int32 {
	if i >= 0 && i < len(s.nodeValue) {
		if v := s.nodeValue[i]; v != -2 {
			return v
		}
	}
	v := int32(-1)
	if str, ok := s.attr.resolve(n); ok {
		v = s.id(str)
	}
	if i >= 0 && i < len(s.nodeValue) {
		s.nodeValue[i] = v
	}
	return v
}

// addID moves the count of value id by sign (+1 or -1).
func (s *spreadState) addID(id int32, sign int) {
	if id < 0 {
		return
	}
	c := s.counts[id]
	next := c + sign
	if next < 0 {
		return
	}
	s.counts[id] = next
	if c > 0 {
		s.freq[c]--
	}
	if next > 0 {
		s.freq[next]++
	}
	switch {
	case sign > 0:
		if next > s.max {
			s.max = next
		}
		if c == 0 {
			s.min = 1
		} else if c == s.min && s.freq[c] == 0 {
			s.min = next
		}
	case sign < 0:
		if c == s.max && s.freq[c] == 0 {
			s.max = next // 0 when this was the last used value
			if next == 0 {
				s.max = s.highestUsed(c)
			}
		}
		switch {
		case next > 0 && next < s.min:
			s.min = next
		case c == s.min && s.freq[c] == 0 && next == 0:
			s.min = s.lowestUsed(c + 1)
		}
	}
}

// lowestUsed and highestUsed walk the histogram; only stops, which are
// rare next to placements, need them.
func (s *spreadState) lowestUsed(from int) int {
	for c := from; c <= s.max; c++ {
		if s.freq[c] > 0 {
			return c
		}
	}
	return 0
}

func (s *spreadState) highestUsed(below int) int {
	for c := below - 1; c > 0; c-- {
		if s.freq[c] > 0 {
			return c
		}
	}
	return 0
}

// score is the spread's boost for one more allocation on a node whose
// value is id, in [-1, 1] before weighting, as Nomad scores spreads.
func (s *spreadState) score(id int32) float64 {
	if id < 0 {
		return -1
	}
	if s.desired == nil {
		return s.evenBoost(id)
	}
	want := s.want[id]
	if want <= 0 {
		return -1 // no share for this value: the largest penalty
	}
	used := float64(s.counts[id] + 1)
	return (want - used) / want * s.weight
}

// evenBoost favours values used least: +1 for an unused value or one at
// the minimum when counts differ, -1 when all values are even, and the
// relative gap to the minimum otherwise.
func (s *spreadState) evenBoost(id int32) float64 {
	if s.min == 0 {
		return 0 // nothing placed yet
	}
	cur := s.counts[id]
	switch {
	case cur != s.min:
		return float64(s.min-cur) / float64(s.min)
	case s.min == s.max:
		return -1
	}
	return float64(s.max-cur) / float64(s.min)
}
