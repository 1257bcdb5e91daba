package exec

import (
	"strconv"
	"strings"

	"github.com/droverhq/drover/jobspec"
)

// cgroupSupport is the outcome of probing the host's cgroups: v2 (the
// unified hierarchy) when the host has it, else v1's memory and cpu
// hierarchies.
type cgroupSupport struct {
	enabled bool
	version int    // 2 or 1 when enabled
	parent  string // v2: <root>/<parent name>, where task cgroups go
	// v1: Drover's parent cgroup in each controller's hierarchy.
	v1Parents map[string]string
	reason    string // why not enabled
}

// The cgroup v1 controllers Drover limits tasks with.
const (
	v1Memory = "memory"
	v1CPU    = "cpu"
)

// cgroupLimits maps a task's resources to cgroup v2 interface files.
//
// memory.max is the hard limit: MemoryMaxMB when the job allows bursting,
// none ("max") for memory_max = -1, else MemoryMB. With bursting, memory.low protects the reserved MemoryMB
// from reclaim, the way Nomad treats memory_max. No memory asked is "max".
//
// cpu.weight is relative, like the MHz the scheduler reserves: one MHz is
// treated as one cgroup v1 cpu.share and converted with the formula runc,
// crun and systemd use (shares 2..262144 onto weight 1..10000), so 1024
// MHz gets weight 39 and shares keep their proportions.
func cgroupLimits(r jobspec.Resources) map[string]string {
	limits := map[string]string{"memory.max": "max"}
	hard := r.MemoryMB
	if r.MemoryMaxMB == jobspec.MemoryUnlimited {
		// memory_max = -1: no hard limit; MemoryMB stays protected.
		hard = 0
		if r.MemoryMB > 0 {
			limits["memory.low"] = strconv.FormatInt(int64(r.MemoryMB)<<20, 10)
		}
	} else if r.MemoryMaxMB > 0 {
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

// cgroupLimitsV1 maps a task's resources to cgroup v1 interface files, by
// controller, in the order they must be written. memory.limit_in_bytes is
// the hard limit, as memory.max is in v2; memory.memsw.limit_in_bytes
// (where the kernel accounts swap) is set to the same value, so a task
// cannot swap past its limit. memory.soft_limit_in_bytes plays
// memory.low's part. cpu.shares is the reserved MHz, as Nomad sets it; no
// CFS quota, since Nomad sets one only for cpu_hard_limit.
func cgroupLimitsV1(r jobspec.Resources) map[string][]cgroupFile {
	var mem []cgroupFile
	hard := r.MemoryMB
	if r.MemoryMaxMB == jobspec.MemoryUnlimited {
		// memory_max = -1: no hard limit (the v1 default), a soft one at MemoryMB.
		hard = 0
		if r.MemoryMB > 0 {
			mem = append(mem, cgroupFile{"memory.soft_limit_in_bytes", strconv.FormatInt(int64(r.MemoryMB)<<20, 10), false})
		}
	} else if r.MemoryMaxMB > 0 {
		hard = r.MemoryMaxMB
		if r.MemoryMB > 0 && r.MemoryMB < r.MemoryMaxMB {
			mem = append(mem, cgroupFile{"memory.soft_limit_in_bytes", strconv.FormatInt(int64(r.MemoryMB)<<20, 10), false})
		}
	}
	if hard > 0 {
		v := strconv.FormatInt(int64(hard)<<20, 10)
		mem = append(mem, cgroupFile{"memory.limit_in_bytes", v, false}, cgroupFile{"memory.memsw.limit_in_bytes", v, true})
	}
	out := map[string][]cgroupFile{v1Memory: mem}
	if r.CPU > 0 {
		out[v1CPU] = []cgroupFile{{"cpu.shares", strconv.Itoa(min(max(r.CPU, 2), 262144)), false}}
	} else {
		out[v1CPU] = nil
	}
	return out
}

// cgroupFile is one value to write; Optional ones are skipped where the
// kernel lacks the file (memsw without swap accounting).
type cgroupFile struct {
	Name, Value string
	Optional    bool
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
