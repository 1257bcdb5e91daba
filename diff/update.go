package diff

import (
	"strconv"

	"github.com/droverhq/drover/jobspec"
)

// GroupUpdate reports whether the running allocations of one group of old
// must be replaced (destructive) rather than updated in place to run new,
// with the reasons that force it. It is the scheduler's view of Compute:
// the same rules decide what `drover plan` shows and what the scheduler
// does.
//
// A group missing from either side is destructive: there is nothing to
// update in place. The counts of the two groups are ignored, because
// Compute collects reasons only for the allocations that both versions
// keep, and a count change alone never forces a replacement.
func GroupUpdate(old, new *jobspec.Job, group string) (destructive bool, reasons []string) {
	if old == nil || new == nil {
		return true, []string{"job " + presenceWord(old != nil, new != nil)}
	}
	og, ng := lookupGroup(old, group), lookupGroup(new, group)
	if og == nil || ng == nil {
		return true, []string{"group " + strconv.Quote(group) + " " + presenceWord(og != nil, ng != nil)}
	}
	// Shallow copies with equal, non-zero counts: the diff of the kept
	// allocations is then exactly the group's update.
	o, n := withGroupCount(old, og), withGroupCount(new, ng)
	p := Compute(map[string]*jobspec.Job{new.ID: o}, map[string]*jobspec.Job{new.ID: n}, Options{})
	for _, j := range p.Jobs {
		for _, g := range j.Groups {
			if g.Name != group {
				continue
			}
			for _, r := range g.Reasons {
				reasons = append(reasons, r.String())
			}
			return len(g.Reasons) > 0, reasons
		}
	}
	return false, nil
}

// withGroupCount returns a copy of j, under new's ID, whose only group is
// g with count 1; the other groups cannot change g's allocations.
func withGroupCount(j *jobspec.Job, g *jobspec.Group) *jobspec.Job {
	jc := *j
	gc := *g
	gc.Count = 1
	jc.Groups = []*jobspec.Group{&gc}
	return &jc
}

func presenceWord(inOld, inNew bool) string {
	switch {
	case !inOld && !inNew:
		return "missing"
	case !inOld:
		return "added"
	}
	return "removed"
}
