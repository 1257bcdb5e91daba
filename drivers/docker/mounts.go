package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/droverhq/drover/drivers"
)

// What a container may see of the host. The task's own directories are
// always bound; anything else outside the allocation (host paths, named
// volumes) needs the node's AllowVolumes, as Nomad's volumes.enabled.

// taskDirBinds binds the allocation's shared dir and the task's local and
// secrets dirs at Nomad's paths.
func taskDirBinds(cfg *drivers.TaskConfig) []string {
	var binds []string
	for _, b := range []struct{ host, inside string }{
		{allocShared(cfg), containerAllocDir},
		{cfg.LocalDir, containerLocalDir},
		{cfg.SecretsDir, containerSecretsDir},
	} {
		if b.host != "" {
			if fi, err := os.Stat(b.host); err == nil && fi.IsDir() {
				binds = append(binds, b.host+":"+b.inside)
			}
		}
	}
	return binds
}

func allocShared(cfg *drivers.TaskConfig) string {
	if cfg.AllocDir == "" {
		return ""
	}
	return filepath.Join(cfg.AllocDir, "alloc")
}

// hostPath resolves a bind source as Nomad does: relative is under the
// task directory. It reports whether the path stays inside the
// allocation, which needs no permission.
func hostPath(cfg *drivers.TaskConfig, src string) (string, bool) {
	if !filepath.IsAbs(src) {
		src = filepath.Join(cfg.Dir, src)
	}
	src = filepath.Clean(src)
	root := cfg.AllocDir
	if root == "" {
		root = cfg.Dir
	}
	rel, err := filepath.Rel(filepath.Clean(root), src)
	inside := root != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	return src, inside
}

func volumeBinds(nc Config, cfg *drivers.TaskConfig, volumes []string) ([]string, []error) {
	var binds []string
	var errs []error
	for i, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: want \"src:/path/in/container[:ro|rw]\"", i, v))
			continue
		}
		if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: mode must be ro or rw", i, v))
			continue
		}
		named := !strings.ContainsAny(parts[0], "/.")
		if named {
			if !nc.AllowVolumes {
				errs = append(errs, fmt.Errorf("volumes[%d] = %q: named volumes are not allowed on this node", i, v))
			}
			binds = append(binds, v)
			continue
		}
		src, inside := hostPath(cfg, parts[0])
		if !inside && !nc.AllowVolumes {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: %s is outside the allocation and this node does not allow host volumes", i, v, src))
			continue
		}
		parts[0] = src
		binds = append(binds, strings.Join(parts, ":"))
	}
	return binds, errs
}

func mounts(nc Config, cfg *drivers.TaskConfig, blocks []map[string]any) ([]mount.Mount, []error) {
	var out []mount.Mount
	var errs []error
	for i, b := range blocks {
		m := mount.Mount{
			Type:     mount.Type(drivers.String(b, "type")),
			Target:   drivers.String(b, "target"),
			Source:   drivers.String(b, "source"),
			ReadOnly: drivers.Bool(b, "readonly"),
		}
		if m.Type == "" {
			m.Type = mount.TypeVolume
		}
		where := fmt.Sprintf("mount[%d]", i)
		switch m.Type {
		case mount.TypeBind:
			src, inside := hostPath(cfg, m.Source)
			if m.Source == "" {
				errs = append(errs, fmt.Errorf("%s: a bind mount needs a source", where))
				continue
			}
			if !inside && !nc.AllowVolumes {
				errs = append(errs, fmt.Errorf("%s: %s is outside the allocation and this node does not allow host volumes", where, src))
				continue
			}
			m.Source = src
			if o := drivers.Blocks(b, "bind_options"); len(o) > 0 {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(drivers.String(o[0], "propagation"))}
			}
		case mount.TypeVolume:
			if !nc.AllowVolumes {
				errs = append(errs, fmt.Errorf("%s: volume mounts are not allowed on this node", where))
				continue
			}
			if o := drivers.Blocks(b, "volume_options"); len(o) > 0 {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: drivers.Bool(o[0], "no_copy"), Labels: drivers.StringMap(o[0], "labels")}
			}
		case mount.TypeTmpfs:
			if o := drivers.Blocks(b, "tmpfs_options"); len(o) > 0 {
				size, _ := drivers.Number(o[0], "size")
				mode, _ := drivers.Number(o[0], "mode")
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(size), Mode: os.FileMode(mode)}
			}
		default:
			errs = append(errs, fmt.Errorf("%s: type %q is not one of bind, volume, tmpfs", where, m.Type))
			continue
		}
		if !strings.HasPrefix(m.Target, "/") {
			errs = append(errs, fmt.Errorf("%s: target %q must be an absolute path", where, m.Target))
			continue
		}
		out = append(out, m)
	}
	return out, errs
}
