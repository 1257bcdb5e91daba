package gitsource_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/repo"
)

func job(id string, count int) string {
	return fmt.Sprintf(`job %q {
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "sleep"
      }
    }
  }
}
`, id, count)
}

// The two commits every test repository has.
var (
	firstCommit = map[string]string{
		"drover.hcl":       `paths = ["jobs/**"]` + "\n",
		"jobs/web.hcl":     job("web", 1),
		"jobs/db.nomad":    job("db", 1),
		"README.md":        "jobs\n",
		"nested/deep/x.md": "x\n",
		// jobs/cache.hcl links here.
		"templates/cache.txt": job("cache", 1),
	}
	secondCommit = map[string]string{
		"jobs/web.hcl":       job("web", 3),
		"jobs/api.nomad.hcl": job("api", 2),
	}
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gitCLI runs git in dir with a fixed identity and no user config.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada Author", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Cy Committer", "GIT_COMMITTER_EMAIL=cy@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// links adds the fixture's symlinks: one to a file in the tree, one out
// of it, one to a folder. Only the first is a file of the repository.
func links(t *testing.T, dir string) {
	t.Helper()
	for link, target := range map[string]string{
		"jobs/cache.hcl":  "../templates/cache.txt",
		"jobs/passwd.hcl": "/etc/passwd",
		"jobs/escape.hcl": "../../outside.hcl",
		"jobs/folder.hcl": "../nested",
		"jobs/chain.md":   "cache.hcl",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("SKIPPING: the git CLI is not installed; tests that build repositories with it did not run")
	}
}

// fixture is a repository with two commits, a branch "release" and tags
// v1 (lightweight) and v1-annotated at the first commit.
type fixture struct {
	dir           string
	first, second string // SHAs
}

func cliRepo(t *testing.T) fixture {
	requireGit(t)
	dir := t.TempDir()
	gitCLI(t, dir, "init", "-q")
	writeFiles(t, dir, firstCommit)
	links(t, dir)
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", "Add web and db\n\nThe first jobs.")
	first := gitCLI(t, dir, "rev-parse", "HEAD")
	gitCLI(t, dir, "branch", "release")
	gitCLI(t, dir, "tag", "v1")
	gitCLI(t, dir, "tag", "-a", "-m", "v1 annotated", "v1-annotated")
	writeFiles(t, dir, secondCommit)
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", "Scale web, add api")
	return fixture{dir: dir, first: first, second: gitCLI(t, dir, "rev-parse", "HEAD")}
}

func goGitRepo(t *testing.T) fixture {
	dir := t.TempDir()
	g, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Ada Author", Email: "ada@example.com", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	commit := func(files map[string]string, msg string) plumbing.Hash {
		writeFiles(t, dir, files)
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	writeFiles(t, dir, firstCommit)
	links(t, dir)
	first := commit(firstCommit, "Add web and db\n\nThe first jobs.")
	head, err := g.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Storer.SetReference(plumbing.NewHashReference("refs/heads/release", first)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateTag("v1", first, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateTag("v1-annotated", first, &git.CreateTagOptions{Tagger: sig, Message: "v1 annotated"}); err != nil {
		t.Fatal(err)
	}
	second := commit(secondCommit, "Scale web, add api")
	// go-git names the first branch master; the tests use main.
	if head.Name() != "refs/heads/main" {
		if err := g.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", second)); err != nil {
			t.Fatal(err)
		}
	}
	return fixture{dir: dir, first: first.String(), second: second.String()}
}

func TestResolve(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) fixture{"git-cli": cliRepo, "go-git": goGitRepo} {
		t.Run(name, func(t *testing.T) {
			fx := mk(t)
			r, err := gitsource.Open(fx.dir)
			if err != nil {
				t.Fatal(err)
			}
			for rev, want := range map[string]string{
				"HEAD":         fx.second,
				"HEAD~1":       fx.first,
				"HEAD^":        fx.first,
				"main":         fx.second,
				"release":      fx.first,
				"v1":           fx.first,
				"v1-annotated": fx.first,
				fx.first:       fx.first,
				fx.first[:7]:   fx.first,
				fx.second[:12]: fx.second,
				"refs/tags/v1": fx.first,
				"release~0":    fx.first,
			} {
				c, err := r.Resolve(rev)
				if err != nil {
					t.Errorf("Resolve(%s): %v", rev, err)
					continue
				}
				if c.SHA != want {
					t.Errorf("Resolve(%s) = %s, want %s", rev, c.SHA, want)
				}
			}
			c, err := r.Resolve("HEAD~1")
			if err != nil {
				t.Fatal(err)
			}
			if c.Author != "Ada Author" || c.AuthorEmail != "ada@example.com" || c.Subject != "Add web and db" ||
				!strings.Contains(c.Message, "The first jobs.") || !c.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Errorf("commit = %+v", c)
			}
			for _, rev := range []string{"nope", "HEAD~2", "deadbeef", "v2", ""} {
				_, err := r.Resolve(rev)
				if !errors.Is(err, gitsource.ErrUnknownRevision) {
					t.Errorf("Resolve(%q) error = %v, want ErrUnknownRevision", rev, err)
					continue
				}
				if rev != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", rev)) {
					t.Errorf("error %q does not name the revision", err)
				}
			}
		})
	}
}

func snapshotFiles(t *testing.T, src repo.Source) map[string]string {
	t.Helper()
	files, err := src.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, f := range files {
		m[f.Path] = f.Hash
	}
	return m
}

func TestSnapshotMatchesGit(t *testing.T) {
	fx := cliRepo(t)
	r, err := gitsource.Open(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Resolve("HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	got := snapshotFiles(t, r.Snapshot(c))
	// git ls-tree lists the same blobs; links that resolve inside the
	// tree to a file take that file's blob.
	want := make(map[string]string)
	for _, line := range strings.Split(gitCLI(t, fx.dir, "ls-tree", "-r", "HEAD~1"), "\n") {
		meta, p, _ := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if f[0] == "120000" {
			continue
		}
		want[p] = f[2]
	}
	want["jobs/cache.hcl"] = want["templates/cache.txt"]
	want["jobs/chain.md"] = want["templates/cache.txt"]
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Snapshot files\n%v\nwant (git ls-tree)\n%v", got, want)
	}
	for p, h := range got {
		b, err := r.Snapshot(c).ReadFile(context.Background(), repo.File{Path: p, Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		content, ok := firstCommit[p]
		if !ok {
			content = firstCommit["templates/cache.txt"] // a link
		}
		if string(b) != content {
			t.Errorf("%s = %q, want %q", p, b, content)
		}
		if repo.BlobHash(b) != h {
			t.Errorf("%s: BlobHash %s != tree hash %s", p, repo.BlobHash(b), h)
		}
		// By path alone, as Repo.ReadFile asks.
		b2, err := r.Snapshot(c).ReadFile(context.Background(), repo.File{Path: p})
		if err != nil || string(b2) != string(b) {
			t.Errorf("ReadFile by path %s = %q, %v", p, b2, err)
		}
	}
	if _, err := r.Snapshot(c).ReadFile(context.Background(), repo.File{Path: "jobs/passwd.hcl"}); err == nil {
		t.Error("ReadFile of a symlink out of the tree succeeded")
	}

	sub := snapshotFiles(t, r.SnapshotDir(c, "jobs"))
	if len(sub) != 2 || sub["web.hcl"] != got["jobs/web.hcl"] {
		t.Errorf("SnapshotDir(jobs) = %v", sub)
	}
	if _, err := r.SnapshotDir(c, "nope").Files(context.Background()); err == nil {
		t.Error("SnapshotDir of a missing folder succeeded")
	}
}

// parserReady skips when jobspec.Parse is still a stub.
func parserReady(t *testing.T, r *repo.Repo) {
	t.Helper()
	for _, d := range r.Diagnostics {
		if strings.Contains(d.Summary, "not implemented") {
			t.Skip("jobspec.Parse is not implemented yet")
		}
	}
}

func TestLoadSnapshotsAndWorkingTree(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) fixture{"git-cli": cliRepo, "go-git": goGitRepo} {
		t.Run(name, func(t *testing.T) {
			fx := mk(t)
			// Open from a subfolder, as a user inside the repository would.
			r, err := gitsource.Open(filepath.Join(fx.dir, "jobs"))
			if err != nil {
				t.Fatal(err)
			}
			if root, _ := filepath.EvalSymlinks(r.Root()); root != mustEval(t, fx.dir) {
				t.Errorf("Root = %s, want %s", r.Root(), fx.dir)
			}
			ctx := context.Background()
			l := repo.NewLoader(repo.LoadOptions{})
			loadRev := func(rev string) *repo.Repo {
				c, err := r.Resolve(rev)
				if err != nil {
					t.Fatal(err)
				}
				got, err := l.Load(ctx, r.Snapshot(c))
				if err != nil {
					t.Fatal(err)
				}
				parserReady(t, got)
				if got.HasErrors() {
					t.Fatalf("%s: %v", rev, got.Diagnostics)
				}
				return got
			}
			old := loadRev("HEAD~1")
			head := loadRev("HEAD")
			if got := ids(old); got != "[cache db web]" {
				t.Errorf("HEAD~1 jobs = %s", got)
			}
			if got := ids(head); got != "[api cache db web]" {
				t.Errorf("HEAD jobs = %s", got)
			}
			if head.Jobs["web"].Job.Groups[0].Count != 3 || old.Jobs["web"].Job.Groups[0].Count != 1 {
				t.Error("web's count does not follow the commits")
			}
			// db and cache are the same blobs in both commits: parsed once.
			if s := l.Stats(); s.Parses != 5 {
				t.Errorf("parses = %d, want 5 (db and cache shared between commits)", s.Parses)
			}

			// The working tree: one uncommitted edit, the rest shared
			// with HEAD through the blob hash.
			writeFiles(t, fx.dir, map[string]string{"jobs/db.nomad": job("db", 9)})
			before := l.Stats().Parses
			wt, err := l.Load(ctx, repo.DirSource(r.Root()))
			if err != nil {
				t.Fatal(err)
			}
			if wt.HasErrors() {
				t.Fatal(wt.Diagnostics)
			}
			if n := l.Stats().Parses - before; n != 1 {
				t.Errorf("working tree parsed %d files, want only the edited one", n)
			}
			if wt.Jobs["db"].Job.Groups[0].Count != 9 {
				t.Error("working tree does not show the uncommitted edit")
			}
		})
	}
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	e, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ids(r *repo.Repo) string {
	var s []string
	for id := range r.Jobs {
		s = append(s, id)
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}

func TestConcurrentSnapshotLoads(t *testing.T) {
	fx := goGitRepo(t)
	r, err := gitsource.Open(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev := []string{"HEAD", "HEAD~1"}[i%2]
			c, err := r.Resolve(rev)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := repo.NewLoader(repo.LoadOptions{}).Load(context.Background(), r.Snapshot(c)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := gitsource.Open(dir)
	if !errors.Is(err, gitsource.ErrNotRepository) {
		t.Fatalf("Open(non-git) error = %v, want ErrNotRepository", err)
	}
	for _, want := range []string{dir, "is not a Git repository", "git init", "--repo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := gitsource.Open(filepath.Join(dir, "missing")); err == nil || errors.Is(err, gitsource.ErrNotRepository) {
		t.Errorf("Open(missing) error = %v, want a not-exist error", err)
	}
}

func TestResolveEmptyRepository(t *testing.T) {
	dir := t.TempDir()
	if _, err := git.PlainInit(dir, false); err != nil {
		t.Fatal(err)
	}
	r, err := gitsource.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Resolve("HEAD")
	if !errors.Is(err, gitsource.ErrUnknownRevision) || !strings.Contains(err.Error(), "no commits yet") {
		t.Errorf("Resolve(HEAD) in an empty repository = %v", err)
	}
}

func TestSnapshotOfBareCommitSHA(t *testing.T) {
	fx := goGitRepo(t)
	r, err := gitsource.Open(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	// A Commit built from a SHA alone (as a caller that stored it would).
	files := snapshotFiles(t, r.Snapshot(&gitsource.Commit{SHA: fx.second}))
	if _, ok := files["jobs/api.nomad.hcl"]; !ok {
		t.Errorf("files = %v", files)
	}
}
