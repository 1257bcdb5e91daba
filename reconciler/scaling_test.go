package reconciler

import (
	"fmt"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// scaledJob is a job of groups "name=count" or "name=count[min,max]"
// (with a scaling block).
func scaledJob(groups ...string) *jobspec.Job {
	j := &jobspec.Job{ID: "web", Type: jobspec.JobTypeService}
	for _, g := range groups {
		var name string
		var count, lo, hi int
		if n, _ := fmt.Sscanf(g, "%1s=%d[%d,%d]", &name, &count, &lo, &hi); n == 4 {
			j.Groups = append(j.Groups, &jobspec.Group{Name: name, Count: count, Scaling: &jobspec.Scaling{Min: lo, Max: hi, Enabled: true}})
			continue
		}
		if _, err := fmt.Sscanf(g, "%1s=%d", &name, &count); err != nil {
			panic(g + ": " + err.Error())
		}
		j.Groups = append(j.Groups, &jobspec.Group{Name: name, Count: count})
	}
	return j
}

func counts(j *jobspec.Job) string {
	s := ""
	for _, g := range j.Groups {
		s += fmt.Sprintf("%s=%d ", g.Name, g.Count)
	}
	return s
}

// TestOwnedCounts is the rule "a scaling block means the cluster owns
// the count", group by group.
func TestOwnedCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		want    *jobspec.Job
		live    *jobspec.Job
		counts  string
		changed bool
	}{
		{"no live job: Git's count", scaledJob("a=2[1,5]"), nil, "a=2 ", false},
		{"scaling block: live count kept", scaledJob("a=2[1,5]"), scaledJob("a=4[1,5]"), "a=4 ", true},
		{"no scaling block: Git's count", scaledJob("a=2"), scaledJob("a=4"), "a=2 ", false},
		{"equal counts: nothing to do", scaledJob("a=2[1,5]"), scaledJob("a=2[1,5]"), "a=2 ", false},
		{"live above a lowered max: clamped", scaledJob("a=2[1,3]"), scaledJob("a=5[1,5]"), "a=3 ", true},
		{"live below a raised min: clamped", scaledJob("a=4[3,9]"), scaledJob("a=1[1,5]"), "a=3 ", true},
		{"block added in Git: live count kept", scaledJob("a=2[1,5]"), scaledJob("a=4"), "a=4 ", true},
		{"per group", scaledJob("a=2[1,5]", "b=1"), scaledJob("a=5[1,5]", "b=7"), "a=5 b=1 ", true},
		{"group new in Git: Git's count", scaledJob("a=2[1,5]", "c=2[0,9]"), scaledJob("a=2[1,5]"), "a=2 c=2 ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(tc.want)
			got, changed := OwnedCounts(tc.want, tc.live)
			if counts(got) != tc.counts || changed != tc.changed {
				t.Fatalf("got %q changed=%v, want %q changed=%v", counts(got), changed, tc.counts, tc.changed)
			}
			if counts(tc.want) != before {
				t.Fatal("OwnedCounts modified its input")
			}
		})
	}
}

// TestDecideScaledJob: after `drover job scale`, a group with a scaling
// block keeps its live count on the next pass (no submit, no drift), a
// commit that changes the job submits it with the live count, and a
// group without one is drift that self_heal puts back.
func TestDecideScaledJob(t *testing.T) {
	src := &cluster.Source{Name: "apps", Commit: "c0ffee0", Path: "jobs/web.hcl"}
	liveJob := func(spec *jobspec.Job) *cluster.Job {
		four := int64(4)
		return &cluster.Job{Namespace: "default", ID: "web", Spec: spec, Hash: spec.Hash(), Version: 4, JobModifyIndex: 50,
			Source: src, SubmittedBy: "ops", Scale: &cluster.ScalingEvent{TaskGroup: "a", Count: &four, PreviousCount: 2}}
	}
	in := func(git *jobspec.Job, prevHash string, live *cluster.Job, set Settings) Input {
		return Input{
			Source:   "apps",
			Desired:  &Desired{Jobs: map[string]DesiredJob{"default/web": {Spec: git, Hash: git.Hash(), Path: "jobs/web.hcl"}}, Settings: set},
			Previous: map[string]string{"default/web": prevHash},
			Cluster:  []*cluster.Job{live},
		}
	}
	git := scaledJob("a=2[1,5]")
	d := Decide(in(git, git.Hash(), liveJob(scaledJob("a=4[1,5]")), DefaultSettings()))
	if s := summary(d); s != "" {
		t.Fatalf("scaling block, unchanged commit: %q, want nothing", s)
	}

	changedGit := scaledJob("a=2[1,5]")
	changedGit.Meta = map[string]string{"v": "2"}
	d = Decide(in(changedGit, git.Hash(), liveJob(scaledJob("a=4[1,5]")), DefaultSettings()))
	if s := summary(d); s != "update:web" || d.Register[0].Job.Groups[0].Count != 4 || changedGit.Groups[0].Count != 2 {
		t.Fatalf("scaling block, changed commit: %q, count %d", s, d.Register[0].Job.Groups[0].Count)
	}

	plain := scaledJob("a=2")
	d = Decide(in(plain, plain.Hash(), liveJob(scaledJob("a=4")), DefaultSettings()))
	if s := summary(d); s != "heal:web drift:web(healed=true)" || d.Register[0].Job.Groups[0].Count != 2 {
		t.Fatalf("no scaling block: %q", s)
	}
	d = Decide(in(plain, plain.Hash(), liveJob(scaledJob("a=4")), Settings{Prune: true}))
	if s := summary(d); s != "drift:web(healed=false)" {
		t.Fatalf("no scaling block, no self_heal: %q", s)
	}
}
