package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestHostVolumeFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    map[string]cluster.HostVolume
		wantErr string
	}{
		{[]string{"data=/srv/data"}, map[string]cluster.HostVolume{"data": {Path: "/srv/data"}}, ""},
		{[]string{"data=/srv/data:ro", "logs=/var/log:rw"}, map[string]cluster.HostVolume{
			"data": {Path: "/srv/data", ReadOnly: true}, "logs": {Path: "/var/log"}}, ""},
		{[]string{"odd=/srv/a:ro:rw"}, map[string]cluster.HostVolume{"odd": {Path: "/srv/a:ro"}}, ""},
		{[]string{"db[0]=/srv/db0"}, map[string]cluster.HostVolume{"db[0]": {Path: "/srv/db0"}}, ""},
		{[]string{"/srv/data"}, nil, "want name=/host/path"},
		{[]string{"data="}, nil, "want name=/host/path"},
		{[]string{"a=/x", "a=/y"}, nil, "given twice"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := hostVolumeFlag{}
			var err error
			for _, a := range tt.args {
				if err = f.Set(a); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(map[string]cluster.HostVolume(f), tt.want) {
				t.Fatalf("got %v, %v; want %v", f, err, tt.want)
			}
		})
	}
	// Flags override a configuration's volume of the same name.
	vols := map[string]cluster.HostVolume{"data": {Path: "/old"}, "keep": {Path: "/keep"}}
	hostVolumeFlag{"data": {Path: "/new", ReadOnly: true}}.mergeInto(&vols)
	if want := (map[string]cluster.HostVolume{"data": {Path: "/new", ReadOnly: true}, "keep": {Path: "/keep"}}); !reflect.DeepEqual(vols, want) {
		t.Errorf("merged %v, want %v", vols, want)
	}
}
