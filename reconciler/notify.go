package reconciler

import (
	"strconv"
	"strings"

	"github.com/droverhq/drover/gitsource"
)

// DeployState is where the deploy of one commit stands, as reported to a
// DeployNotifier.
type DeployState string

const (
	// DeployPending: the commit was applied; its rollout is followed.
	DeployPending DeployState = "pending"
	// DeploySuccess: every rollout of the commit is healthy (or there
	// was nothing to roll out).
	DeploySuccess DeployState = "success"
	// DeployFailure: the commit was rejected or a rollout failed.
	DeployFailure DeployState = "failure"
	// DeploySuperseded: a newer commit was applied before this one's
	// rollout finished; its health is unknown.
	DeploySuperseded DeployState = "superseded"
)

// DeployEvent is one step of a commit's deploy.
type DeployEvent struct {
	Source string // the source's name
	URL    string // the source's repository URL, credentials removed
	Branch string
	Commit string // full SHA
	State  DeployState
	// Reason says why, in one line (the rejection or rollout failure).
	Reason string
}

// DeployNotifier hears of deploys, for commit statuses. NotifyDeploy is
// called inline by the reconciler and must not block: a slow or absent
// forge never holds up a deploy.
type DeployNotifier interface {
	NotifyDeploy(DeployEvent)
}

func (r *Reconciler) notify(commit string, state DeployState, reason string) {
	if r.notifier == nil || commit == "" {
		return
	}
	r.notifier.NotifyDeploy(DeployEvent{
		Source: r.cfg.Name, URL: gitsource.RedactURL(r.cfg.URL), Branch: r.cfg.Branch,
		Commit: commit, State: state, Reason: reason,
	})
}

// notifyPass reports a pass's outcome: an applied commit is pending
// until tracked healthy (at once when there is nothing to track); a
// rejected one has failed. It returns the tracking to follow.
func (r *Reconciler) notifyPass(res PassResult, old, tr *tracking) {
	if res.Corrected != "" {
		// The commit's status said failure; the cluster proved it wrong.
		r.notify(res.Commit, DeploySuccess, "healthy after all (record corrected): "+res.Corrected)
	}
	switch res.Outcome {
	case PassApplied:
		if old != nil && old.commit != res.Commit {
			r.notify(old.commit, DeploySuperseded, "superseded by "+shortSHA(res.Commit)+" before its rollout finished")
		}
		if tr == nil {
			r.notify(res.Commit, DeploySuccess, "applied; nothing to roll out")
			return
		}
		r.notify(res.Commit, DeployPending, "applied; rolling out")
	case PassWaiting:
		if len(res.Submitted) > 0 {
			r.notify(res.Commit, DeployPending, "rolling out in waves; "+res.Holds[0].String())
		}
	case PassFailed:
		r.notify(res.Commit, DeployFailure, strings.Join(res.Errors, "; "))
	case PassRejected:
		reason := "rejected"
		if len(res.Errors) > 0 {
			reason = "rejected: " + res.Errors[0]
			if n := len(res.Errors) - 1; n > 0 {
				reason += " (and " + strconv.Itoa(n) + " more)"
			}
		}
		r.notify(res.Commit, DeployFailure, reason)
	}
}
