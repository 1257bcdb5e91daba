//go:build !linux

package qemu

type kvmSupport struct {
	usable bool
	reason string
}

func probeKVM(string) kvmSupport { return kvmSupport{reason: "KVM needs Linux"} }
