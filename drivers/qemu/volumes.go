package qemu

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/droverhq/drover/drivers"
)

// Host volumes in a VM: each volume_mount becomes a virtio-9p share,
//
//	-virtfs local,path=<host path>,mount_tag=<volume name>,security_model=none[,readonly=on]
//
// and the guest mounts it itself, by its tag, wherever it likes (the
// mount's destination is only a convention the guest may follow):
//
//	mount -t 9p -o trans=virtio,version=9p2000.L <volume name> /data
//
// The guest needs the 9p and 9pnet_virtio modules. With security_model
// none, files the guest creates belong to the user QEMU runs as (the
// agent's), and the guest's chown is ignored.

// maxMountTag is the longest 9p mount tag QEMU accepts (MAX_TAG_LEN - 1).
const maxMountTag = 31

// virtfsArgs turns the task's mounts into -virtfs arguments, one per
// volume: a 9p tag is mounted once by the guest, so a volume mounted
// twice by the task is refused rather than shared twice.
func virtfsArgs(ms []drivers.Mount) ([]string, []string) {
	var args, problems []string
	seen := map[string]bool{}
	for _, m := range ms {
		tag := m.Volume
		switch {
		case tag == "" || len(tag) > maxMountTag || strings.ContainsAny(tag, ", \t\n="):
			problems = append(problems, fmt.Sprintf("volume_mount %q: a qemu task's volume is a 9p share tagged with the volume's name, which must be 1-%d characters without ',', '=' or spaces; rename the group's volume", tag, maxMountTag))
			continue
		case seen[tag]:
			problems = append(problems, fmt.Sprintf("volume_mount %q: the volume is mounted twice; a qemu guest mounts the 9p share tagged %q once, where it likes", tag, tag))
			continue
		case !filepath.IsAbs(m.HostPath):
			problems = append(problems, fmt.Sprintf("volume_mount %q: host path %q is not absolute", tag, m.HostPath))
			continue
		}
		seen[tag] = true
		opt := "local,path=" + optEscape(filepath.Clean(m.HostPath)) + ",mount_tag=" + tag + ",security_model=none"
		if m.ReadOnly {
			opt += ",readonly=on"
		}
		args = append(args, "-virtfs", opt)
	}
	return args, problems
}
