package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// buildSpec is pure: these run without a daemon.
func TestBuildSpec(t *testing.T) {
	alloc := t.TempDir()
	dir := filepath.Join(alloc, "web")
	for _, d := range []string{filepath.Join(alloc, "alloc"), filepath.Join(dir, "local"), filepath.Join(dir, "secrets")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &drivers.TaskConfig{
		ID: "a1/web", AllocID: "a1", JobName: "j", TaskName: "web",
		Dir: dir, AllocDir: filepath.Join(alloc, "alloc"), LocalDir: filepath.Join(dir, "local"), SecretsDir: filepath.Join(dir, "secrets"),
		Env:       map[string]string{"B": "2", "A": "1"},
		Resources: jobspec.Resources{CPU: 1, MemoryMB: 64, MemoryMaxMB: 128},
		Ports:     []drivers.Port{{Label: "http", HostIP: "127.0.0.1", HostPort: 21000, ContainerPort: 80}, {Label: "admin", HostPort: 21001}},
		Config: map[string]any{
			"image":      "redis",
			"command":    "/bin/app",
			"args":       []any{"-v"},
			"entrypoint": []any{"/init"},
			"ports":      []any{"http", "admin"},
			"labels":     []any{map[string]any{"team": "x"}},
			"volumes":    []any{"data:/data:ro"},
			"mount": []any{
				map[string]any{"type": "tmpfs", "target": "/scratch", "tmpfs_options": []any{map[string]any{"size": 1048576.0}}},
				map[string]any{"type": "bind", "source": "local/conf", "target": "/etc/app", "readonly": true},
			},
			"cap_drop": []any{"ALL"},
			"cap_add":  []any{"net_bind_service"},
		},
	}
	if _, err := buildSpec(DefaultConfig(), cfg); err == nil || !strings.Contains(err.Error(), `volumes[0] = "data:/data:ro": named volumes are not allowed on this node`) {
		t.Errorf("named volume without the node's permission: err = %v", err)
	}
	nc := DefaultConfig()
	nc.AllowVolumes = true
	spec, err := buildSpec(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("image", spec.Image, "docker.io/library/redis:latest")
	check("name", spec.Name, "web-a1")
	check("cmd", spec.Config.Cmd, []string{"/bin/app", "-v"})
	check("entrypoint", spec.Config.Entrypoint, []string{"/init"})
	check("env", spec.Config.Env, []string{"A=1", "B=2"})
	check("labels", spec.Config.Labels, map[string]string{LabelAllocID: "a1", LabelJob: "j", LabelTask: "web", "team": "x"})
	check("memory", spec.Host.Memory, 128<<20)
	check("reservation", spec.Host.MemoryReservation, 64<<20)
	check("cpu shares", spec.Host.CPUShares, 2)
	http, _ := network.PortFrom(80, network.TCP)
	httpUDP, _ := network.PortFrom(80, network.UDP)
	admin, _ := network.PortFrom(21001, network.TCP)
	check("http binding", spec.Host.PortBindings[http][0].HostIP.String()+":"+spec.Host.PortBindings[http][0].HostPort, "127.0.0.1:21000")
	check("http udp binding", spec.Host.PortBindings[httpUDP][0].HostPort, "21000")
	check("admin binding (no to: same port)", spec.Host.PortBindings[admin][0].HostPort, "21001")
	if _, ok := spec.Config.ExposedPorts[http]; !ok {
		t.Error("80/tcp not exposed")
	}
	check("binds", spec.Host.Binds, []string{alloc + "/alloc:/alloc", dir + "/local:/local", dir + "/secrets:/secrets", "data:/data:ro"})
	check("tmpfs", spec.Host.Mounts[0].TmpfsOptions.SizeBytes, 1048576)
	check("bind mount", []any{spec.Host.Mounts[1].Type, spec.Host.Mounts[1].Source, spec.Host.Mounts[1].ReadOnly}, []any{mount.TypeBind, dir + "/local/conf", true})
}

func TestContainerName(t *testing.T) {
	for _, tc := range []struct{ task, alloc, id, want string }{
		{"web", "8f1c", "8f1c/web", "web-8f1c"},
		{"my task", "a/b", "x", "my-task-a-b"},
		{"", "", "-odd/id", "xodd-id"},
	} {
		if got := containerName(&drivers.TaskConfig{TaskName: tc.task, AllocID: tc.alloc, ID: tc.id}); got != tc.want {
			t.Errorf("containerName(%q, %q) = %q, want %q", tc.task, tc.alloc, got, tc.want)
		}
	}
}

// memory_max = -1 (jobspec.MemoryUnlimited) lifts the hard limit and keeps
// memory as the reservation, as Nomad's docker driver does.
func TestResourcesMemoryMax(t *testing.T) {
	for _, tc := range []struct {
		name          string
		res           jobspec.Resources
		limit, reserv int64
	}{
		{"limit only", jobspec.Resources{MemoryMB: 64}, 64 << 20, 0},
		{"burst", jobspec.Resources{MemoryMB: 64, MemoryMaxMB: 128}, 128 << 20, 64 << 20},
		{"unlimited", jobspec.Resources{MemoryMB: 64, MemoryMaxMB: jobspec.MemoryUnlimited}, 0, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resources(&drivers.TaskConfig{Resources: tc.res})
			if got.Memory != tc.limit || got.MemoryReservation != tc.reserv {
				t.Errorf("memory %d reservation %d, want %d %d", got.Memory, got.MemoryReservation, tc.limit, tc.reserv)
			}
		})
	}
}
