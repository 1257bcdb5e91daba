package gitsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrRefNotFound is returned, wrapped, by FetchRef when the remote has no
// such ref.
var ErrRefNotFound = errors.New("ref not found")

// FetchRef fetches one full ref of the remote (refs/pull/N/head, say)
// into the mirror under the same name, with the mirror's credentials and
// depth, and returns the SHA it points at. The tracked branch is left
// alone. Like Sync, it must not run concurrently with the mirror's other
// methods: give previews a Mirror of their own.
func (m *Mirror) FetchRef(ctx context.Context, ref string) (string, error) {
	sha, err := m.fetchRef(ctx, ref)
	return sha, Scrub(err, m.auth.secrets()...)
}

func (m *Mirror) fetchRef(ctx context.Context, ref string) (string, error) {
	if !strings.HasPrefix(ref, "refs/") || strings.ContainsAny(ref, " :^~?*[\\") || strings.Contains(ref, "..") {
		return "", fmt.Errorf("fetch %q: not a full ref name", ref)
	}
	auth, err := m.auth.method(m.url)
	if err != nil {
		return "", fmt.Errorf("remote %s: %w", RedactURL(m.url), err)
	}
	g, err := m.open()
	if err != nil {
		return "", err
	}
	name := plumbing.ReferenceName(ref)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", name, name))
	err = m.remote(g).FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Depth:      m.depth,
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	var noMatch git.NoMatchingRefSpecError
	switch {
	case errors.As(err, &noMatch):
		return "", fmt.Errorf("remote %s has no ref %s: %w", RedactURL(m.url), ref, ErrRefNotFound)
	case err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate):
		return "", m.wrap("fetch "+ref+" from", err)
	}
	r, err := g.Reference(name, true)
	if err != nil {
		return "", fmt.Errorf("fetch %s: the ref is missing after the fetch: %w", ref, err)
	}
	return r.Hash().String(), nil
}
