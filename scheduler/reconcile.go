package scheduler

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// updateKind is what a new job version does to a running allocation.
type updateKind int

const (
	updateNone updateKind = iota
	updateInPlace
	updateDestructive
)

type stopRequest struct {
	alloc        *cluster.Allocation
	desc         string
	clientStatus string
}

// placeRequest is one allocation to place. prev is the allocation it
// replaces, if any.
type placeRequest struct {
	name string
	prev *cluster.Allocation
	// stopPrev stops prev only once the replacement is placed, so that a
	// destructive update that finds no room leaves the old version running.
	stopPrev   bool
	reschedule bool
	// canary places a canary of the job's version next to the allocation
	// of the same name, which keeps running until promotion.
	canary bool
	delay  time.Duration
}

type delayedReschedule struct {
	alloc *cluster.Allocation
	at    time.Time
}

// groupResult is what the reconciler decided for one group.
type groupResult struct {
	name    string
	stops   []stopRequest
	inplace []*cluster.Allocation
	// places holds replacements, then new allocations, then destructive
	// updates: the order in which they are placed.
	places  []placeRequest
	delayed []delayedReschedule
	desired DesiredUpdates
}

// reconcileInput is everything the generic reconciler decides from. It
// reads the state only through node.
type reconcileInput struct {
	job    *cluster.Job // nil when the job is gone
	allocs []*cluster.Allocation
	node   func(id string) *cluster.Node
	now    time.Time
	// update says how a running allocation of an older version is brought
	// to the job's version.
	update func(a *cluster.Allocation) updateKind
	// destructiveLimit caps the destructive updates of a group in this
	// evaluation; negative means no cap.
	destructiveLimit func(group string) int
	// canaries says whether a group's destructive updates go through
	// canaries first: how many, and whether they were promoted. nil
	// means no canaries.
	canaries func(group string) canaryState
}

// canaryState is a group's canary phase.
type canaryState struct {
	want     int
	promoted bool
	// blocked: the deployment is paused; failed: it failed, and its
	// canaries are stopped.
	blocked, failed bool
}

// inCanaryPhase reports whether the group's destructive updates wait for
// canaries.
func (c canaryState) inCanaryPhase() bool { return c.want > 0 && !c.promoted }

// isCanary reports whether a is an unpromoted canary of the job's
// version: it runs next to the allocation it will replace and holds no
// index until promotion.
func (in reconcileInput) isCanary(a *cluster.Allocation) bool {
	if in.canaries == nil || a.JobVersion != in.job.Version || a.DeploymentStatus == nil || !a.DeploymentStatus.Canary {
		return false
	}
	return in.canaries(a.TaskGroup).inCanaryPhase()
}

// holder is an allocation that holds one of a group's name indexes.
type holder struct {
	alloc *cluster.Allocation
	index int // -1 when the name has none
	kind  holderKind
	resch reschedule
}

type holderKind int

const (
	holdRunning holderKind = iota
	holdLost               // on a node that is down or gone: replace
	holdMigrate            // on a draining node: replace
	holdFailed             // failed: reschedule per policy
	holdDone               // a batch allocation that completed
)

// reconcile compares the job's groups with their allocations and returns
// the changes per group, in the job's group order followed by groups that
// only allocations still name. It is a pure function of its input.
func reconcile(in reconcileInput) []*groupResult {
	byGroup := map[string][]*cluster.Allocation{}
	for _, a := range in.allocs {
		byGroup[a.TaskGroup] = append(byGroup[a.TaskGroup], a)
	}
	replaced := map[string]bool{}
	for _, a := range in.allocs {
		if a.PreviousAllocation != "" {
			replaced[a.PreviousAllocation] = true
		}
	}
	var out []*groupResult
	if in.job != nil && !in.job.Stop {
		for _, g := range in.job.Spec.Groups {
			out = append(out, reconcileGroup(in, g, byGroup[g.Name], replaced))
			delete(byGroup, g.Name)
		}
	}
	desc := descGroupGone
	if in.job == nil || in.job.Stop {
		desc = descJobStopped
	}
	rest := make([]*cluster.Allocation, 0, len(byGroup))
	for _, as := range byGroup {
		rest = append(rest, as...)
	}
	return append(out, stopAll(rest, desc)...)
}

// stopAll stops every allocation that is not terminal, per group in name
// order.
func stopAll(allocs []*cluster.Allocation, desc string) []*groupResult {
	byGroup := map[string][]*cluster.Allocation{}
	for _, a := range allocs {
		byGroup[a.TaskGroup] = append(byGroup[a.TaskGroup], a)
	}
	var out []*groupResult
	for _, name := range slices.Sorted(maps.Keys(byGroup)) {
		r := &groupResult{name: name}
		for _, a := range sortAllocs(byGroup[name]) {
			if !a.Terminal() {
				r.stops = append(r.stops, stopRequest{alloc: a, desc: desc})
				r.desired.Stop++
			}
		}
		if len(r.stops) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func reconcileGroup(in reconcileInput, g *jobspec.Group, allocs []*cluster.Allocation, replaced map[string]bool) *groupResult {
	r := &groupResult{name: g.Name}
	batch := in.job.Spec.Type == jobspec.JobTypeBatch
	if in.canaries != nil && in.canaries(g.Name).failed {
		for _, a := range sortAllocs(allocs) {
			if in.isCanary(a) && !a.Terminal() {
				r.stops = append(r.stops, stopRequest{alloc: a, desc: descCanaryFailed})
				r.desired.Stop++
			}
		}
	}
	// Allocations whose node came back are reconciled with their
	// replacements first (disconnect.go).
	rc := reconcileReconnects(g, sortAllocs(allocs), in.node)
	for _, s := range rc.stops {
		r.stops = append(r.stops, s)
		r.desired.Stop++
	}
	holders := classify(in, g, sortAllocs(allocs), replaced, batch, rc)

	// Two holders of one index: keep the first, which sorting made the
	// running one when there is one.
	kept := holders[:0]
	seen := map[int]bool{}
	for _, h := range holders {
		if h.index >= 0 && seen[h.index] {
			switch h.kind {
			case holdRunning, holdMigrate, holdUnknown:
				r.stops = append(r.stops, stopRequest{alloc: h.alloc, desc: descDuplicate})
				r.desired.Stop++
			case holdLost:
				r.stops = append(r.stops, stopRequest{alloc: h.alloc, desc: descLost, clientStatus: cluster.AllocClientLost})
				r.desired.Stop++
			}
			continue
		}
		if h.index >= 0 {
			seen[h.index] = true
		}
		kept = append(kept, h)
	}
	holders = kept

	// Scale down: the highest indexes go first.
	if excess := len(holders) - g.Count; excess > 0 {
		byIndexDesc := slices.Clone(holders)
		slices.SortStableFunc(byIndexDesc, func(a, b holder) int { return cmp.Compare(indexKey(b.index), indexKey(a.index)) })
		drop := map[*cluster.Allocation]bool{}
		for _, h := range byIndexDesc[:excess] {
			drop[h.alloc] = true
			switch h.kind {
			case holdRunning, holdMigrate, holdFailed, holdUnknown:
				// A failed allocation is stopped too, so that it is not
				// rescheduled later.
				r.stops = append(r.stops, stopRequest{alloc: h.alloc, desc: descNotNeeded})
				r.desired.Stop++
			case holdLost:
				r.stops = append(r.stops, stopRequest{alloc: h.alloc, desc: descLost, clientStatus: cluster.AllocClientLost})
				r.desired.Stop++
			}
		}
		holders = slices.DeleteFunc(holders, func(h holder) bool { return drop[h.alloc] })
	}

	used := map[int]bool{}
	var destructive []*cluster.Allocation
	var newPlaces []placeRequest
	for _, h := range holders {
		if h.index >= 0 {
			used[h.index] = true
		}
		a := h.alloc
		switch h.kind {
		case holdRunning:
			if a.JobVersion == in.job.Version {
				r.desired.Ignore++
				continue
			}
			switch in.update(a) {
			case updateNone:
				r.desired.Ignore++
			case updateInPlace:
				r.inplace = append(r.inplace, a)
				r.desired.InPlaceUpdate++
			default:
				destructive = append(destructive, a)
			}
		case holdLost:
			r.stops = append(r.stops, stopRequest{alloc: a, desc: descLost, clientStatus: cluster.AllocClientLost})
			r.desired.Stop++
			if at := lostReplaceAt(in, g, a); at.After(in.now) {
				// Replaced once its agent stopped it (disconnect.go).
				r.delayed = append(r.delayed, delayedReschedule{alloc: a, at: at})
				continue
			}
			r.places = append(r.places, placeRequest{name: a.Name, prev: a})
			r.desired.Place++
		case holdMigrate:
			r.stops = append(r.stops, stopRequest{alloc: a, desc: descMigrating})
			r.places = append(r.places, placeRequest{name: a.Name, prev: a})
			r.desired.Migrate++
		case holdFailed:
			switch {
			case !h.resch.eligible && a.JobVersion != in.job.Version:
				// A failed allocation with no attempt left is replaced
				// by a new version of the job, as Nomad's destructive
				// updates do: a fix, a revert or `drover sync retry`
				// must not find the group stuck on its dead allocations.
				destructive = append(destructive, a)
			case !h.resch.eligible:
				r.desired.Ignore++
			case !h.resch.at.After(in.now.Add(rescheduleWindow)):
				r.places = append(r.places, placeRequest{name: a.Name, prev: a, reschedule: true, delay: h.resch.delay})
				r.desired.Place++
			default:
				r.delayed = append(r.delayed, delayedReschedule{alloc: a, at: h.resch.at})
				r.desired.Ignore++
			}
		case holdDone:
			r.desired.Ignore++
		case holdLostWait:
			r.delayed = append(r.delayed, delayedReschedule{alloc: a, at: h.resch.at})
			r.desired.Ignore++
		case holdUnknown:
			if unknownAction(in, g, a) {
				// Next to it, not instead of it: it may come back.
				r.places = append(r.places, placeRequest{name: a.Name, prev: a})
				r.desired.Place++
			} else {
				r.desired.Ignore++
			}
		}
	}

	// Fill the count, lowest free indexes first.
	next := 0
	for range g.Count - len(holders) {
		for used[next] {
			next++
		}
		used[next] = true
		newPlaces = append(newPlaces, placeRequest{name: allocName(in.job.ID, g.Name, next)})
		r.desired.Place++
	}
	r.places = append(r.places, newPlaces...)

	limit := in.destructiveLimit(g.Name)
	if in.canaries != nil {
		if cs := in.canaries(g.Name); cs.inCanaryPhase() && len(destructive) > 0 {
			// Canaries first: the old allocations keep serving.
			placeCanaries(in, r, allocs, destructive, cs)
			return r
		}
	}
	if g.Update == nil || g.Update.Canary == 0 {
		// The group's rollout block picks which allocations go first
		// within max_parallel; canaries keep the index order.
		destructive = rolloutOrder(g, destructive, in.node)
	}
	for i, a := range destructive {
		if limit >= 0 && i >= limit {
			r.desired.Ignore++
			continue
		}
		r.places = append(r.places, placeRequest{name: a.Name, prev: a, stopPrev: true})
		r.desired.DestructiveUpdate++
	}
	return r
}

// classify sorts a group's allocations into the ones that hold an index,
// dropping those that no longer matter: replaced, stopping, or (for a
// service) completed.
func classify(in reconcileInput, g *jobspec.Group, allocs []*cluster.Allocation, replaced map[string]bool, batch bool, rc reconnects) []holder {
	var out []holder
	for _, a := range allocs {
		if (replaced[a.ID] || a.NextAllocation != "") && !rc.keep[a.ID] {
			continue
		}
		if !desiredRun(a) {
			// A lost allocation whose replacement waits for its agent
			// to stop it (stop_on_client_after) holds its index.
			if h, ok := lostWaiting(in, g, a); ok {
				out = append(out, h)
			}
			continue
		}
		if rc.stopped[a.ID] || in.isCanary(a) {
			continue
		}
		h := holder{alloc: a, index: allocIndex(a.Name)}
		switch a.ClientStatus {
		case cluster.AllocClientComplete:
			if !batch {
				continue // a service should not exit: place anew
			}
			h.kind = holdDone
		case cluster.AllocClientFailed:
			h.kind = holdFailed
			h.resch = decideReschedule(a, g.Reschedule)
		case cluster.AllocClientLost:
			h.kind = holdLost
		case cluster.AllocClientUnknown:
			h.kind = holdUnknown
		default:
			n := in.node(a.NodeID)
			switch {
			case n == nil || n.Status == cluster.NodeStatusDown:
				h.kind = holdLost
			case n.Drain:
				h.kind = holdMigrate
			}
		}
		out = append(out, h)
	}
	// Running holders first within an index, and of those the job's
	// version (a promoted canary), so duplicates drop the rest.
	slices.SortStableFunc(out, func(a, b holder) int {
		return cmp.Or(cmp.Compare(indexKey(a.index), indexKey(b.index)), cmp.Compare(a.kind, b.kind),
			cmp.Compare(olderVersion(in, a.alloc), olderVersion(in, b.alloc)))
	})
	return out
}

func olderVersion(in reconcileInput, a *cluster.Allocation) int {
	if a.JobVersion == in.job.Version {
		return 0
	}
	return 1
}

func indexKey(i int) int {
	if i < 0 {
		return math.MaxInt
	}
	return i
}

// sortAllocs returns the allocations in a stable order: by name index,
// then creation, then ID.
func sortAllocs(allocs []*cluster.Allocation) []*cluster.Allocation {
	out := slices.Clone(allocs)
	slices.SortFunc(out, func(a, b *cluster.Allocation) int {
		return cmp.Or(
			cmp.Compare(indexKey(allocIndex(a.Name)), indexKey(allocIndex(b.Name))),
			cmp.Compare(a.CreateIndex, b.CreateIndex),
			strings.Compare(a.ID, b.ID))
	})
	return out
}

func allocName(job, group string, index int) string {
	return job + "." + group + "[" + strconv.Itoa(index) + "]"
}

// allocIndex parses the index of "<job>.<group>[<i>]", -1 if none.
func allocIndex(name string) int {
	if !strings.HasSuffix(name, "]") {
		return -1
	}
	open := strings.LastIndexByte(name, '[')
	if open < 0 {
		return -1
	}
	i, err := strconv.Atoi(name[open+1 : len(name)-1])
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// desiredRun reports whether the servers still want a to run; an unset
// desired status is the default, run.
func desiredRun(a *cluster.Allocation) bool {
	return a.DesiredStatus == cluster.AllocDesiredRun || a.DesiredStatus == ""
}

// placeCanaries places the group's missing canaries, each named after an
// allocation it will replace once promoted; the destructive updates wait.
func placeCanaries(in reconcileInput, r *groupResult, allocs, destructive []*cluster.Allocation, cs canaryState) {
	have := map[string]bool{}
	for _, a := range allocs {
		if in.isCanary(a) && desiredRun(a) && !a.Terminal() {
			have[a.Name] = true
		}
	}
	r.desired.Ignore += len(destructive)
	if cs.blocked || cs.failed {
		return
	}
	missing := cs.want - len(have)
	for _, a := range destructive {
		if missing <= 0 {
			break
		}
		if have[a.Name] {
			continue
		}
		r.places = append(r.places, placeRequest{name: a.Name, canary: true})
		r.desired.Canary++
		missing--
	}
}
