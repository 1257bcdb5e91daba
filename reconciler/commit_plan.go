package reconciler

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

// A commit's record keeps the plan the reconciler computed for it, for
// the web UI's timeline. Sync status is replicated through Raft on every
// write, so the text is bounded and only the newest commits keep one:
// at most keepPlans × maxPlanBytes per source.
const (
	maxPlanBytes = 32 << 10
	keepPlans    = 10
)

// commitPlan renders the plan of a commit as `drover reconcile --plan`
// and the PR comment show it: the cluster's specs of the commit's jobs
// (and of those it stops) against the commit's. diff.Compute masks
// sensitive values; sealed variables appear as notes, never values.
func commitPlan(desired *Desired, d Decision, jobs []*cluster.Job, sha string, sealed []render.SealedNote) string {
	live := make(map[string]*cluster.Job, len(jobs))
	for _, j := range jobs {
		if !j.Stop && j.Spec != nil {
			live[jobKey(j.Namespace, j.ID)] = j
		}
	}
	old, next := map[string]*jobspec.Job{}, map[string]*jobspec.Job{}
	for key, dj := range desired.Jobs {
		if dj.Spec == nil {
			continue
		}
		next[dj.Spec.ID] = dj.Spec
		if j := live[key]; j != nil {
			old[dj.Spec.ID] = j.Spec
		}
	}
	for _, a := range d.Stop {
		if j := live[jobKey(a.Namespace, a.ID)]; j != nil {
			old[a.ID] = j.Spec
		}
	}
	p := diff.Compute(old, next, diff.Options{Sensitive: desired.Sensitive})
	desired.Deps.OrderPlan(p)
	meta := render.Meta{Base: "cluster", Head: shortSHA(sha), NotLaunched: render.NotLaunchedNotes(next), Sealed: sealed}
	var b strings.Builder
	if err := render.Text(&b, p, meta, false); err != nil {
		return "" // a strings.Builder does not fail; no plan rather than half of one
	}
	return truncatePlan(b.String(), maxPlanBytes)
}

// truncatePlan cuts text to at most limit bytes, at a line end, and says
// how much was left out.
func truncatePlan(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	// The note's numbers have at most as many digits as len(text).
	room := limit - len(truncatedNote(len(text), len(text)))
	cut := max(0, room)
	if i := strings.LastIndexByte(text[:cut], '\n'); i > 0 {
		cut = i + 1
	}
	for cut > 0 && cut < len(text) && !utf8.RuneStart(text[cut]) {
		cut-- // no line end to cut at: at least not inside a character
	}
	return text[:cut] + truncatedNote(cut, len(text))
}

func truncatedNote(shown, total int) string {
	return fmt.Sprintf("... plan truncated: %d of %d bytes shown; run `drover reconcile --plan` for the whole plan\n", shown, total)
}

// trimPlans drops the plans of all but the newest keepPlans commits.
func trimPlans(outcomes []cluster.CommitOutcome) {
	for i := keepPlans; i < len(outcomes); i++ {
		outcomes[i].Plan = ""
	}
}
