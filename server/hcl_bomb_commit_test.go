package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

// TestHCLBombCommitIsRejected: issue 13's evaluation bombs committed to a
// watched repository are rejected with a positioned error, quickly, and
// the cluster keeps its last good commit; the leader lives on and the
// next good commit deploys.
func TestHCLBombCommitIsRejected(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""))
	c := s.Client
	waitSync(t, c, "apps", "the first commit", applied(first))

	lastGood := first
	for _, name := range []string{"nested-for.hcl", "string-growth.hcl", "dynamic.hcl"} {
		src, err := os.ReadFile(filepath.Join("..", "jobspec", "testdata", "bomb", name))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		bad := r.Commit("Add "+name, map[string]string{"jobs/" + name: string(src)})
		st := waitSync(t, c, "apps", "the bomb "+name+" rejected", outcome(bad, cluster.CommitRejected))
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s took %v to reject", name, d)
		}
		if st.LastApplied != lastGood {
			t.Errorf("%s: last applied %s, want the last good commit %s", name, st.LastApplied, lastGood)
		}
		if errs := strings.Join(st.Commits[0].Errors, "\n"); !strings.Contains(errs, "jobs/"+name+":") {
			t.Errorf("%s: rejection does not point into the file:\n%s", name, errs)
		}
		r.Remove("jobs/" + name)
		lastGood = r.Commit("Remove "+name, nil)
		waitSync(t, c, "apps", "the commit removing "+name, applied(lastGood))
	}
	if j := job(t, c, "web"); j.Source.Commit != first {
		t.Errorf("web changed: from %s", j.Source.Commit)
	}
	good := r.Commit("Scale web", map[string]string{"jobs/web.hcl": gittest.Job("web", 2)})
	waitSync(t, c, "apps", "the next good commit", applied(good))
}
