//go:build linux

package qemu

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kvmGetAPIVersion is KVM_GET_API_VERSION, _IO(0xAE, 0x00); every KVM
// answers 12.
const kvmGetAPIVersion = 0xAE00

type kvmSupport struct {
	usable bool
	reason string
}

// probeKVM reports whether QEMU can use KVM for an ordinary guest. The
// device opening is not enough: a KVM without hardware virtualization
// behind it (kvm_pvm in a nested sandbox, say) hands out VMs that run
// only guests built for it, and an ordinary kernel hangs silently. So it
// also wants the hardware module (kvm_intel, kvm_amd) or the CPU flag.
func probeKVM(dev string) kvmSupport {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return kvmSupport{reason: fmt.Sprintf("cannot open %s: %v", dev, err)}
	}
	defer f.Close()
	v, err := unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
	if err != nil {
		return kvmSupport{reason: fmt.Sprintf("%s is not a KVM device: %v", dev, err)}
	}
	if v != 12 {
		return kvmSupport{reason: fmt.Sprintf("%s speaks KVM API %d, not 12", dev, v)}
	}
	for _, m := range []string{"kvm_intel", "kvm_amd"} {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			return kvmSupport{usable: true}
		}
	}
	if cpuHasVirt() {
		return kvmSupport{usable: true}
	}
	reason := fmt.Sprintf("%s exists but the CPU offers no hardware virtualization (no vmx/svm flag, no kvm_intel/kvm_amd module)", dev)
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		reason += "; it is kvm_pvm, which runs only PVM guest kernels"
	}
	return kvmSupport{reason: reason}
}

func cpuHasVirt() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				if f == "vmx" || f == "svm" {
					return true
				}
			}
			return false
		}
	}
	return false
}
