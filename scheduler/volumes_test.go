package scheduler

import (
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestHostVolumeOK(t *testing.T) {
	n := node("n00", func(n *cluster.Node) {
		n.HostVolumes = map[string]cluster.HostVolume{
			"rw":      {Path: "/srv/rw"},
			"ro":      {Path: "/srv/ro", ReadOnly: true},
			"data[1]": {Path: "/srv/data1"},
		}
	})
	tests := []struct {
		name     string
		source   string
		readOnly bool
		ok       bool
	}{
		{"rw volume, rw request", "rw", false, true},
		{"rw volume, ro request", "rw", true, true},
		{"ro volume, ro request", "ro", true, true},
		{"ro volume, rw request", "ro", false, false},
		{"missing", "other", true, false},
		{"empty source", "", true, false},
		{"per_alloc name", "data[1]", false, true},
		{"case matters", "RW", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostVolumeOK(n, tt.source, tt.readOnly); got != tt.ok {
				t.Errorf("hostVolumeOK(%q, ro=%v) = %v, want %v", tt.source, tt.readOnly, got, tt.ok)
			}
		})
	}
	if hostVolumeOK(node("bare"), "rw", true) {
		t.Error("a node without host volumes has one")
	}
}

func TestAllocSuffix(t *testing.T) {
	for name, want := range map[string]string{
		"web.web[0]":      "[0]",
		"web.web[12]":     "[12]",
		"a[1].b[2]":       "[2]",
		"web.web":         "",
		"":                "",
		"web.web[3":       "",
		"job.g[0]-broken": "",
	} {
		if got := allocSuffix(name); got != want {
			t.Errorf("allocSuffix(%q) = %q, want %q", name, got, want)
		}
	}
}

// withVolumes gives the group volume requests; names are the volume
// blocks' labels.
func withVolumes(vs ...*jobspec.VolumeRequest) func(*jobspec.Job) {
	return func(j *jobspec.Job) {
		grp(j).Volumes = map[string]*jobspec.VolumeRequest{}
		for _, v := range vs {
			grp(j).Volumes[v.Name] = v
		}
		grp(j).Tasks[0].VolumeMounts = []jobspec.VolumeMount{{Volume: vs[0].Name, Destination: "/data"}}
	}
}

// A group with host volumes lands only on nodes that have them, writable
// where it asks for writing; elsewhere the placement fails with Nomad's
// reason, which job plan shows.
func TestHostVolumePlacement(t *testing.T) {
	// n00: data (rw); n01: data (ro); n02: logs only; n03: nothing.
	vols := []map[string]cluster.HostVolume{
		{"data": {Path: "/srv/data"}, "logs": {Path: "/srv/logs"}},
		{"data": {Path: "/srv/data", ReadOnly: true}},
		{"logs": {Path: "/srv/logs"}},
		nil,
	}
	ns := nodes(4, func(i int, n *cluster.Node) { n.HostVolumes = vols[i] })
	tests := []struct {
		name     string
		reqs     []*jobspec.VolumeRequest
		count    int
		want     []string // nodes that may get allocations
		filtered int      // nodes filtered for the reason when some fail
	}{
		{"no volumes: anywhere", nil, 4, []string{"n00", "n01", "n02", "n03"}, 0},
		{"read-write: only the writable one", []*jobspec.VolumeRequest{{Name: "d", Type: "host", Source: "data"}}, 2, []string{"n00"}, 3},
		{"read-only: writable and read-only ones", []*jobspec.VolumeRequest{{Name: "d", Type: "host", Source: "data", ReadOnly: true}}, 4, []string{"n00", "n01"}, 2},
		{"two volumes: both needed", []*jobspec.VolumeRequest{
			{Name: "d", Type: "host", Source: "data", ReadOnly: true},
			{Name: "l", Type: "host", Source: "logs"},
		}, 2, []string{"n00"}, 3},
		{"nowhere", []*jobspec.VolumeRequest{{Name: "d", Type: "host", Source: "nosuch"}}, 1, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods := []func(*jobspec.Job){func(j *jobspec.Job) {
				// Distinct hosts: a placement per node, so that every
				// node allowed is used and the others show in the metric.
				grp(j).Constraints = []jobspec.Constraint{{Operator: "distinct_hosts", Value: "true"}}
			}}
			if tt.reqs != nil {
				mods = append(mods, withVolumes(tt.reqs...))
			}
			p := run(t, newMemState(ns...), job(tt.count, mods...), 1)
			var got []string
			for id := range perNode(p) {
				got = append(got, id)
			}
			slices.Sort(got)
			if want := tt.want[:min(len(tt.want), tt.count)]; !slices.Equal(got, want) {
				t.Fatalf("placed on %v, want %v", got, want)
			}
			m := p.FailedTGAllocs["web"]
			if len(tt.want) >= tt.count {
				if m != nil {
					t.Fatalf("unexpected failure %+v", m)
				}
				return
			}
			if m == nil || m.ConstraintFiltered[reasonHostVolumes] != tt.filtered {
				t.Fatalf("failure metric = %+v, want %d nodes filtered by %q", m, tt.filtered, reasonHostVolumes)
			}
			want := `Constraint "missing compatible host volumes": `
			if text := explainText(p, "web"); !strings.Contains(text, want) {
				t.Errorf("Explain:\n%s\nwant a line starting %q", text, want)
			}
		})
	}
}

// per_alloc: allocation [i] needs the host volume "<source>[i]", so each
// index lands on the node that has its volume.
func TestHostVolumePerAlloc(t *testing.T) {
	ns := nodes(3, func(i int, n *cluster.Node) {
		switch i {
		case 0:
			n.HostVolumes = map[string]cluster.HostVolume{"db[1]": {Path: "/srv/db1"}}
		case 1:
			n.HostVolumes = map[string]cluster.HostVolume{"db[0]": {Path: "/srv/db0"}, "db": {Path: "/srv/db"}}
		case 2:
			n.HostVolumes = map[string]cluster.HostVolume{"db[2]": {Path: "/srv/db2", ReadOnly: true}}
		}
	})
	req := &jobspec.VolumeRequest{Name: "db", Type: "host", Source: "db", PerAlloc: true}
	p := run(t, newMemState(ns...), job(2, withVolumes(req)), 1)
	got := map[string]string{}
	for _, a := range placed(p) {
		got[a.Name] = a.NodeID
	}
	if got["web.web[0]"] != "n01" || got["web.web[1]"] != "n00" || len(got) != 2 {
		t.Fatalf("placed %v, want [0] on n01 and [1] on n00", got)
	}

	// Index 2's volume is read-only, and the request is read-write.
	p = run(t, newMemState(ns...), job(3, withVolumes(req)), 1)
	if n := len(placed(p)); n != 2 {
		t.Fatalf("placed %d, want 2", n)
	}
	if m := p.FailedTGAllocs["web"]; m == nil || m.ConstraintFiltered[reasonHostVolumes] != 3 {
		t.Fatalf("failure metric = %+v, want 3 nodes filtered by %q", m, reasonHostVolumes)
	}
}

// A system job runs only on the nodes with the volume, and a node that
// loses it (re-registered without it) has its allocation stopped.
func TestHostVolumeSystemJob(t *testing.T) {
	ns := nodes(3, func(i int, n *cluster.Node) {
		if i != 1 {
			n.HostVolumes = map[string]cluster.HostVolume{"data": {Path: "/srv/data"}}
		}
	})
	st := newMemState(ns...)
	spec := func() *jobspec.Job {
		return system(jobspec.JobTypeSystem, withVolumes(&jobspec.VolumeRequest{Name: "d", Type: "host", Source: "data"}))
	}
	p := run(t, st, spec(), 1)
	if got := perNode(p); len(got) != 2 || got["n00"] != 1 || got["n02"] != 1 {
		t.Fatalf("per node %v, want n00 and n02", got)
	}
	// A node without the volume is not a failure of a system job.
	if len(p.FailedTGAllocs) != 0 {
		t.Errorf("failed %+v", p.FailedTGAllocs)
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)
	ns[2].HostVolumes = nil
	p = run(t, st, spec(), 2)
	if s := stopped(p); len(s) != 1 || s[0].NodeID != "n02" {
		t.Fatalf("stopped %v, want the allocation on n02", names(s))
	}
}
