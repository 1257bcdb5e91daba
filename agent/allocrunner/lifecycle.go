package allocrunner

import (
	"github.com/droverhq/drover/cluster"
)

// Lifecycle hooks, as job files name them.
const (
	hookMain      = ""
	hookPrestart  = "prestart"
	hookPoststart = "poststart"
	hookPoststop  = "poststop"
)

// taskView is what the lifecycle decision needs to know of one task.
type taskView struct {
	Name    string
	Hook    string
	Sidecar bool
	Leader  bool
	// Launched: a runner was started for the task (it may be waiting to
	// restart). Dead: the runner finished; the task never runs again.
	Launched bool
	Running  bool
	Dead     bool
	Failed   bool
	// TimedOut: the task was killed for outlasting max_run_duration;
	// the allocation's poststop tasks then do not run.
	TimedOut bool
}

// step is what the allocation runner does next.
type step struct {
	Launch []string
	// Kill lists launched, live tasks to stop, with the reason.
	Kill       []string
	KillReason string
	// Skip lists tasks that will never be launched (the allocation is
	// ending before their turn).
	Skip []string
	// Finished is set once every task is dead.
	Finished bool
}

// Reasons for killing tasks, used as the Killing event's message.
const (
	reasonStop       = "the allocation was stopped"
	reasonFailed     = "a task of the allocation failed"
	reasonLeaderDead = "the leader task exited"
	reasonMainDone   = "the main tasks finished"
)

// decide is the lifecycle of an allocation as a pure function of its
// tasks' states: prestart hooks first (non-sidecars run to completion,
// sidecars must be running), then the main tasks, then poststart hooks
// once every main task has started; when the main tasks are done, or the
// allocation is stopped or failed, every live task is killed and the
// poststop hooks run to completion.
func decide(tasks []taskView, stopRequested bool) step {
	var s step
	ending, reason := stopRequested, reasonStop
	mains, mainsDead := 0, 0
	for _, t := range tasks {
		if t.Hook != hookPoststop && t.Failed && !ending {
			ending, reason = true, reasonFailed
		}
		if t.Leader && t.Dead && !ending {
			ending, reason = true, reasonLeaderDead
		}
		if t.Hook == hookMain {
			mains++
			if t.Dead {
				mainsDead++
			}
		}
	}
	if !ending && mains > 0 && mainsDead == mains {
		ending, reason = true, reasonMainDone
	}
	if !ending && mains == 0 {
		// Only hooks: nothing to wait for once they are launched.
		ending, reason = true, reasonMainDone
		for _, t := range tasks {
			if t.Hook != hookPoststop && !t.Dead {
				ending = false
			}
		}
	}

	if ending {
		for _, t := range tasks {
			if t.Hook == hookPoststop {
				continue
			}
			switch {
			case t.Launched && !t.Dead:
				s.Kill = append(s.Kill, t.Name)
			case !t.Launched && !t.Dead:
				// Once skipped, a task is dead: naming it again would
				// have the runner decide again at once, in a loop.
				s.Skip = append(s.Skip, t.Name)
			}
		}
		if len(s.Kill) > 0 {
			s.KillReason = reason
			return s
		}
		timedOut := false
		for _, t := range tasks {
			timedOut = timedOut || t.TimedOut
		}
		allDead := true
		for _, t := range tasks {
			if t.Hook != hookPoststop {
				continue
			}
			if timedOut && !t.Launched {
				// A run cut off by max_run_duration skips the
				// poststop tasks, as in Nomad: the deadline is the
				// allocation's whole time.
				if !t.Dead {
					s.Skip = append(s.Skip, t.Name)
					allDead = false
				}
				continue
			}
			if !t.Launched {
				s.Launch = append(s.Launch, t.Name)
			}
			if !t.Dead {
				allDead = false
			}
		}
		s.Finished = allDead && len(s.Launch) == 0
		return s
	}

	prestartDone := true
	for _, t := range tasks {
		if t.Hook != hookPrestart {
			continue
		}
		if !t.Launched {
			s.Launch = append(s.Launch, t.Name)
			prestartDone = false
			continue
		}
		if t.Sidecar && !t.Running || !t.Sidecar && !t.Dead {
			prestartDone = false
		}
	}
	if !prestartDone {
		return s
	}
	mainsUp := true
	for _, t := range tasks {
		if t.Hook != hookMain {
			continue
		}
		if !t.Launched {
			s.Launch = append(s.Launch, t.Name)
			mainsUp = false
		} else if !t.Running && !t.Dead {
			mainsUp = false
		}
	}
	if !mainsUp {
		return s
	}
	for _, t := range tasks {
		if t.Hook == hookPoststart && !t.Launched {
			s.Launch = append(s.Launch, t.Name)
		}
	}
	return s
}

// clientStatus derives the allocation's client status from its tasks, as
// Nomad does: failed if any task failed; pending while a task that must
// run before the allocation counts as up has not started; running while
// any task runs; complete once all are dead.
func clientStatus(tasks []taskView, states map[string]*cluster.TaskState) (status, desc string) {
	failed, pending, running := false, false, false
	for _, t := range tasks {
		st := states[t.Name]
		if st == nil {
			continue
		}
		switch {
		case st.Failed:
			failed = true
		case st.State == cluster.TaskStateRunning:
			running = true
		case st.State == cluster.TaskStatePending && (t.Hook == hookMain || t.Hook == hookPrestart):
			pending = true
		}
	}
	allDead := true
	for _, st := range states {
		if st.State != cluster.TaskStateDead {
			allDead = false
		}
	}
	switch {
	case failed && allDead:
		return cluster.AllocClientFailed, "Failed tasks"
	case failed:
		// Stays running (or pending) until the others are killed, so
		// the servers do not replace an allocation that still runs.
		if running {
			return cluster.AllocClientRunning, "A task failed; stopping the others"
		}
		return cluster.AllocClientPending, "A task failed; stopping the others"
	case allDead:
		return cluster.AllocClientComplete, "All tasks have completed"
	case pending:
		return cluster.AllocClientPending, "No tasks have started"
	case running:
		return cluster.AllocClientRunning, "Tasks are running"
	}
	return cluster.AllocClientPending, "No tasks have started"
}
