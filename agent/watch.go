package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// allocPlan is what the agent must do to match the servers' allocations.
type allocPlan struct {
	// Add are allocations new to this node that should run.
	Add []*cluster.Allocation
	// Update are known allocations the servers changed (a desired stop,
	// an in-place update, or just the echo of our own report).
	Update []*cluster.Allocation
	// Remove are known allocations the servers forgot (garbage
	// collected): stop what still runs and delete their directories.
	Remove []string
}

// planAllocs compares the servers' allocations for this node with the
// ones the agent runs, by ID and modify index. Pure.
func planAllocs(server []*cluster.Allocation, known map[string]uint64) allocPlan {
	var p allocPlan
	seen := make(map[string]bool, len(server))
	for _, a := range server {
		seen[a.ID] = true
		idx, ok := known[a.ID]
		switch {
		case !ok && !a.Terminal():
			p.Add = append(p.Add, a)
		case ok && a.ModifyIndex != idx:
			p.Update = append(p.Update, a)
		}
	}
	for id := range known {
		if !seen[id] {
			p.Remove = append(p.Remove, id)
		}
	}
	return p
}

// watchLoop follows the node's allocations with blocking queries, so a
// placement reaches the agent as soon as it is committed, and applies
// each answer.
func (a *Agent) watchLoop(ctx, runCtx context.Context, runners *sync.WaitGroup) {
	select {
	case <-a.registered:
	case <-ctx.Done():
		return
	}
	b := newBackoff(a.cfg.MaxBackoff)
	var index uint64
	for ctx.Err() == nil {
		c := a.servers.client()
		allocs, meta, err := c.Nodes().Allocations(ctx, a.nodeID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Minute})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if api.IsNotFound(err) {
				a.reregister()
			}
			a.servers.failed(c, err)
			wait := b.next()
			a.log.Warn("watch allocations; retrying", "server", c.Address(), "err", err, "in", wait)
			index = 0
			sleep(ctx, wait)
			continue
		}
		b.reset()
		if meta.LastIndex < index {
			index = 0 // the servers' state was reset: start over
		} else {
			index = meta.LastIndex
		}
		if !a.applyAllocs(ctx, runCtx, runners, allocs) {
			// Some could not be started (their job could not be read):
			// look again soon rather than at the next change.
			index = 0
			sleep(ctx, b.next())
		}
	}
}

// applyAllocs acts on a plan. It reports false when an allocation must
// be tried again.
func (a *Agent) applyAllocs(ctx, runCtx context.Context, runners *sync.WaitGroup, allocs []*cluster.Allocation) bool {
	a.mu.Lock()
	known := make(map[string]uint64, len(a.runners))
	for id, r := range a.runners {
		known[id] = r.Alloc().ModifyIndex
	}
	a.mu.Unlock()
	p := planAllocs(allocs, known)
	ok := true
	for _, alloc := range p.Add {
		job, err := a.jobs.get(ctx, alloc.Namespace, alloc.JobID, alloc.JobVersion)
		if err != nil {
			a.log.Warn("cannot read the job of a new allocation", "alloc", alloc.ID, "job", alloc.JobID, "version", alloc.JobVersion, "err", err)
			ok = false
			continue
		}
		r, err := a.newRunner(alloc, job, nil)
		if err != nil {
			a.log.Error("cannot run allocation", "alloc", alloc.ID, "err", err)
			continue
		}
		a.log.Info("running new allocation", "alloc", alloc.ID, "job", alloc.JobID, "group", alloc.TaskGroup)
		a.startRunner(runCtx, runners, r)
	}
	for _, alloc := range p.Update {
		if r := a.runner(alloc.ID); r != nil {
			r.Update(alloc)
			a.reportIfUnknown(alloc, r)
		}
	}
	for _, id := range p.Remove {
		r := a.runner(id)
		if r == nil {
			continue
		}
		a.log.Info("allocation was garbage collected by the servers; removing it", "alloc", id)
		runners.Go(func() { a.remove(runCtx, r) })
	}
	return ok
}

// remove stops an allocation the servers forgot and deletes its traces.
func (a *Agent) remove(ctx context.Context, r interface {
	ID() string
	Destroy(context.Context) error
	RemoveDir() error
}) {
	if err := r.Destroy(ctx); err != nil {
		return // the agent is shutting down; the next one retries
	}
	a.mu.Lock()
	delete(a.runners, r.ID())
	a.mu.Unlock()
	a.sync.forget(r.ID())
	if err := a.db.DeleteAlloc(r.ID()); err != nil {
		a.log.Error("forget allocation", "alloc", r.ID(), "err", err)
	}
	if err := r.RemoveDir(); err != nil {
		a.log.Warn("remove allocation directory", "alloc", r.ID(), "err", err)
	}
}

// jobCache holds the job versions allocations run; versions never change
// once written, so entries never go stale.
type jobCache struct {
	servers *serverPool
	mu      sync.Mutex
	jobs    map[string]*jobspec.Job
}

func newJobCache(s *serverPool) *jobCache {
	return &jobCache{servers: s, jobs: map[string]*jobspec.Job{}}
}

func (c *jobCache) get(ctx context.Context, ns, id string, version uint64) (*jobspec.Job, error) {
	key := fmt.Sprintf("%s\x00%s\x00%d", ns, id, version)
	c.mu.Lock()
	j := c.jobs[key]
	c.mu.Unlock()
	if j != nil {
		return j, nil
	}
	q := &api.QueryOptions{Params: map[string]string{"namespace": ns}}
	cl := c.servers.client()
	// The latest version is the one new allocations almost always run.
	if latest, _, err := cl.Jobs().Info(ctx, id, q); err == nil && latest.Version == version && latest.Spec != nil {
		j = latest.Spec
	} else {
		versions, _, err := cl.Jobs().Versions(ctx, id, q)
		if err != nil {
			c.servers.failed(cl, err)
			return nil, err
		}
		for _, v := range versions {
			if v.Version == version && v.Spec != nil {
				j = v.Spec
			}
		}
		if j == nil {
			return nil, fmt.Errorf("job %s has no version %d", id, version)
		}
	}
	c.mu.Lock()
	c.jobs[key] = j
	c.mu.Unlock()
	return j, nil
}
