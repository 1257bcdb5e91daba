package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// buildSpec is pure: no QEMU needed.
func TestBuildSpec(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a,b.img") // a comma QEMU must see doubled
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &drivers.TaskConfig{
		ID: "a1/vm", TaskName: "vm", Dir: dir,
		Resources: jobspec.Resources{MemoryMB: 512},
		Ports:     []drivers.Port{{Label: "ssh", HostIP: "127.0.0.1", HostPort: 2222, ContainerPort: 22}, {Label: "web", HostPort: 8080}},
		Config:    map[string]any{"image_path": "a,b.img", "drive_interface": "virtio", "args": []any{"-smp", "2"}},
	}
	argv := func(kvm kvmSupport, mod func(map[string]any)) string {
		t.Helper()
		c := *cfg
		c.Config = map[string]any{}
		for k, v := range cfg.Config {
			c.Config[k] = v
		}
		if mod != nil {
			mod(c.Config)
		}
		spec, err := buildSpec(&c, policy{argsAllowlist: []string{"smp"}}, "/usr/bin/qemu-system-x86_64", kvm, "/run/q.sock")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(spec.Argv, " ")
	}
	got := argv(kvmSupport{}, nil)
	for _, want := range []string{
		"/usr/bin/qemu-system-x86_64 -machine type=pc,accel=tcg -name vm -m 512M",
		"-drive file=" + dir + "/a,,b.img,if=virtio",
		"-qmp unix:/run/q.sock,server=on,wait=off",
		"-netdev user,id=user.0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:127.0.0.1:2222-:22,hostfwd=tcp::8080-:8080,hostfwd=udp::8080-:8080",
		"-device virtio-net,netdev=user.0 -smp 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks %q:\n%s", want, got)
		}
	}
	if got := argv(kvmSupport{usable: true}, nil); !strings.Contains(got, "accel=kvm") || !strings.Contains(got, "-cpu host") {
		t.Errorf("with usable KVM and no accelerator, want kvm:\n%s", got)
	}
	if got := argv(kvmSupport{usable: true}, func(c map[string]any) { c["accelerator"] = "tcg" }); !strings.Contains(got, "accel=tcg") {
		t.Errorf("accelerator = tcg not honoured:\n%s", got)
	}
	got = argv(kvmSupport{}, func(c map[string]any) { c["port_map"] = []any{map[string]any{"web": 80.0}} })
	if !strings.Contains(got, "user,id=user.0,hostfwd=tcp::8080-:80,hostfwd=udp::8080-:80 ") {
		t.Errorf("port_map must forward only its labels, to its guest ports:\n%s", got)
	}
	if slices.Contains(strings.Fields(got), "-cpu") {
		t.Errorf("TCG with -cpu host:\n%s", got)
	}
}

func TestParseVersion(t *testing.T) {
	if got := parseVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright"); got != "7.2.22" {
		t.Errorf("parseVersion = %q", got)
	}
	if got := parseVersion("nonsense"); got != "" {
		t.Errorf("parseVersion(nonsense) = %q", got)
	}
}
