package github

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v92/github"
)

// PlanMarker is the hidden HTML comment that identifies Drover's plan
// comment for one source on a pull request.
func PlanMarker(source string) string {
	// Keep the marker one token: a source name is a plain identifier, but
	// never let one close the HTML comment early.
	s := strings.NewReplacer("-->", "", " ", "_", "\n", "_").Replace(source)
	return "<!-- drover:plan source=" + s + " -->"
}

// truncatedNote ends a body that had to be cut to fit in a comment.
const truncatedNote = "\n\n> [!NOTE]\n> This comment was cut to fit GitHub's 65,536-character limit; run `drover plan` locally for the whole plan.\n"

// CommentBody puts marker on the first line of body and cuts the result
// below CommentLimit characters, with a note, when it is too long. A cut
// never splits a UTF-8 sequence; an open ``` fence is closed.
func CommentBody(marker, body string) string {
	out := marker + "\n" + body
	if utf8.RuneCountInString(out) <= CommentLimit {
		return out
	}
	// Bytes never undercount characters: cut by bytes, safely short.
	keep := CommentLimit - len(truncatedNote) - 8
	cut := out[:keep]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndexByte(cut, '\n'); i > len(marker) {
		cut = cut[:i]
	}
	if strings.Count(cut, "\n```")%2 == 1 {
		cut += "\n```"
	}
	return cut + truncatedNote
}

// CommentResult says what UpsertComment did.
type CommentResult struct {
	ID      int64
	URL     string
	Created bool // a new comment was posted
	Updated bool // an existing comment was edited
	// Neither Created nor Updated: the existing comment already said this.
}

// UpsertComment makes sure the pull request (issue) number has exactly
// one comment carrying marker, with body under it: it pages through the
// issue's comments, edits the first one holding marker, or creates one.
// An existing comment with the same text is left alone.
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, number int, marker, body string) (CommentResult, error) {
	want := CommentBody(marker, body)
	existing, err := c.findComment(ctx, owner, repo, number, marker)
	if err != nil {
		return CommentResult{}, err
	}
	req := gh.IssueCommentRequest{Body: want}
	if existing != nil {
		res := CommentResult{ID: existing.GetID(), URL: existing.GetHTMLURL()}
		if existing.GetBody() == want {
			return res, nil
		}
		var got *gh.IssueComment
		err := c.do(ctx, "update comment", func(ctx context.Context) (*gh.Response, error) {
			var resp *gh.Response
			var err error
			got, resp, err = c.gh.Issues.UpdateComment(ctx, owner, repo, existing.GetID(), req)
			return resp, err
		})
		if err != nil {
			return res, err
		}
		res.URL, res.Updated = got.GetHTMLURL(), true
		return res, nil
	}
	var got *gh.IssueComment
	err = c.do(ctx, "create comment", func(ctx context.Context) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		got, resp, err = c.gh.Issues.CreateComment(ctx, owner, repo, number, req)
		return resp, err
	})
	if err != nil {
		return CommentResult{}, err
	}
	return CommentResult{ID: got.GetID(), URL: got.GetHTMLURL(), Created: true}, nil
}

// maxCommentPages bounds the listing on a pathological PR.
const maxCommentPages = 100

func (c *Client) findComment(ctx context.Context, owner, repo string, number int, marker string) (*gh.IssueComment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for page := 0; page < maxCommentPages; page++ {
		var list []*gh.IssueComment
		var next int
		err := c.do(ctx, "list comments", func(ctx context.Context) (*gh.Response, error) {
			var resp *gh.Response
			var err error
			list, resp, err = c.gh.Issues.ListComments(ctx, owner, repo, number, opts)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, cm := range list {
			if strings.HasPrefix(cm.GetBody(), marker) || strings.Contains(cm.GetBody(), marker) {
				return cm, nil
			}
		}
		if next == 0 {
			return nil, nil
		}
		opts.Page = next
	}
	return nil, fmt.Errorf("github list comments: more than %d pages of comments on %s/%s#%d", maxCommentPages, owner, repo, number)
}
