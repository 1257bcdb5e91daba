package allocrunner

import (
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

func TestVolumeMounts(t *testing.T) {
	node := &cluster.Node{HostVolumes: map[string]cluster.HostVolume{
		"data":    {Path: "/srv/data"},
		"ro":      {Path: "/srv/ro", ReadOnly: true},
		"db[2]":   {Path: "/srv/db2"},
		"scratch": {Path: "/srv/scratch"},
	}}
	group := &jobspec.Group{Name: "g", Volumes: map[string]*jobspec.VolumeRequest{
		"d":       {Name: "d", Type: "host", Source: "data"},
		"d-ro":    {Name: "d-ro", Type: "host", Source: "data", ReadOnly: true},
		"host-ro": {Name: "host-ro", Type: "host", Source: "ro", ReadOnly: true},
		"db":      {Name: "db", Type: "host", Source: "db", PerAlloc: true},
		"gone":    {Name: "gone", Type: "host", Source: "elsewhere"},
		"csi":     {Name: "csi", Type: "csi", Source: "ebs"},
	}}
	tests := []struct {
		name    string
		mounts  []jobspec.VolumeMount
		want    []drivers.Mount
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"read-write", []jobspec.VolumeMount{{Volume: "d", Destination: "/data"}},
			[]drivers.Mount{{Volume: "d", HostPath: "/srv/data", TaskPath: "/data"}}, ""},
		{"read-only mount", []jobspec.VolumeMount{{Volume: "d", Destination: "/data", ReadOnly: true}},
			[]drivers.Mount{{Volume: "d", HostPath: "/srv/data", TaskPath: "/data", ReadOnly: true}}, ""},
		{"read-only request", []jobspec.VolumeMount{{Volume: "d-ro", Destination: "/data"}},
			[]drivers.Mount{{Volume: "d-ro", HostPath: "/srv/data", TaskPath: "/data", ReadOnly: true}}, ""},
		{"read-only host volume", []jobspec.VolumeMount{{Volume: "host-ro", Destination: "/ro"}},
			[]drivers.Mount{{Volume: "host-ro", HostPath: "/srv/ro", TaskPath: "/ro", ReadOnly: true}}, ""},
		{"per_alloc", []jobspec.VolumeMount{{Volume: "db", Destination: "/var/lib/db"}},
			[]drivers.Mount{{Volume: "db", HostPath: "/srv/db2", TaskPath: "/var/lib/db"}}, ""},
		{"relative destination", []jobspec.VolumeMount{{Volume: "d", Destination: "data"}},
			[]drivers.Mount{{Volume: "d", HostPath: "/srv/data", TaskPath: "/data"}}, ""},
		// The attack: a destination climbing out stays inside the task.
		{"dot-dot destination", []jobspec.VolumeMount{{Volume: "d", Destination: "../../etc"}},
			[]drivers.Mount{{Volume: "d", HostPath: "/srv/data", TaskPath: "/etc"}}, ""},
		{"two mounts", []jobspec.VolumeMount{{Volume: "d", Destination: "/a"}, {Volume: "d-ro", Destination: "/b/"}},
			[]drivers.Mount{{Volume: "d", HostPath: "/srv/data", TaskPath: "/a"}, {Volume: "d-ro", HostPath: "/srv/data", TaskPath: "/b", ReadOnly: true}}, ""},
		{"undefined volume", []jobspec.VolumeMount{{Volume: "nosuch", Destination: "/x"}}, nil, `which group "g" does not define`},
		{"host volume gone from the node", []jobspec.VolumeMount{{Volume: "gone", Destination: "/x"}}, nil, `host volume "elsewhere"`},
		{"not a host volume", []jobspec.VolumeMount{{Volume: "csi", Destination: "/x"}}, nil, `host volumes only`},
		{"no destination", []jobspec.VolumeMount{{Volume: "d"}}, nil, "no destination"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := &jobspec.Task{Name: "t", VolumeMounts: tt.mounts}
			got, err := volumeMounts(group, task, node, "job.g[2]")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
