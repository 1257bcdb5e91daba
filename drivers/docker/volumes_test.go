package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

func TestHostVolumeMounts(t *testing.T) {
	tests := []struct {
		name    string
		mount   drivers.Mount
		want    string // fmt of the mount.Mount
		wantErr string
	}{
		{"read-write", drivers.Mount{Volume: "d", HostPath: "/srv/data/", TaskPath: "/data"},
			fmt.Sprint(mount.Mount{Type: mount.TypeBind, Source: "/srv/data", Target: "/data"}), ""},
		{"read-only", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/data", ReadOnly: true},
			fmt.Sprint(mount.Mount{Type: mount.TypeBind, Source: "/srv/data", Target: "/data", ReadOnly: true}), ""},
		{"dot-dot stays inside", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "../../etc"},
			fmt.Sprint(mount.Mount{Type: mount.TypeBind, Source: "/srv/data", Target: "/etc"}), ""},
		{"root", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/.."}, "", "container's root"},
		{"relative host path", drivers.Mount{Volume: "d", HostPath: "data", TaskPath: "/data"}, "", "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := hostVolumeMounts(&drivers.TaskConfig{Mounts: []drivers.Mount{tt.mount}})
			if tt.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) {
					t.Fatalf("errs = %v, want one containing %q", errs, tt.wantErr)
				}
				return
			}
			if len(errs) > 0 || len(got) != 1 || fmt.Sprint(got[0]) != tt.want {
				t.Errorf("got %v, %v; want %s", got, errs, tt.want)
			}
		})
	}
}

// Host volumes reach the daemon as bind mounts, read-only where asked,
// even on a node that does not allow docker volumes (they are the
// operator's host_volume, not the job's choice of host path).
func TestHostVolumeBindMount(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	if d.cfg.AllowVolumes {
		t.Fatal("the test wants a node without volumes.enabled")
	}
	rw, ro := t.TempDir(), t.TempDir()
	cfg, _ := httpTask(t, "hv1")
	cfg.Mounts = []drivers.Mount{
		{Volume: "rw", HostPath: rw, TaskPath: "/data"},
		{Volume: "ro", HostPath: ro, TaskPath: "/ro", ReadOnly: true},
	}
	h := start(t, d, cfg)
	info, err := d.api.ContainerInspect(t.Context(), state(t, h).ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range info.Container.Mounts {
		got[m.Destination] = fmt.Sprintf("%s %s rw=%v", m.Type, m.Source, m.RW)
	}
	for dest, want := range map[string]string{"/data": "bind " + rw + " rw=true", "/ro": "bind " + ro + " rw=false"} {
		if got[dest] != want {
			t.Errorf("mount at %s = %q, want %q (all: %v)", dest, got[dest], want, got)
		}
	}
	// A host path that vanished fails the start with the daemon's words.
	cfg2, _ := httpTask(t, "hv2")
	gone := filepath.Join(t.TempDir(), "gone")
	cfg2.Mounts = []drivers.Mount{{Volume: "gone", HostPath: gone, TaskPath: "/data"}}
	if h, err := d.Start(testCtx(t), cfg2); err == nil {
		_ = d.Destroy(testCtx(t), h)
		if _, statErr := os.Stat(gone); statErr == nil {
			t.Errorf("the daemon created the missing host volume path %s", gone)
		}
		t.Error("Start with a missing host volume path succeeded")
	}
}
