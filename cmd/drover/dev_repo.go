package main

import (
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5"

	"github.com/droverhq/drover/reconciler"
)

// devSource is the source `drover dev --repo PATH` reconciles: the local
// repository, read in place and watched with inotify, on its current
// branch unless one is given.
func devSource(path, branch string) (reconciler.SourceConfig, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return reconciler.SourceConfig{}, err
	}
	if branch == "" {
		g, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return reconciler.SourceConfig{}, fmt.Errorf("--repo %s: %w (run `git init` there first)", path, err)
		}
		head, err := g.Head()
		if err != nil || !head.Name().IsBranch() {
			return reconciler.SourceConfig{}, fmt.Errorf("--repo %s: HEAD is not on a branch with commits; commit first or pass -branch", path)
		}
		branch = head.Name().Short()
	}
	sc := reconciler.DefaultSourceConfig()
	sc.Name, sc.URL, sc.Branch = "dev", abs, branch
	return sc, sc.Validate()
}
