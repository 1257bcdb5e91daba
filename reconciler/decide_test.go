package reconciler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/repo"
)

func spec(id string) *jobspec.Job { return &jobspec.Job{ID: id, Type: jobspec.JobTypeService} }

// desired builds a Desired of id=hash pairs.
func desired(set Settings, pairs ...string) *Desired {
	d := &Desired{Jobs: map[string]DesiredJob{}, Settings: set}
	for _, p := range pairs {
		id, h, _ := strings.Cut(p, "=")
		d.Jobs[jobKey("", id)] = DesiredJob{Spec: spec(id), Hash: h, Path: "jobs/" + id + ".hcl"}
	}
	return d
}

// live builds a cluster job: "web=h1@apps" (managed by apps), "web=h1"
// (unmanaged), a "!" suffix for stopped; an ID "parent/periodic-N" is a
// child the leader launched from job parent.
func live(s string) *cluster.Job {
	stop := strings.HasSuffix(s, "!")
	s = strings.TrimSuffix(s, "!")
	rest, src, managed := strings.Cut(s, "@")
	id, h, _ := strings.Cut(rest, "=")
	j := &cluster.Job{Namespace: "default", ID: id, Hash: h, Stop: stop, Version: 3, JobModifyIndex: 42}
	if managed {
		j.Source = &cluster.Source{Name: src, Commit: "c0ffee0"}
	}
	if parent, _, ok := strings.Cut(id, "/periodic-"); ok {
		j.ParentID = parent
	}
	return j
}

func summary(d Decision) string {
	var parts []string
	for _, a := range d.Register {
		parts = append(parts, a.Reason+":"+a.ID)
	}
	for _, a := range d.Stop {
		parts = append(parts, a.Reason+":"+a.ID)
	}
	for _, dr := range d.Drift {
		parts = append(parts, fmt.Sprintf("drift:%s(healed=%v)", dr.ID, dr.Healed))
	}
	for _, u := range d.Unmanaged {
		parts = append(parts, "unmanaged:"+u)
	}
	for _, k := range d.KeptByNoPrune {
		parts = append(parts, "kept:"+k)
	}
	if d.Reject != "" {
		parts = append(parts, "REJECT")
	}
	return strings.Join(parts, " ")
}

func TestDecide(t *testing.T) {
	def := DefaultSettings()
	noHeal := Settings{Prune: true}
	noPrune := Settings{SelfHeal: true}
	mass := Settings{Prune: true, SelfHeal: true, AllowMassPrune: true}
	for _, tc := range []struct {
		name     string
		desired  *Desired
		previous map[string]string
		cluster  []string
		want     string
	}{
		{"first sync creates", desired(def, "web=h1", "api=h2"), nil, nil, "create:api create:web"},
		{"in sync does nothing", desired(def, "web=h1"), map[string]string{"default/web": "h1"}, []string{"web=h1@apps"}, ""},
		{"same spec submitted by hand is left alone", desired(def, "web=h1"), nil, []string{"web=h1"}, ""},
		{"commit edits a job", desired(def, "web=h2"), map[string]string{"default/web": "h1"}, []string{"web=h1@apps"}, "update:web"},
		{"commit adopts a hand-made job", desired(def, "web=h2"), nil, []string{"web=h1"}, "adopt:web"},
		{"drift is healed", desired(def, "web=h1"), map[string]string{"default/web": "h1"}, []string{"web=h9"}, "heal:web drift:web(healed=true)"},
		{"drift without self_heal is reported only", desired(noHeal, "web=h1"), map[string]string{"default/web": "h1"}, []string{"web=h9"}, "drift:web(healed=false)"},
		{"stopped by hand is drift", desired(def, "web=h1"), map[string]string{"default/web": "h1"}, []string{"web=h1!"}, "heal:web drift:web(healed=true)"},
		{"purged by hand is drift", desired(def, "web=h1"), map[string]string{"default/web": "h1"}, nil, "heal:web drift:web(healed=true)"},
		{"our own older version resumes", desired(noHeal, "web=h2"), map[string]string{"default/web": "h2"}, []string{"web=h1@apps"}, "resume:web"},
		{"removed file is pruned", desired(def, "web=h1", "api=h2"), nil, []string{"web=h1@apps", "api=h2@apps", "db=h3@apps"}, "prune:db"},
		{"prune off keeps it", desired(noPrune, "web=h1"), nil, []string{"web=h1@apps", "db=h3@apps"}, "kept:db"},
		{"more than half is a mass prune", desired(def, "web=h1"), nil, []string{"web=h1@apps", "api=h2@apps", "db=h3@apps"}, "REJECT"},
		{"exactly half is allowed", desired(def, "web=h1"), nil, []string{"web=h1@apps", "db=h3@apps"}, "prune:db"},
		{"removing everything is refused", desired(def), nil, []string{"web=h1@apps"}, "REJECT"},
		{"allow_mass_prune allows it", desired(mass), nil, []string{"web=h1@apps"}, "prune:web"},
		{"unmanaged jobs are listed, never stopped", desired(def, "web=h1"), nil, []string{"web=h1@apps", "manual=h5"}, "unmanaged:manual"},
		{"other sources' jobs are not ours", desired(def), nil, []string{"x=h1@other"}, ""},
		{"periodic children are neither pruned nor unmanaged", desired(def, "report=h1"), nil, []string{"report=h1@apps", "report/periodic-1700000000=h1"}, ""},
		{"stopped jobs of ours are not pruned again", desired(def, "web=h1"), nil, []string{"web=h1@apps", "old=h2@apps!"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var jobs []*cluster.Job
			for _, c := range tc.cluster {
				jobs = append(jobs, live(c))
			}
			got := summary(Decide(Input{Source: "apps", Desired: tc.desired, Previous: tc.previous, Cluster: jobs}))
			if got != tc.want {
				t.Errorf("Decide = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecideCheckIndexAndRejectMessage(t *testing.T) {
	d := Decide(Input{Source: "apps", Desired: desired(DefaultSettings(), "web=h2"), Cluster: []*cluster.Job{live("web=h1@apps")}})
	if len(d.Register) != 1 || d.Register[0].CheckIndex != 42 || d.Register[0].Path != "jobs/web.hcl" {
		t.Fatalf("register = %+v", d.Register)
	}
	d = Decide(Input{Source: "apps", Desired: desired(DefaultSettings()), Cluster: []*cluster.Job{live("web=h1@apps"), live("api=h1@apps")}})
	for _, want := range []string{"stop 2 of the 2 jobs", "allow_mass_prune = true"} {
		if !strings.Contains(d.Reject, want) {
			t.Errorf("reject %q does not say %q", d.Reject, want)
		}
	}
	if !d.Empty() {
		t.Error("a rejected decision submits something")
	}
}

func TestSettings(t *testing.T) {
	src := []byte("paths = [\"jobs/**\"]\nprune = false\nself_heal = false\nallow_mass_prune = true\n")
	cfg, diags := repo.ParseConfig("drover.hcl", src)
	if s := SettingsFrom(cfg); diags.HasErrors() || s.Prune || s.SelfHeal || !s.AllowMassPrune {
		t.Fatalf("settings = %+v, %v", s, diags)
	}
	if len(cfg.Paths) != 1 || cfg.Paths[0] != "jobs/**" {
		t.Errorf("paths = %q, want [jobs/**]", cfg.Paths)
	}
	if cfg, _ := repo.ParseConfig("drover.hcl", []byte("")); SettingsFrom(cfg) != DefaultSettings() || !DefaultSettings().Prune || !DefaultSettings().SelfHeal || DefaultSettings().AllowMassPrune {
		t.Errorf("defaults = %+v", SettingsFrom(cfg))
	}
	if _, diags := repo.ParseConfig("drover.hcl", []byte("prune = \"yes\"\n")); !diags.HasErrors() {
		t.Error("a string prune is accepted")
	}
}

// TestDecideRetry: a retry registers again the jobs it names although the
// cluster runs their spec, and only those.
func TestDecideRetry(t *testing.T) {
	set := Settings{Prune: true, SelfHeal: true}
	in := Input{Source: "apps", Desired: desired(set, "api=h1", "web=h2"), Previous: map[string]string{"default/api": "h1", "default/web": "h2"},
		Cluster: []*cluster.Job{live("api=h1@apps"), live("web=h2@apps")}}
	if got := summary(Decide(in)); got != "" {
		t.Fatalf("without a retry: %q, want nothing", got)
	}
	in.Retry = map[string]bool{"default/web": true}
	d := Decide(in)
	if got := summary(d); got != "retry:web" {
		t.Fatalf("retry: %q, want retry:web", got)
	}
	if d.Register[0].CheckIndex != 42 {
		t.Errorf("check index = %d, want the live version's 42", d.Register[0].CheckIndex)
	}
}
