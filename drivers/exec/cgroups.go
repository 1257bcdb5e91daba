package exec

import (
	"strconv"
	"strings"

	"github.com/droverhq/drover/jobspec"
)

// cgroupSupport is the outcome of probing the host's cgroup v2 hierarchy.
type cgroupSupport struct {
	enabled bool
	parent  string // <root>/<parent name>, where task cgroups go
	reason  string // why not enabled
}

// cgroupLimits maps a task's resources to cgroup v2 interface files.
//
// memory.max is the hard limit: MemoryMaxMB when the job allows bursting,
// else MemoryMB. With bursting, memory.low protects the reserved MemoryMB
// from reclaim, the way Nomad treats memory_max. No memory asked is "max".
//
// cpu.weight is relative, like the MHz the scheduler reserves: one MHz is
// treated as one cgroup v1 cpu.share and converted with the formula runc,
// crun and systemd use (shares 2..262144 onto weight 1..10000), so 1024
// MHz gets weight 39 and shares keep their proportions.
func cgroupLimits(r jobspec.Resources) map[string]string {
	limits := map[string]string{"memory.max": "max"}
	hard := r.MemoryMB
	if r.MemoryMaxMB > 0 {
		hard = r.MemoryMaxMB
		if r.MemoryMB > 0 && r.MemoryMB < r.MemoryMaxMB {
			limits["memory.low"] = strconv.FormatInt(int64(r.MemoryMB)<<20, 10)
		}
	}
	if hard > 0 {
		limits["memory.max"] = strconv.FormatInt(int64(hard)<<20, 10)
	}
	if r.CPU > 0 {
		limits["cpu.weight"] = strconv.Itoa(cpuWeight(r.CPU))
	}
	return limits
}

func cpuWeight(shares int) int {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// cgroupName is the task's directory name under Drover's cgroup: readable
// for operators (alloc and task), and free of path separators.
func cgroupName(allocID, task, id string) string {
	name := id
	if allocID != "" && task != "" {
		name = allocID + "-" + task
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	if strings.Trim(name, ".") == "" {
		name = "task" + name // "." and ".." are not new directories
	}
	return name
}
