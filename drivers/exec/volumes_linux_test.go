//go:build linux

package exec

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/droverhq/drover/drivers"
)

// writableDir is a host directory the task's user (nobody) can write.
func writableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A host volume is bound at its destination: written through a
// read-write mount, readable but not writable through a read-only one.
func TestIsolatedHostVolume(t *testing.T) {
	d := isolatedDriver(t)
	rw, ro := writableDir(t), writableDir(t)
	if err := os.WriteFile(filepath.Join(ro, "in"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := isoTask(t, `
echo hello > /data/out; echo w_rw=$?
echo in=$(cat /ro/in)
echo x > /ro/x 2>/dev/null; echo w_ro=$?
echo nested=$(cat /alloc/shared/in)
`)
	cfg.Mounts = []drivers.Mount{
		{Volume: "rw", HostPath: rw, TaskPath: "/data"},
		{Volume: "ro", HostPath: ro, TaskPath: "/ro", ReadOnly: true},
		{Volume: "ro", HostPath: ro, TaskPath: "/alloc/shared", ReadOnly: true},
	}
	res := wait(t, d, start(t, d, cfg))
	out := taskOutput(t, cfg)
	if !res.Successful() {
		t.Fatalf("exit = %+v; output:\n%s", res, out)
	}
	got := outputLines(out)
	if got["w_rw"] != "0" || got["in"] != "from-host" || got["nested"] != "from-host" {
		t.Errorf("output:\n%s", out)
	}
	if got["w_ro"] == "0" || got["w_ro"] == "" {
		t.Errorf("w_ro = %q: a read-only volume was writable", got["w_ro"])
	}
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "hello\n" {
		t.Errorf("host volume's out = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "x")); err == nil {
		t.Error("the task wrote into a read-only host volume")
	}
	// The mount point in alloc/ is an empty directory on the host.
	if _, err := os.Stat(filepath.Join(cfg.AllocDir, "shared", "in")); err == nil {
		t.Error("the volume was mounted on the host's alloc directory")
	}
}

// The attacks, from the job's side: a destination climbing out with
// "../..", and a symbolic link a task planted in the shared alloc/
// directory (an earlier run, or another task of the group) under the
// destination. Neither may make the agent create or mount anything
// outside the task's root.
func TestIsolatedHostVolumeDestinationEscape(t *testing.T) {
	d := isolatedDriver(t)
	vol, victim := writableDir(t), t.TempDir()

	// "../../etc" is the task's /etc: the task's writes land in the
	// volume, and the host's /etc is untouched.
	cfg := isoTask(t, `echo owned > /etc/drover-escape-test; echo w=$?`)
	cfg.Mounts = []drivers.Mount{{Volume: "v", HostPath: vol, TaskPath: "../../etc"}}
	res := wait(t, d, start(t, d, cfg))
	if out := taskOutput(t, cfg); !res.Successful() || outputLines(out)["w"] != "0" {
		t.Fatalf("exit %+v, output:\n%s", res, out)
	}
	if _, err := os.Stat("/etc/drover-escape-test"); err == nil {
		os.Remove("/etc/drover-escape-test")
		t.Fatal("a volume destination of ../../etc wrote into the host's /etc")
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "drover-escape-test")); string(b) != "owned\n" {
		t.Errorf("the write did not land in the volume: %q", b)
	}

	// A link in alloc/ to a host directory, absolute and relative.
	for i, link := range []string{victim, "../../../../../../../../" + victim} {
		cfg := isoTask(t, `true`)
		cfg.ID = fmt.Sprintf("escape%d/web", i)
		if err := os.Symlink(link, filepath.Join(cfg.AllocDir, "escape")); err != nil {
			t.Fatal(err)
		}
		cfg.Mounts = []drivers.Mount{{Volume: "v", HostPath: vol, TaskPath: "/alloc/escape/planted"}}
		// Resolved inside the root (the link's target read as a path of
		// the task's), the destination is harmless: the task runs.
		res := wait(t, d, start(t, d, cfg))
		if out := taskOutput(t, cfg); !res.Successful() {
			t.Errorf("link %s: exit %+v, output:\n%s", link, res, out)
		}
		if _, err := os.Lstat(filepath.Join(victim, "planted")); err == nil {
			t.Fatalf("link %s: the agent created the mount point outside the task's root, in %s", link, victim)
		}
		if mi := readFile(t, "/proc/self/mountinfo"); containsLine(mi, victim) {
			t.Fatalf("link %s: a mount on %s shows in the host's mount table", link, victim)
		}
	}
}

func containsLine(s, sub string) bool { return grepLines(s, sub) != "" }
