package api

import (
	"context"
	"time"
)

// CommitPlan answers GET /v1/sync/{source}/commit/{sha}/plan: the plan
// the reconciler computed for a commit, kept in its record.
type CommitPlan struct {
	Source  string    `json:"source"`
	Commit  string    `json:"commit"`
	Subject string    `json:"subject,omitempty"`
	Outcome string    `json:"outcome"`
	Time    time.Time `json:"time"`
	// Plan is the text `drover reconcile --plan` prints, sensitive
	// values masked; at most 32 KiB, with a note when truncated.
	Plan string `json:"plan"`
}

// CommitPlan returns the plan kept for a commit of the source: sha is the
// full commit or a prefix of at least 7 hex digits. A commit with no
// plan kept answers 404 (IsNotFound).
func (s *Sync) CommitPlan(ctx context.Context, source, sha string, q *QueryOptions) (*CommitPlan, *QueryMeta, error) {
	var out CommitPlan
	meta, err := s.c.query(ctx, "/v1/sync/"+esc(source)+"/commit/"+esc(sha)+"/plan", q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
