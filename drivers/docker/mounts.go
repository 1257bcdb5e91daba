package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/moby/api/types/mount"

	"github.com/droverhq/drover/drivers"
)

// What a container may see of the host. The task's own directories are
// always bound; anything else outside the allocation (host paths, named
// volumes) needs the node's AllowVolumes, as Nomad's volumes.enabled.

// taskDirBinds binds the allocation's shared dir and the task's local and
// secrets dirs at Nomad's paths. The shared dir's logs/ is bound again,
// read-only: the driver writes the task's logs there as the agent's user,
// and a container running as root must not plant links in it.
func taskDirBinds(cfg *drivers.TaskConfig) ([]string, []error) {
	var binds []string
	var errs []error
	logs := ""
	if cfg.AllocDir != "" {
		logs = filepath.Join(cfg.AllocDir, "logs")
	}
	for _, b := range []struct{ host, inside, mode string }{
		{cfg.AllocDir, containerAllocDir, ""},
		{logs, containerAllocDir + "/logs", ":ro"},
		{cfg.LocalDir, containerLocalDir, ""},
		{cfg.SecretsDir, containerSecretsDir, ""},
	} {
		if b.host == "" {
			continue
		}
		if strings.Contains(b.host, ":") {
			errs = append(errs, fmt.Errorf("%s cannot be bound at %s: docker binds cannot express a ':' in a path", b.host, b.inside))
			continue
		}
		if fi, err := os.Lstat(b.host); err == nil && fi.IsDir() {
			binds = append(binds, b.host+":"+b.inside+b.mode)
		}
	}
	return binds, errs
}

// allocRoot is the allocation directory: the parent of the shared dir
// (TaskConfig.AllocDir is <root>/alloc, as the agent lays it out), or the
// task directory for a task without one.
func allocRoot(cfg *drivers.TaskConfig) string {
	if cfg.AllocDir != "" {
		return filepath.Dir(filepath.Clean(cfg.AllocDir))
	}
	return filepath.Clean(cfg.Dir)
}

// stateDirName is the agent's directory of driver files in the
// allocation (agent/allocrunner's layout), which no mount may expose.
const stateDirName = ".state"

// hostPath resolves a bind source as Nomad does: relative is under the
// task directory. inside reports whether the path is in the allocation,
// which needs no permission. A path in the allocation is resolved with
// securejoin against the allocation directory, so that a symbolic link
// an earlier task planted there (alloc/data/hostroot -> /) cannot lead
// the bind out of it; one that would is an error, as is one into the
// agent's .state directory. The result has no symbolic links.
func hostPath(cfg *drivers.TaskConfig, src string) (path string, inside bool, err error) {
	if !filepath.IsAbs(src) {
		src = filepath.Join(cfg.Dir, src)
	}
	src = filepath.Clean(src)
	root := allocRoot(cfg)
	rel, rerr := filepath.Rel(root, src)
	if root == "." || rerr != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return src, false, nil
	}
	resolved, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return "", true, fmt.Errorf("resolve %s: %w", src, err)
	}
	within, _ := filepath.Rel(root, resolved)
	// Where the daemon would land: a link out of the allocation shows up
	// as a difference between the host's view and the confined one. The
	// root itself may be reached through links (a data dir under a
	// linked /var), which are the operator's.
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		realRoot = root
	}
	if real, err := filepath.EvalSymlinks(src); err == nil && real != filepath.Join(realRoot, within) {
		return "", true, fmt.Errorf("%s leads to %s through a symbolic link, outside the allocation directory %s; refusing to bind it", src, real, root)
	}
	if within == stateDirName || strings.HasPrefix(within, stateDirName+"/") {
		return "", true, fmt.Errorf("%s is the agent's own state, not the task's", src)
	}
	return resolved, true, nil
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
		src, inside, err := hostPath(cfg, parts[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: %w", i, v, err))
			continue
		}
		if !inside && !nc.AllowVolumes {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: %s is outside the allocation and this node does not allow host volumes", i, v, src))
			continue
		}
		if strings.Contains(src, ":") {
			errs = append(errs, fmt.Errorf("volumes[%d] = %q: %s contains ':', which a docker bind cannot express; use a mount block", i, v, src))
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
			if m.Source == "" {
				errs = append(errs, fmt.Errorf("%s: a bind mount needs a source", where))
				continue
			}
			src, inside, err := hostPath(cfg, m.Source)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
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
