package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// RefWatcher notices ref changes of a local repository through inotify
// (fsnotify): a commit, reset, pull or branch switch rewrites a file under
// .git/refs/heads, packed-refs or HEAD, and the watcher reports it within
// milliseconds instead of at the next poll.
type RefWatcher struct {
	w      *fsnotify.Watcher
	gitDir string
}

// NewRefWatcher watches the refs of the repository that contains path.
func NewRefWatcher(path string) (*RefWatcher, error) {
	gitDir, err := findGitDir(path)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", gitDir, err)
	}
	rw := &RefWatcher{w: w, gitDir: gitDir}
	if err := w.Add(gitDir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", gitDir, err)
	}
	if err := rw.addTree(filepath.Join(gitDir, "refs", "heads")); err != nil {
		w.Close()
		return nil, err
	}
	return rw, nil
}

// addTree watches a folder and its subfolders: inotify is not recursive,
// and a branch named feature/x lives in refs/heads/feature/.
func (rw *RefWatcher) addTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if err := rw.w.Add(p); err != nil {
				return fmt.Errorf("watch %s: %w", p, err)
			}
		}
		return nil
	})
}

// Run calls kick for every event that may have moved a ref, until ctx
// ends, and then closes the watcher. kick must not block: the caller
// coalesces.
func (rw *RefWatcher) Run(ctx context.Context, kick func()) error {
	defer rw.w.Close()
	heads := filepath.Join(rw.gitDir, "refs", "heads")
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-rw.w.Errors:
			if !ok {
				return nil
			}
			// An overflowed queue lost events: a ref may have moved.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				kick()
				continue
			}
			return fmt.Errorf("watch %s: %w", rw.gitDir, err)
		case ev, ok := <-rw.w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) && strings.HasPrefix(ev.Name, heads) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					_ = rw.addTree(ev.Name)
				}
			}
			if refEvent(rw.gitDir, ev.Name) {
				kick()
			}
		}
	}
}

// refEvent reports whether a changed file may hold a ref.
func refEvent(gitDir, name string) bool {
	if strings.HasSuffix(name, ".lock") {
		// Git writes x.lock and renames it to x: the rename is the event.
		return false
	}
	rel, err := filepath.Rel(gitDir, name)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	return rel == "HEAD" || rel == "packed-refs" || strings.HasPrefix(rel, "refs/heads/")
}

// findGitDir returns the folder holding refs for the repository at path:
// path itself for a bare repository, else its .git (following the
// "gitdir:" file of a linked worktree to the common dir).
func findGitDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		dotGit := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dotGit); err == nil {
			if fi.IsDir() {
				return dotGit, nil
			}
			return gitDirFile(dotGit)
		}
		if isBare(dir) {
			return dir, nil
		}
		if parent := filepath.Dir(dir); parent == dir {
			return "", fmt.Errorf("%s is not in a Git repository: %w", path, ErrNotRepository)
		}
	}
}

func isBare(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// gitDirFile follows a worktree's .git file, and its commondir, to the
// folder where branches are stored.
func gitDirFile(dotGit string) (string, error) {
	b, err := os.ReadFile(dotGit)
	if err != nil {
		return "", err
	}
	dir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return "", fmt.Errorf("%s: not a gitdir file", dotGit)
	}
	dir = strings.TrimSpace(dir)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(dotGit), dir)
	}
	if c, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil {
		common := strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(dir, common)
		}
		return filepath.Clean(common), nil
	}
	return dir, nil
}
