package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Process computes the plan for one evaluation: a pure function of the
// state snapshot, the evaluation and the options.
func Process(st State, eval *cluster.Evaluation, opts Options) (*Plan, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if eval == nil {
		return nil, fmt.Errorf("scheduler: nil evaluation")
	}
	job := st.Job(eval.Namespace, eval.JobID)
	if job != nil && job.Spec == nil {
		return nil, fmt.Errorf("scheduler: job %s/%s version %d has no specification", job.Namespace, job.ID, job.Version)
	}
	typ := eval.Type
	if job != nil {
		typ = job.Spec.Type
	}
	switch typ {
	case jobspec.JobTypeService, jobspec.JobTypeBatch, "":
		return processGeneric(st, eval, job, opts), nil
	case jobspec.JobTypeSystem, jobspec.JobTypeSysBatch:
		return processSystem(st, eval, job, opts), nil
	}
	return nil, fmt.Errorf("scheduler: job %s/%s: unknown job type %q", eval.Namespace, eval.JobID, typ)
}

// processGeneric schedules service and batch jobs: reconcile, then stop,
// update in place, and place.
func processGeneric(st State, eval *cluster.Evaluation, job *cluster.Job, opts Options) *Plan {
	plan := newPlan(eval, job)
	allocs := st.AllocsByJob(eval.Namespace, eval.JobID)
	ro := newRollout(st, job, allocs)
	var decider *updateDecider
	if job != nil {
		decider = newUpdateDecider(st, job)
	}
	results := reconcile(reconcileInput{
		job: job, allocs: allocs, node: st.Node, now: opts.Now,
		update: func(a *cluster.Allocation) updateKind { return decider.kind(a) },
		destructiveLimit: func(group string) int {
			return ro.destructiveLimit(job.Spec.Group(group))
		},
		canaries: func(group string) canaryState {
			return ro.canaries(job.Spec.Group(group))
		},
	})

	var created *cluster.Deployment
	switch {
	case ro.cancel != nil:
		plan.DeploymentUpdates = append(plan.DeploymentUpdates, &DeploymentStatusUpdate{
			DeploymentID: ro.cancel.ID, Status: cluster.DeploymentCancelled,
			StatusDescription: "Cancelled due to newer version of job",
		})
	case job == nil || job.Stop:
		if d := st.LatestDeployment(eval.Namespace, eval.JobID); d != nil && d.Active() {
			plan.DeploymentUpdates = append(plan.DeploymentUpdates, &DeploymentStatusUpdate{
				DeploymentID: d.ID, Status: cluster.DeploymentCancelled,
				StatusDescription: "Cancelled because job is stopped",
			})
		}
	}
	if job != nil {
		created = ro.newDeployment(job, results, opts.NewID, opts.Now)
		plan.Deployment = created
	}

	var p *placer
	if job != nil && !job.Stop && needsPlacer(results) {
		nodes, byDC := readyNodes(st, job.Spec)
		opts.Rand.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		p = newPlacer(st, opts, eval, job, plan, nodes, byDC)
	}
	for _, r := range results {
		*plan.annotation(r.name) = r.desired
		for _, s := range r.stops {
			plan.appendStop(s.alloc, s.desc, s.clientStatus)
			if p != nil {
				p.stop(s.alloc)
			}
		}
	}
	if p != nil {
		depID := ro.deploymentID(created)
		for _, r := range results {
			gi := p.groupIndex(r.name)
			if gi < 0 {
				continue
			}
			g := p.groups[gi]
			var converted []placeRequest
			for _, a := range r.inplace {
				if !p.updateInPlace(g, a, depID) {
					// No longer fits or feasible where it runs: replace it.
					converted = append(converted, placeRequest{name: a.Name, prev: a, stopPrev: true})
					ann := plan.annotation(r.name)
					ann.InPlaceUpdate--
					ann.DestructiveUpdate++
				}
			}
			for _, req := range slices.Concat(r.places, converted) {
				p.place(g, req, depID)
			}
		}
		// A new deployment starts with nothing placed: the state store
		// counts each allocation into it as the plan commits, so counting
		// here too would report every placement twice.
	}
	plan.FollowUpEvals = append(plan.FollowUpEvals, delayedEvals(eval, job, results, opts)...)
	if b := blockedEval(eval, job, plan, opts); b != nil {
		plan.FollowUpEvals = append(plan.FollowUpEvals, b)
	}
	return plan
}

func needsPlacer(results []*groupResult) bool {
	for _, r := range results {
		if len(r.places) > 0 || len(r.inplace) > 0 {
			return true
		}
	}
	return false
}

// delayedEvals returns follow-up evaluations for failed allocations whose
// reschedule delay has not passed, one per batch of close due times.
func delayedEvals(eval *cluster.Evaluation, job *cluster.Job, results []*groupResult, opts Options) []*cluster.Evaluation {
	var delayed []delayedReschedule
	for _, r := range results {
		delayed = append(delayed, r.delayed...)
	}
	if len(delayed) == 0 {
		return nil
	}
	slices.SortStableFunc(delayed, func(a, b delayedReschedule) int { return a.at.Compare(b.at) })
	var out []*cluster.Evaluation
	var batchStart = delayed[0].at
	out = append(out, followUp(eval, job, opts, batchStart))
	for _, d := range delayed[1:] {
		if d.at.Sub(batchStart) > followUpBatchWindow {
			batchStart = d.at
			out = append(out, followUp(eval, job, opts, batchStart))
		} else {
			// The batch waits for its latest member.
			out[len(out)-1].WaitUntil = d.at
		}
	}
	return out
}

func followUp(eval *cluster.Evaluation, job *cluster.Job, opts Options, at time.Time) *cluster.Evaluation {
	e := newEval(eval, job, opts)
	e.TriggeredBy = cluster.EvalTriggerAllocFailure
	e.WaitUntil = at
	return e
}

// blockedEval returns an evaluation that retries the placements the plan
// could not make once the cluster changes. An evaluation that is itself
// blocked is re-blocked by its caller instead.
func blockedEval(eval *cluster.Evaluation, job *cluster.Job, plan *Plan, opts Options) *cluster.Evaluation {
	if len(plan.FailedTGAllocs) == 0 || eval.Status == cluster.EvalStatusBlocked {
		return nil
	}
	e := newEval(eval, job, opts)
	e.Status = cluster.EvalStatusBlocked
	e.TriggeredBy = TriggerQueuedAllocs
	e.FailedTGAllocs = maps.Clone(plan.FailedTGAllocs)
	e.QueuedAllocations = map[string]int{}
	for g, m := range plan.FailedTGAllocs {
		e.QueuedAllocations[g] = 1 + m.CoalescedFailures
	}
	return e
}

func newEval(eval *cluster.Evaluation, job *cluster.Job, opts Options) *cluster.Evaluation {
	e := &cluster.Evaluation{
		ID: opts.NewID(), Namespace: eval.Namespace, JobID: eval.JobID, Type: eval.Type,
		Priority: eval.Priority, TriggeredBy: eval.TriggeredBy, Status: cluster.EvalStatusPending,
		PreviousEval: eval.ID, JobModifyIndex: eval.JobModifyIndex,
		CreateTime: opts.Now, ModifyTime: opts.Now,
	}
	if job != nil {
		e.Type, e.Priority, e.JobModifyIndex = job.Spec.Type, job.Spec.Priority, job.JobModifyIndex
	}
	return e
}
