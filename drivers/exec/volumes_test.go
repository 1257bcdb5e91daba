package exec

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
)

func TestVolumeChrootMounts(t *testing.T) {
	tests := []struct {
		name    string
		mount   drivers.Mount
		want    chrootMount
		wantErr string
	}{
		{"read-write", drivers.Mount{Volume: "d", HostPath: "/srv/data/", TaskPath: "/data"},
			chrootMount{Source: "/srv/data", Target: "/data", Writable: true, Volume: true}, ""},
		{"read-only", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/data", ReadOnly: true},
			chrootMount{Source: "/srv/data", Target: "/data", Volume: true}, ""},
		{"relative destination", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "data/x"},
			chrootMount{Source: "/srv/data", Target: "/data/x", Writable: true, Volume: true}, ""},
		// Climbing out is cleaned onto the root: the mount stays inside.
		{"dot-dot", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "../../etc"},
			chrootMount{Source: "/srv/data", Target: "/etc", Writable: true, Volume: true}, ""},
		{"inside alloc", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/alloc/data"},
			chrootMount{Source: "/srv/data", Target: "/alloc/data", Writable: true, Volume: true}, ""},
		{"the root", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/"}, chrootMount{}, "would hide"},
		{"the root by dot-dot", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "../.."}, chrootMount{}, "would hide"},
		{"proc", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/proc/sys"}, chrootMount{}, "would hide"},
		{"dev", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/dev"}, chrootMount{}, "would hide"},
		{"secrets", drivers.Mount{Volume: "d", HostPath: "/srv/data", TaskPath: "/secrets/"}, chrootMount{}, "would hide"},
		{"relative host path", drivers.Mount{Volume: "d", HostPath: "srv", TaskPath: "/data"}, chrootMount{}, "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := volumeChrootMounts([]drivers.Mount{tt.mount})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A volume inside a task directory is mounted after it: the plan stays
// sorted by target.
func TestWithVolumesOrder(t *testing.T) {
	plan := chrootPlan(map[string]string{"/usr": "/usr"}, taskDirs{local: "/a/local", secrets: "/a/secrets", tmp: "/a/tmp", alloc: "/a/alloc"})
	got, err := withVolumes(plan, []drivers.Mount{{Volume: "d", HostPath: "/srv/d", TaskPath: "/alloc/data"}, {Volume: "e", HostPath: "/srv/e", TaskPath: "/data"}})
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, m := range got {
		targets = append(targets, m.Target)
	}
	if want := "/alloc /alloc/data /data /local /secrets /tmp /usr"; strings.Join(targets, " ") != want {
		t.Errorf("targets %q, want %q", strings.Join(targets, " "), want)
	}
}

func TestVolumeMountsNeedIsolation(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "true")
	cfg.Mounts = []drivers.Mount{{Volume: "d", HostPath: t.TempDir(), TaskPath: "/data"}}
	if _, err := d.Start(t.Context(), cfg); !errors.Is(err, errMountsNeedIsolation) || !strings.Contains(err.Error(), `driver = "exec"`) {
		t.Fatalf("Start = %v, want %v saying what to use", err, errMountsNeedIsolation)
	}
}
