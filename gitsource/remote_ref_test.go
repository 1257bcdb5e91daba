package gitsource_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
)

// TestMirrorFetchRef: a PR head that exists only under refs/pull/N/head
// on an HTTP remote with basic auth is fetched into the mirror, and read
// back from it; a missing ref and wrong credentials are told apart, and
// the password never shows in an error.
func TestMirrorFetchRef(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := gittest.New(t)
	w.Commit("base", map[string]string{"web.hcl": gittest.Job("web", 1)})
	bare := w.Bare()
	w.Git("checkout", "-q", "-b", "pr")
	head := w.Commit("pr", map[string]string{"web.hcl": gittest.Job("web", 3)})
	w.Git("push", "-q", "origin", "pr:refs/pull/7/head")
	w.Git("checkout", "-q", "main")
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), "deploy", "s3cret-pw")
	url := hs.URL + "/remote.git"

	m := gitsource.NewMirror(url, "main", filepath.Join(t.TempDir(), "m.git"), gitsource.Auth{Username: "deploy", Password: "s3cret-pw"})
	sha, err := m.FetchRef(ctx, "refs/pull/7/head")
	if err != nil {
		t.Fatal(err)
	}
	if sha != head {
		t.Fatalf("FetchRef = %s, want %s", sha, head)
	}
	g, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Resolve(head)
	if err != nil || c.SHA != head {
		t.Fatalf("Resolve(head) = %v, %v", c, err)
	}
	// Again: nothing new, same answer.
	if sha, err := m.FetchRef(ctx, "refs/pull/7/head"); err != nil || sha != head {
		t.Fatalf("second FetchRef = %s, %v", sha, err)
	}

	if _, err := m.FetchRef(ctx, "refs/pull/8/head"); !errors.Is(err, gitsource.ErrRefNotFound) {
		t.Fatalf("missing ref: %v, want ErrRefNotFound", err)
	}
	if _, err := m.FetchRef(ctx, "main"); err == nil {
		t.Fatal("short ref name accepted")
	}

	bad := gitsource.NewMirror(url, "main", filepath.Join(t.TempDir(), "b.git"), gitsource.Auth{Username: "deploy", Password: "wrong-pw"})
	_, err = bad.FetchRef(ctx, "refs/pull/7/head")
	if !errors.Is(err, gitsource.ErrAuth) || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("wrong password: %v", err)
	}
}
