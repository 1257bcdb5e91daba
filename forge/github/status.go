package github

import (
	"context"
	"fmt"
	"unicode/utf8"

	gh "github.com/google/go-github/v92/github"
)

// State is a commit status state.
type State string

// The states GitHub accepts.
const (
	StatePending State = "pending"
	StateSuccess State = "success"
	StateFailure State = "failure"
	StateError   State = "error"
)

// Status contexts Drover sets.
const (
	ContextPlan   = "drover/plan"
	ContextDeploy = "drover/deploy"
)

// Status is one commit status.
type Status struct {
	Context     string
	State       State
	Description string // cut to DescriptionLimit characters
	TargetURL   string // optional
}

// SetStatus sets a commit status on sha.
func (c *Client) SetStatus(ctx context.Context, owner, repo, sha string, s Status) error {
	switch s.State {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return fmt.Errorf("github set status: invalid state %q", s.State)
	}
	st := gh.RepoStatus{
		State:       new(string(s.State)),
		Context:     new(s.Context),
		Description: new(Shorten(s.Description, DescriptionLimit)),
	}
	if s.TargetURL != "" {
		st.TargetURL = new(s.TargetURL)
	}
	return c.do(ctx, "set status", func(ctx context.Context) (*gh.Response, error) {
		_, resp, err := c.gh.Repositories.CreateStatus(ctx, owner, repo, sha, st)
		return resp, err
	})
}

// Shorten cuts s to at most n characters, ending in "…" when cut.
func Shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
