package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
)

// hostVolumeFlag is the repeatable -host-volume name=path[:ro] of
// drover agent and drover dev: the host_volume "name" { path read_only }
// block of the agent's configuration, as a flag. A path that itself ends
// in ":ro" or ":rw" takes an explicit ":rw".
type hostVolumeFlag map[string]cluster.HostVolume

func (f hostVolumeFlag) String() string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(f)) {
		s := name + "=" + f[name].Path
		if f[name].ReadOnly {
			s += ":ro"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func (f hostVolumeFlag) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want name=/host/path or name=/host/path:ro, got %q", s)
	}
	v := cluster.HostVolume{Path: path}
	if p, ok := strings.CutSuffix(path, ":ro"); ok {
		v = cluster.HostVolume{Path: p, ReadOnly: true}
	} else if p, ok := strings.CutSuffix(path, ":rw"); ok {
		v.Path = p
	}
	if _, dup := f[name]; dup {
		return fmt.Errorf("host volume %q is given twice", name)
	}
	f[name] = v
	return nil
}

// mergeInto adds the flags' volumes to a configuration's, replacing one
// of the same name (flags override the configuration file).
func (f hostVolumeFlag) mergeInto(vols *map[string]cluster.HostVolume) {
	if len(f) == 0 {
		return
	}
	if *vols == nil {
		*vols = map[string]cluster.HostVolume{}
	}
	maps.Copy(*vols, f)
}
