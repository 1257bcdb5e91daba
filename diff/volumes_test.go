package diff_test

import (
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

// Host volume changes replace allocations, as in Nomad: the volume is
// bound when the task starts.
func TestVolumeChangesAreDestructive(t *testing.T) {
	vols := func(ro bool, source string) map[string]*jobspec.VolumeRequest {
		return map[string]*jobspec.VolumeRequest{"data": {Name: "data", Type: "host", Source: source, ReadOnly: ro}}
	}
	mount := func(dest string, ro bool) []jobspec.VolumeMount {
		return []jobspec.VolumeMount{{Volume: "data", Destination: dest, ReadOnly: ro}}
	}
	withVolume := func(j *jobspec.Job) {
		j.Groups[0].Volumes = vols(false, "data")
		task(j).VolumeMounts = mount("/data", false)
	}
	tests := []struct {
		name    string
		prepare func(*jobspec.Job)
		mutate  func(*jobspec.Job)
		reason  string
	}{
		{"volume added", nil, func(j *jobspec.Job) { j.Groups[0].Volumes = vols(false, "data") }, `group "web": volume[data] added`},
		{"volume source", withVolume, func(j *jobspec.Job) { j.Groups[0].Volumes = vols(false, "other") }, `group "web": volume[data].source changed`},
		{"volume read_only", withVolume, func(j *jobspec.Job) { j.Groups[0].Volumes = vols(true, "data") }, `group "web": volume[data].read_only changed`},
		{"volume removed", withVolume, func(j *jobspec.Job) { j.Groups[0].Volumes = nil }, `group "web": volume[data] removed`},
		{"mount added", func(j *jobspec.Job) { j.Groups[0].Volumes = vols(false, "data") }, func(j *jobspec.Job) { task(j).VolumeMounts = mount("/data", false) }, `task "server": volume_mount[/data] added`},
		{"mount read_only", withVolume, func(j *jobspec.Job) { task(j).VolumeMounts = mount("/data", true) }, `task "server": volume_mount[/data].read_only changed`},
		{"mount moved", withVolume, func(j *jobspec.Job) { task(j).VolumeMounts = mount("/srv", false) }, `task "server": volume_mount[/srv] added`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := update(t, tt.prepare, tt.mutate)
			g := group(d, "web")
			if g == nil {
				t.Fatalf("no diff of group web: %+v", d)
			}
			if want := (diff.Updates{Destructive: 2}); g.Updates != want {
				t.Errorf("updates = %+v, want %+v", g.Updates, want)
			}
			if got := reasons(g); !contains(got, tt.reason) {
				t.Errorf("reasons = %q, want one %q", got, tt.reason)
			}
		})
	}
	// The same volumes again are no change.
	old, new := difftest.Job("web"), difftest.Job("web")
	withVolume(old)
	withVolume(new)
	if p := diff.Compute(jobs(old), jobs(new), diff.Options{}); len(p.Jobs) != 0 {
		t.Errorf("the same volumes again: %d jobs changed", len(p.Jobs))
	}
}
