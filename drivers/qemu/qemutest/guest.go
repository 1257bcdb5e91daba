// Package qemutest builds the tiny guest that tests of the qemu driver
// boot: Debian's kernel (package linux-image-amd64) and an initramfs made
// from Debian's busybox-static. It is test-only code shared by the
// driver's tests and the end-to-end tests of the drover binary.
package qemutest

import (
	"bufio"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The test guest: Debian's kernel (package linux-image-amd64) and an
// initramfs built here from Debian's busybox-static, whose init loads the
// few modules it needs, serves HTTP on port 80 and powers off when ACPI's
// power button is pressed (QMP system_powerdown).

// guestModules are loaded in this order, with their dependencies first:
// the virtio NIC that QEMU's user network is attached to, and the ACPI
// button and evdev, through which busybox acpid sees the power button.
var guestModules = []string{"virtio_pci", "virtio_net", "button", "evdev"}

const guestInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/lib/modules/$m" || echo "guest: insmod $m failed"; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "hello from the guest" > /www/index.html
httpd -p 80 -h /www
acpid -c /etc/acpi -l /dev/console
echo "guest: ready"
while true; do sleep 3600; done
`

const guestPowerButton = `#!/bin/sh
echo "guest: power button pressed, powering off" > /dev/console
poweroff -f
`

// Why a test that needs a missing component skips. `make deps` installs
// all three as root with apt.
const (
	SkipNoQEMU    = "SKIP: needs QEMU (qemu-system-x86_64, package qemu-system-x86); run 'make deps' as root to install it"
	SkipNoBusybox = "SKIP: needs busybox-static (a static /bin/busybox) to build the test image; run 'make deps' as root to install it"
	SkipNoKernel  = "SKIP: needs a kernel image (/boot/vmlinuz-* with its /lib/modules, package linux-image-amd64) to boot the test guest; run 'make deps' as root to install it"
)

// Guest is a kernel and an initramfs to boot with -kernel and -initrd.
type Guest struct {
	Kernel string
	Initrd string
}

// BuildGuest finds the kernel and busybox and writes the initramfs into
// dir. A missing component skips the test, loudly.
func BuildGuest(t testing.TB, dir string) Guest {
	t.Helper()
	kernel, modDir := findKernel(t)
	bb := "/bin/busybox"
	if !isStatic(bb) {
		t.Logf("%s is missing or not statically linked", bb)
		t.Skip(SkipNoBusybox)
	}
	order, err := moduleOrder(modDir, guestModules)
	if err != nil {
		// A kernel built or packaged otherwise than Debian's (compressed
		// or built-in modules) cannot boot this guest.
		t.Logf("kernel %s: %v", kernel, err)
		t.Skip(SkipNoKernel)
	}
	initrd := filepath.Join(dir, "initrd.gz")
	f, err := os.Create(initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	w := &newcWriter{w: gz}
	for _, d := range []string{"bin", "dev", "proc", "sys", "www", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules"} {
		w.dir(d)
	}
	w.fileFrom(t, "bin/busybox", bb, 0o755)
	w.file("init", []byte(guestInit), 0o755)
	w.file("etc/acpi/PWRF/00000080", []byte(guestPowerButton), 0o755)
	var names []string
	for _, rel := range order {
		name := filepath.Base(rel)
		w.fileFrom(t, "lib/modules/"+name, filepath.Join(modDir, rel), 0o644)
		names = append(names, name)
	}
	w.file("modules.order", []byte(strings.Join(names, "\n")+"\n"), 0o644)
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return Guest{Kernel: kernel, Initrd: initrd}
}

// findKernel is a /boot/vmlinuz-* whose modules are installed.
func findKernel(t testing.TB) (kernel, modDir string) {
	t.Helper()
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	slices.Sort(ks)
	for _, k := range slices.Backward(ks) {
		ver := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		md := filepath.Join("/lib/modules", ver)
		if _, err := os.Stat(filepath.Join(md, "modules.dep")); err == nil {
			if f, err := os.Open(k); err == nil {
				f.Close()
				return k, md
			}
		}
	}
	t.Log("no readable /boot/vmlinuz-* with a /lib/modules/<version>/modules.dep")
	t.Skip(SkipNoKernel)
	return "", ""
}

func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
}

// moduleOrder resolves modules and their dependencies from modules.dep
// into a load order. A module's line lists its dependencies, all of them,
// in an order that loads right from the last one back.
func moduleOrder(modDir string, mods []string) ([]string, error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{} // module name → [path, deps...]
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		path, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[modName(path)] = append([]string{path}, strings.Fields(rest)...)
	}
	var order []string
	for _, m := range mods {
		line, ok := deps[m]
		if !ok {
			return nil, fmt.Errorf("module %s is not in %s/modules.dep (built in?)", m, modDir)
		}
		for _, p := range slices.Backward(line[1:]) {
			if !slices.Contains(order, p) {
				order = append(order, p)
			}
		}
		if !slices.Contains(order, line[0]) {
			order = append(order, line[0])
		}
	}
	for _, p := range order {
		if strings.HasSuffix(p, ".xz") || strings.HasSuffix(p, ".zst") || strings.HasSuffix(p, ".gz") {
			return nil, fmt.Errorf("module %s is compressed; busybox insmod needs plain .ko", p)
		}
	}
	return order, nil
}

func modName(path string) string {
	n := filepath.Base(path)
	n, _, _ = strings.Cut(n, ".ko")
	return strings.ReplaceAll(n, "-", "_")
}

// newcWriter writes the "newc" cpio format the kernel unpacks an
// initramfs from: a 110-byte ASCII header, the name, the data, each
// padded to 4 bytes.
type newcWriter struct {
	w   io.Writer
	ino int
	err error
}

func (c *newcWriter) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	_, c.err = c.w.Write(buf)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (c *newcWriter) dir(name string) { c.entry(name, 0o040755, nil) }

func (c *newcWriter) file(name string, data []byte, perm uint32) {
	c.entry(name, 0o100000|perm, data)
}

func (c *newcWriter) fileFrom(t testing.TB, name, src string, perm uint32) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	c.file(name, data, perm)
}

func (c *newcWriter) close() error {
	c.entry("TRAILER!!!", 0, nil)
	return c.err
}
