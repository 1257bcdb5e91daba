package server_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

// TestSourceLeaderChangeMidSync: in a 3-server cluster, every server
// configures the same local repository. Commit A is deployed; commit B
// is made and the leader is killed at once, in the middle of (or just
// before) its pass on B; commit C is made while there is no leader. The
// new leader resumes from the SyncStatus in Raft: it applies the newest
// commit, C, and no commit produces two versions of a job.
func TestSourceLeaderChangeMidSync(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	servers := servertest.Cluster(t, 3, withSource("apps", r.Dir, ""))
	leader := servertest.Leader(servers)
	if leader == nil {
		t.Fatal("no leader")
	}
	fs := followers(servers, leader)
	waitSync(t, leader.Client, "apps", "commit A", applied(a))
	if j := job(t, leader.Client, "web"); j.Source == nil || j.Source.Commit != a {
		t.Fatalf("web after A: source %+v", j.Source)
	}

	// B, and the leader dies while its pass on B may be running.
	b := r.Commit("Scale web to 2", map[string]string{"jobs/web.hcl": gittest.Job("web", 2)})
	if err := leader.Stop(); err != nil {
		t.Fatal(err)
	}
	// C, while no leader serves.
	c := r.Commit("Scale web to 3, add api", map[string]string{
		"jobs/web.hcl": gittest.Job("web", 3),
		"jobs/api.hcl": gittest.Job("api", 1),
	})
	var next *servertest.Server
	servertest.WaitFor(t, "a new leader", func() bool {
		next = servertest.Leader(fs)
		return next != nil
	})
	st := waitSync(t, next.Client, "apps", "commit C on the new leader", applied(c))
	if st.LastSeen != c {
		t.Errorf("last seen = %s, want C %s", st.LastSeen, c)
	}

	// Job versions: each from a distinct commit, in commit order, the
	// newest from C; A produced exactly one.
	checkVersions := func(id string, want ...string) {
		t.Helper()
		vs, _, err := next.Client.Jobs().Versions(ctxT(t), id, nil)
		if err != nil {
			t.Fatalf("versions of %s: %v", id, err)
		}
		order := map[string]int{a: 0, b: 1, c: 2}
		count := map[string]int{}
		var newest *cluster.Job
		last := -1
		// Versions may come newest or oldest first: sort by version.
		byVersion := map[uint64]*cluster.Job{}
		var maxV uint64
		for _, v := range vs {
			byVersion[v.Version] = v
			maxV = max(maxV, v.Version)
		}
		for i := uint64(0); i <= maxV; i++ {
			v := byVersion[i]
			if v == nil {
				continue
			}
			if v.Source == nil {
				t.Fatalf("%s version %d has no source", id, v.Version)
			}
			count[v.Source.Commit]++
			o, ok := order[v.Source.Commit]
			if !ok {
				t.Fatalf("%s version %d from unknown commit %s", id, v.Version, v.Source.Commit)
			}
			if o <= last {
				t.Errorf("%s version %d from commit #%d after a version from commit #%d", id, v.Version, o, last)
			}
			last = o
			newest = v
		}
		for sha, n := range count {
			if n != 1 {
				t.Errorf("%s: commit %s produced %d versions, want 1", id, sha, n)
			}
		}
		for _, sha := range want {
			if count[sha] != 1 {
				t.Errorf("%s: commit %s produced %d versions, want 1", id, sha, count[sha])
			}
		}
		if newest == nil || newest.Source.Commit != c {
			t.Errorf("%s: newest version is not from C", id)
		}
		t.Logf("%s: %d versions, per commit %v (A=%.7s B=%.7s C=%.7s)", id, len(vs), count, a, b, c)
	}
	checkVersions("web", a, c)
	checkVersions("api", c)
	if j := job(t, next.Client, "web"); j.Spec.Groups[0].Count != 3 || j.Source.Commit != c {
		t.Errorf("web = count %d from %s, want 3 from C", j.Spec.Groups[0].Count, j.Source.Commit)
	}

	// Commit outcomes recorded in Raft: no commit twice.
	seen := map[string]int{}
	for _, co := range st.Commits {
		seen[co.Commit]++
		if seen[co.Commit] > 1 {
			t.Errorf("commit %s recorded twice in the sync status: %+v", co.Commit, st.Commits)
		}
	}

	// Another pass on the new leader changes nothing.
	n := versions(t, next.Client, "web")
	d := r.Commit("Unrelated", map[string]string{"README.md": "hi\n"})
	waitSync(t, next.Client, "apps", "the unrelated commit", applied(d))
	if v := versions(t, next.Client, "web"); v != n {
		t.Errorf("web has %d versions after an unrelated commit, want %d", v, n)
	}
}

// TestSourceRepeatedLeaderChanges kills the leader five times, each time
// a little later after a commit that changes ten jobs, so that the kill
// lands before, during or after the old leader's pass; another commit is
// made while no leader serves. The killed server is restarted on its
// data dir and rejoins before the next round. Every job ends at the
// newest commit, and no commit produced two versions of any job.
func TestSourceRepeatedLeaderChanges(t *testing.T) {
	const nJobs = 10
	r := gittest.New(t)
	var commits []string
	commit := func(msg string) string {
		files := map[string]string{}
		for i := range nJobs {
			files[fmt.Sprintf("jobs/j%d.hcl", i)] = gittest.Job(fmt.Sprintf("j%d", i), len(commits)+1)
		}
		sha := r.Commit(msg, files)
		commits = append(commits, sha)
		return sha
	}
	first := commit("Add the jobs")
	servers := servertest.Cluster(t, 3, withSource("apps", r.Dir, ""))
	leader := servertest.Leader(servers)
	waitSync(t, leader.Client, "apps", "the first commit", applied(first))

	mustLead := map[string]bool{first: true} // commits that must produce a version
	for round, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond} {
		leader = servertest.Leader(servers)
		if leader == nil {
			t.Fatalf("round %d: no leader", round)
		}
		commit(fmt.Sprintf("Round %d, with a leader", round))
		time.Sleep(delay) // where the kill lands in the old leader's pass
		if err := leader.Stop(); err != nil {
			t.Fatal(err)
		}
		newest := commit(fmt.Sprintf("Round %d, without a leader", round))
		mustLead[newest] = true
		live := followers(servers, leader)
		var next *servertest.Server
		servertest.WaitFor(t, "a new leader", func() bool {
			next = servertest.Leader(live)
			return next != nil
		})
		st := waitSync(t, next.Client, "apps", fmt.Sprintf("round %d's newest commit", round), applied(newest))
		seen := map[string]bool{}
		for _, co := range st.Commits {
			if seen[co.Commit] {
				t.Errorf("round %d: commit %s recorded twice: %+v", round, co.Commit, st.Commits)
			}
			seen[co.Commit] = true
		}

		// Bring the killed server back on its data dir.
		cfg := leader.Config
		cfg.RaftAddr = leader.RaftAddr()
		restarted := servertest.Start(t, cfg)
		for i, s := range servers {
			if s == leader {
				servers[i] = restarted
			}
		}
		servertest.WaitForPeers(t, servers, 3)
	}

	c := servertest.Leader(servers).Client
	order := map[string]int{}
	for i, sha := range commits {
		order[sha] = i
	}
	for i := range nJobs {
		id := fmt.Sprintf("j%d", i)
		vs, _, err := c.Jobs().Versions(ctxT(t), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(vs, func(a, b *cluster.Job) int { return cmp.Compare(a.Version, b.Version) })
		count := map[string]int{}
		last := -1
		for _, v := range vs {
			if v.Source == nil {
				t.Fatalf("%s version %d has no source", id, v.Version)
			}
			o, ok := order[v.Source.Commit]
			if !ok {
				t.Fatalf("%s version %d from unknown commit %s", id, v.Version, v.Source.Commit)
			}
			count[v.Source.Commit]++
			if o <= last {
				t.Errorf("%s version %d from commit #%d after one from commit #%d: applied twice or out of order", id, v.Version, o, last)
			}
			last = o
		}
		for sha := range mustLead {
			if count[sha] != 1 {
				t.Errorf("%s: commit #%d produced %d versions, want 1", id, order[sha], count[sha])
			}
		}
		if last != len(commits)-1 {
			t.Errorf("%s: newest version from commit #%d, want #%d", id, last, len(commits)-1)
		}
		if i == 0 {
			t.Logf("%s: %d versions from %d commits", id, len(vs), len(commits))
		}
	}
}
