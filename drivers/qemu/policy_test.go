package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

func TestCheckArgs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		allow []string
		args  []string
		want  []string // substrings of the problems, in order; none: accepted
	}{
		{"no args", nil, nil, nil},
		{"empty allowlist refuses any flag", nil, []string{"-smp", "2"},
			[]string{`args[0] "-smp": this node allows no QEMU args`}},
		{"allowed flag and its value", []string{"-smp", "-append"}, []string{"-smp", "2", "-append", "-v console=ttyS0"}, nil},
		{"dash spellings are one flag", []string{"smp"}, []string{"--smp", "2"}, nil},
		{"drive not listed", []string{"-smp"}, []string{"-smp", "2", "-drive", "file=/dev/sda"},
			[]string{`args[2] "-drive": not in this node's args_allowlist ["-smp"]`}},
		{"a positional disk", []string{"-smp"}, []string{"/dev/sda"},
			[]string{`args[0] "/dev/sda" is not a flag: QEMU would attach it as a disk`}},
		{"a positional disk after a flag without value", []string{"-snapshot"}, []string{"-snapshot", "/dev/sda"},
			[]string{`args[1] "/dev/sda" is not a flag`}},
		{"a value is not mistaken for a flag", []string{"-append"}, []string{"-append", "-drive"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := policy{argsAllowlist: tc.allow}.checkArgs(tc.args)
			if len(got) != len(tc.want) {
				t.Fatalf("problems = %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCheckImage(t *testing.T) {
	alloc := t.TempDir()
	images := t.TempDir()
	outside := t.TempDir()
	write := func(p string) string {
		t.Helper()
		if err := os.WriteFile(p, []byte("disk"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, p string) string {
		t.Helper()
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inAlloc := write(filepath.Join(alloc, "disk.img"))
	inImages := write(filepath.Join(images, "base.qcow2"))
	secret := write(filepath.Join(outside, "secret"))
	pol := policy{imagePaths: []string{images}}
	for _, tc := range []struct {
		name, image, want, wantErr string
	}{
		{"in the allocation", inAlloc, inAlloc, ""},
		{"in image_paths", inImages, inImages, ""},
		{"a link into image_paths", link(inImages, filepath.Join(alloc, "base.qcow2")), inImages, ""},
		{"outside", secret, "", "is outside the allocation directory or the node's image_paths"},
		{"a link out of the allocation", link(secret, filepath.Join(alloc, "evil.img")), "", "resolves to " + secret + ", which is outside"},
		{"a linked directory out of the allocation", filepath.Join(link(outside, filepath.Join(alloc, "data")), "secret"), "", "which is outside"},
		{"a host device", "/dev/null", "", "is outside"},
		{"dot-dot", filepath.Join(alloc, "..", filepath.Base(outside), "secret"), "", "is outside"},
		{"a directory", alloc, "", "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pol.checkImage(tc.image, alloc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("checkImage(%s) = %q, %v; want an error containing %q", tc.image, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("checkImage(%s) = %q, %v; want %q", tc.image, got, err, tc.want)
			}
		})
	}
	// Without image_paths only the allocation is allowed, and the error
	// says how to allow more.
	if _, err := (policy{}).checkImage(inImages, alloc); err == nil || !strings.Contains(err.Error(), "image_paths = [...]") {
		t.Errorf("image outside the allocation with no image_paths: %v", err)
	}
}

// The attack from the issue through the real driver: a task's image_path
// is a symlink in its own directory to a host file, and args try to
// attach a host disk. Start refuses both before QEMU runs, with a config
// error that names them (the agent shows it as the task's event).
func TestStartRefusesHostDisks(t *testing.T) {
	requireQEMU(t)
	d, _ := newDriver(t)
	cfg, _ := vmTask(t, "evil")
	if err := os.Symlink("/etc/shadow", filepath.Join(cfg.Dir, "shadow.img")); err != nil {
		t.Fatal(err)
	}
	cfg.Config = map[string]any{"image_path": "shadow.img", "args": []any{"-drive", "file=/dev/sda,if=virtio"}}
	h, err := d.Start(testCtx(t, 30*time.Second), cfg)
	if err == nil {
		_ = d.Destroy(t.Context(), h)
		t.Fatal("Start accepted a host file as the disk")
	}
	if !errors.Is(err, drivers.ErrInvalidConfig) {
		t.Errorf("err = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{`image_path "shadow.img": resolves to /etc/shadow, which is outside the allocation directory`, `args[0] "-drive": this node allows no QEMU args`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
}
