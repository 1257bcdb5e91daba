package exec

import (
	"maps"
	"testing"

	"github.com/droverhq/drover/jobspec"
)

func TestCgroupLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  jobspec.Resources
		want map[string]string
	}{
		{"nothing asked", jobspec.Resources{}, map[string]string{"memory.max": "max"}},
		{"memory and cpu", jobspec.Resources{CPU: 1024, MemoryMB: 256},
			map[string]string{"memory.max": "268435456", "cpu.weight": "39"}},
		{"burst", jobspec.Resources{MemoryMB: 128, MemoryMaxMB: 512},
			map[string]string{"memory.max": "536870912", "memory.low": "134217728"}},
		{"max below reservation is just the max", jobspec.Resources{MemoryMB: 512, MemoryMaxMB: 256},
			map[string]string{"memory.max": "268435456"}},
		{"memory_max = -1 lifts the limit", jobspec.Resources{MemoryMB: 128, MemoryMaxMB: jobspec.MemoryUnlimited},
			map[string]string{"memory.max": "max", "memory.low": "134217728"}},
		{"tiny cpu clamps to weight 1", jobspec.Resources{CPU: 1}, map[string]string{"memory.max": "max", "cpu.weight": "1"}},
		{"huge cpu clamps to 10000", jobspec.Resources{CPU: 1 << 20}, map[string]string{"memory.max": "max", "cpu.weight": "10000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cgroupLimits(tc.res); !maps.Equal(got, tc.want) {
				t.Errorf("cgroupLimits(%+v) = %v, want %v", tc.res, got, tc.want)
			}
		})
	}
}

func TestCgroupName(t *testing.T) {
	for _, tc := range []struct{ alloc, task, id, want string }{
		{"8f1c-22", "web", "8f1c-22/web", "8f1c-22-web"},
		{"a/b", "we b", "x", "a_b-we_b"},
		{"", "", "..", "task.."},
		{"", "", "../../etc", ".._.._etc"},
	} {
		if got := cgroupName(tc.alloc, tc.task, tc.id); got != tc.want {
			t.Errorf("cgroupName(%q, %q, %q) = %q, want %q", tc.alloc, tc.task, tc.id, got, tc.want)
		}
	}
}

func TestTaskEnv(t *testing.T) {
	got := taskEnv(map[string]string{"B": "2", "A": "1"})
	want := []string{"A=1", "B=2", "PATH=" + defaultPath}
	if len(got) != len(want) {
		t.Fatalf("taskEnv = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("taskEnv = %q, want %q", got, want)
		}
	}
}
