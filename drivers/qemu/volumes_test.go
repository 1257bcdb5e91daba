package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
)

func TestVirtfsArgs(t *testing.T) {
	tests := []struct {
		name    string
		mounts  []drivers.Mount
		want    string
		problem string
	}{
		{"none", nil, "", ""},
		{"read-write", []drivers.Mount{{Volume: "data", HostPath: "/srv/data/", TaskPath: "/data"}},
			"-virtfs local,path=/srv/data,mount_tag=data,security_model=none", ""},
		{"read-only, comma in the path", []drivers.Mount{{Volume: "cfg", HostPath: "/srv/a,b", TaskPath: "/etc/app", ReadOnly: true}},
			"-virtfs local,path=/srv/a,,b,mount_tag=cfg,security_model=none,readonly=on", ""},
		{"two volumes", []drivers.Mount{{Volume: "a", HostPath: "/a", TaskPath: "/a"}, {Volume: "b", HostPath: "/b", TaskPath: "/b"}},
			"-virtfs local,path=/a,mount_tag=a,security_model=none -virtfs local,path=/b,mount_tag=b,security_model=none", ""},
		{"mounted twice", []drivers.Mount{{Volume: "a", HostPath: "/a", TaskPath: "/a"}, {Volume: "a", HostPath: "/a", TaskPath: "/b"}}, "", "mounted twice"},
		{"tag too long", []drivers.Mount{{Volume: strings.Repeat("v", 32), HostPath: "/a", TaskPath: "/a"}}, "", "1-31 characters"},
		{"option injection in the tag", []drivers.Mount{{Volume: "a,path=/", HostPath: "/a", TaskPath: "/a"}}, "", "without ','"},
		{"relative host path", []drivers.Mount{{Volume: "a", HostPath: "a", TaskPath: "/a"}}, "", "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, problems := virtfsArgs(tt.mounts)
			if tt.problem != "" {
				if len(problems) != 1 || !strings.Contains(problems[0], tt.problem) {
					t.Fatalf("problems = %q, want one containing %q", problems, tt.problem)
				}
				return
			}
			if len(problems) > 0 || strings.Join(args, " ") != tt.want {
				t.Errorf("args = %q, problems %q; want %q", strings.Join(args, " "), problems, tt.want)
			}
		})
	}
}

// The shares come before the task's own args, and a bad mount fails the
// spec like a bad config.
func TestBuildSpecVirtfs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vm.img"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &drivers.TaskConfig{
		ID: "a1/vm", TaskName: "vm", Dir: dir,
		Config: map[string]any{"image_path": "vm.img", "args": []any{"-smp", "2"}},
		Mounts: []drivers.Mount{{Volume: "data", HostPath: "/srv/data", TaskPath: "/data", ReadOnly: true}},
	}
	spec, err := buildSpec(cfg, policy{argsAllowlist: []string{"smp"}}, "qemu-system-x86_64", kvmSupport{}, "/run/q.sock")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(spec.Argv, " "); !strings.Contains(got, "-virtfs local,path=/srv/data,mount_tag=data,security_model=none,readonly=on -smp 2") {
		t.Errorf("argv:\n%s", got)
	}
	cfg.Mounts = append(cfg.Mounts, cfg.Mounts[0])
	if _, err := buildSpec(cfg, policy{argsAllowlist: []string{"smp"}}, "qemu-system-x86_64", kvmSupport{}, "/run/q.sock"); err == nil || !strings.Contains(err.Error(), "mounted twice") {
		t.Errorf("buildSpec with a volume mounted twice = %v", err)
	}
}
