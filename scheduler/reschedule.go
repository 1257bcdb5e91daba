package scheduler

import (
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// rescheduleWindow treats a reschedule due within this much of now as
// due now, so that a follow-up evaluation is not made for a moment.
const rescheduleWindow = time.Second

// followUpBatchWindow batches delayed reschedules due close together into
// one follow-up evaluation.
const followUpBatchWindow = 5 * time.Second

// reschedule is what to do with one failed allocation.
type reschedule struct {
	eligible bool
	at       time.Time // when the replacement may be placed
	delay    time.Duration
}

// decideReschedule applies the group's reschedule policy to a failed
// allocation: whether another attempt is allowed (attempts within
// interval, or unlimited), and after which delay.
func decideReschedule(a *cluster.Allocation, policy *jobspec.ReschedulePolicy) reschedule {
	if policy == nil || (!policy.Unlimited && policy.Attempts <= 0) {
		return reschedule{}
	}
	failed := failTime(a)
	delay := nextDelay(a, policy, failed)
	r := reschedule{eligible: true, at: failed.Add(delay), delay: delay}
	if policy.Unlimited {
		return r
	}
	attempts := 0
	for _, e := range a.RescheduleEvents {
		if failed.Sub(e.Time) < policy.Interval {
			attempts++
		}
	}
	r.eligible = attempts < policy.Attempts && (policy.Interval <= 0 || delay < policy.Interval)
	return r
}

// failTime is when the allocation failed: its last task's finish, else
// its last modification.
func failTime(a *cluster.Allocation) time.Time {
	var t time.Time
	for _, ts := range a.TaskStates {
		if ts != nil && ts.FinishedAt.After(t) {
			t = ts.FinishedAt
		}
	}
	if t.IsZero() {
		t = a.ModifyTime
	}
	if t.IsZero() {
		t = a.CreateTime
	}
	return t
}

// nextDelay follows the policy's delay function over the lineage's earlier
// reschedules, capped at MaxDelay; once capped, a lineage that ran longer
// than the cap since its last reschedule starts again from Delay.
func nextDelay(a *cluster.Allocation, policy *jobspec.ReschedulePolicy, failed time.Time) time.Duration {
	events := a.RescheduleEvents
	if len(events) == 0 {
		return policy.Delay
	}
	last := events[len(events)-1]
	d := policy.Delay
	switch policy.DelayFunction {
	case "exponential":
		d = last.Delay * 2
	case "fibonacci":
		if len(events) >= 2 {
			prev := events[len(events)-2]
			if prev.Delay == policy.MaxDelay && last.Delay == policy.Delay {
				d = last.Delay // the series was reset: start again
			} else {
				d = last.Delay + prev.Delay
			}
		}
	default:
		return d
	}
	if policy.MaxDelay > 0 && d > policy.MaxDelay {
		d = policy.MaxDelay
		if failed.Sub(last.Time) > d {
			d = policy.Delay
		}
	}
	return d
}

// Reschedulable reports whether the group's reschedule policy allows the
// failed allocation another attempt: whether the scheduler will replace
// it (perhaps after a delay), so that a failure is not yet final.
func Reschedulable(a *cluster.Allocation, policy *jobspec.ReschedulePolicy) bool {
	return decideReschedule(a, policy).eligible
}
