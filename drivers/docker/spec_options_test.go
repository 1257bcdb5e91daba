package docker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

func TestLegacyPortMap(t *testing.T) {
	ports := []drivers.Port{{Label: "http", HostPort: 21000}, {Label: "admin", HostPort: 21001, ContainerPort: 9000}}
	for _, tc := range []struct {
		name      string
		portMap   map[string]int64
		labels    []string
		wantPorts string
		wantPub   []string
		err       string
	}{
		{"none", nil, []string{"http"}, "[{http  21000 0} {admin  21001 9000}]", []string{"http"}, ""},
		{"maps and publishes", map[string]int64{"http": 8080}, nil, "[{http  21000 8080} {admin  21001 9000}]", []string{"http"}, ""},
		{"already listed", map[string]int64{"admin": 80, "http": 81}, []string{"http"}, "[{http  21000 81} {admin  21001 80}]", []string{"http", "admin"}, ""},
		{"unknown label", map[string]int64{"db": 5432}, nil, "", nil, `port_map: "db" is not a port of the group's network`},
		{"out of range", map[string]int64{"http": 70000}, nil, "", nil, "a container port is 1-65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, pub, err := legacyPortMap(tc.portMap, tc.labels, ports)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.wantPorts || fmt.Sprint(pub) != fmt.Sprint(tc.wantPub) {
				t.Errorf("ports %v publish %v, want %s %v", got, pub, tc.wantPorts, tc.wantPub)
			}
			if ports[0].ContainerPort != 0 {
				t.Error("legacyPortMap changed its input")
			}
		})
	}
}

func TestNamespaceModes(t *testing.T) {
	priv := Config{AllowPrivileged: true}
	for _, tc := range []struct {
		name     string
		nc       Config
		ipc, pid string
		wantIPC  container.IpcMode
		wantPID  container.PidMode
		err      string
	}{
		{"defaults", Config{}, "", "", "", "", ""},
		{"private", Config{}, "private", "private", "private", "", ""},
		{"shareable and none", Config{}, "shareable", "", "shareable", "", ""},
		{"host refused", Config{}, "host", "", "", "", "needs a node that allows privileged containers"},
		{"pid host refused", Config{}, "", "host", "", "", "needs a node that allows privileged containers"},
		{"container refused", Config{}, "container:other", "", "", "", "needs a node that allows privileged containers"},
		{"host allowed", priv, "host", "host", "host", "host", ""},
		{"bad", priv, "sideways", "", "", "", "use private, shareable, none, host or container:<name>"},
		{"bad pid", priv, "", "shareable", "", "", "use private, host or container:<name>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ipc, pid, errs := namespaceModes(tc.nc, tc.ipc, tc.pid)
			if tc.err != "" {
				if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tc.err) {
					t.Fatalf("errs = %v, want %q", errs, tc.err)
				}
				return
			}
			if len(errs) > 0 || ipc != tc.wantIPC || pid != tc.wantPID {
				t.Errorf("= %q %q %v, want %q %q", ipc, pid, errs, tc.wantIPC, tc.wantPID)
			}
		})
	}
}

func TestDevices(t *testing.T) {
	priv := Config{AllowPrivileged: true}
	dev := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		nc     Config
		blocks []map[string]any
		want   string
		err    string
	}{
		{"none", Config{}, nil, "[]", ""},
		{"defaults", priv, []map[string]any{dev("host_path", "/dev/fuse")}, "[{/dev/fuse /dev/fuse rwm}]", ""},
		{"all set", priv, []map[string]any{dev("host_path", "/dev/sda1", "container_path", "/dev/xvdc", "cgroup_permissions", "r")}, "[{/dev/sda1 /dev/xvdc r}]", ""},
		{"needs privileged", Config{}, []map[string]any{dev("host_path", "/dev/fuse")}, "", "needs a node that allows privileged containers"},
		{"relative", priv, []map[string]any{dev("host_path", "dev/fuse")}, "", "use an absolute, clean path"},
		{"climbing", priv, []map[string]any{dev("host_path", "/dev/../etc/shadow")}, "", "use an absolute, clean path"},
		{"bad perms", priv, []map[string]any{dev("host_path", "/dev/fuse", "cgroup_permissions", "rx")}, "", "use any of r, w and m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := devices(tc.nc, tc.blocks)
			if tc.err != "" {
				if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tc.err) {
					t.Fatalf("errs = %v, want %q", errs, tc.err)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
				t.Errorf("= %v, want %s", got, tc.want)
			}
		})
	}
}

// The options reach the container's HostConfig through buildSpec.
func TestBuildSpecIssue15Options(t *testing.T) {
	nc := DefaultConfig()
	nc.AllowPrivileged = true
	cfg := &drivers.TaskConfig{
		ID: "a1/web", AllocID: "a1", TaskName: "web",
		Ports: []drivers.Port{{Label: "http", HostPort: 21000}},
		Config: map[string]any{
			"image":          "redis",
			"auth_soft_fail": true,
			"port_map":       []any{map[string]any{"http": 8080.0}},
			"ipc_mode":       "host",
			"pid_mode":       "host",
			"devices":        []any{map[string]any{"host_path": "/dev/fuse"}},
		},
	}
	spec, err := buildSpec(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !spec.AuthSoftFail || spec.Host.IpcMode != "host" || spec.Host.PidMode != "host" || len(spec.Host.Devices) != 1 {
		t.Errorf("spec = %+v %+v", spec.AuthSoftFail, spec.Host)
	}
	p, _ := network.PortFrom(8080, network.TCP)
	if b := spec.Host.PortBindings[p]; len(b) != 1 || b[0].HostPort != "21000" {
		t.Errorf("port_map binding = %v", spec.Host.PortBindings)
	}
	nc.AllowPrivileged = false
	if _, err := buildSpec(nc, cfg); err == nil || !strings.Contains(err.Error(), "pid_mode") || !strings.Contains(err.Error(), "devices") {
		t.Errorf("unprivileged node: err = %v", err)
	}
}

func TestHostOptions(t *testing.T) {
	base := func(extra map[string]any) *drivers.TaskConfig {
		c := map[string]any{"image": "redis"}
		for k, v := range extra {
			c[k] = v
		}
		return &drivers.TaskConfig{ID: "a/t", AllocID: "a", TaskName: "t", Resources: jobspecResources(64), Config: c}
	}
	spec, err := buildSpec(DefaultConfig(), base(map[string]any{
		"dns_servers":        []any{"1.1.1.1", "2606:4700::1111"},
		"dns_search_domains": []any{"svc.local"},
		"dns_options":        []any{"ndots:2"},
		"extra_hosts":        []any{"db:10.0.0.5", "gw:host-gateway"},
		"init":               true,
		"readonly_rootfs":    true,
		"shm_size":           67108864.0,
		"sysctl":             []any{map[string]any{"net.core.somaxconn": "1024"}},
		"ulimit":             map[string]any{"nofile": "2048:4096", "nproc": "512"},
		"pids_limit":         100.0,
		"healthchecks":       []any{map[string]any{"disable": true}},
		"memory_hard_limit":  128.0,
		"oom_score_adj":      500.0,
		"group_add":          []any{"video"},
		"security_opt":       []any{"no-new-privileges"},
		"logging":            []any{map[string]any{"type": "json-file", "config": []any{map[string]any{"max-size": "5m"}}}},
		"image_pull_timeout": "10m",
		"interactive":        true,
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := spec.Host
	checks := []struct {
		what      string
		got, want any
	}{
		{"dns", h.DNS, "[1.1.1.1 2606:4700::1111]"},
		{"search", h.DNSSearch, "[svc.local]"},
		{"options", h.DNSOptions, "[ndots:2]"},
		{"hosts", h.ExtraHosts, "[db:10.0.0.5 gw:host-gateway]"},
		{"init", *h.Init, true},
		{"readonly", h.ReadonlyRootfs, true},
		{"shm", h.ShmSize, 67108864},
		{"sysctl", h.Sysctls, "map[net.core.somaxconn:1024]"},
		{"ulimits", fmt.Sprint(*h.Ulimits[0], *h.Ulimits[1]), "{nofile 4096 2048} {nproc 512 512}"},
		{"pids", *h.PidsLimit, 100},
		{"healthcheck", spec.Config.Healthcheck.Test, "[NONE]"},
		{"memory", h.Memory, 128 << 20},
		{"reservation", h.MemoryReservation, 64 << 20},
		{"oom", h.OomScoreAdj, 500},
		{"groups", h.GroupAdd, "[video]"},
		{"security", h.SecurityOpt, "[no-new-privileges]"},
		{"log", h.LogConfig.Config, "map[max-file:2 max-size:5m]"},
		{"pull", spec.PullTimeout, "10m0s"},
		{"stdin", spec.Config.OpenStdin, true},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	other, err := buildSpec(DefaultConfig(), base(map[string]any{
		"logging": []any{map[string]any{"type": "fluentd", "config": []any{map[string]any{"tag": "web"}}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks = []struct {
		what      string
		got, want any
	}{
		{"fluentd", other.Host.LogConfig, "{fluentd map[tag:web]}"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, bad := range []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"dns_servers": []any{"dns.google"}}, "not an IP address"},
		{map[string]any{"extra_hosts": []any{"nocolon"}}, "not name:address"},
		{map[string]any{"ulimit": map[string]any{"nofile": "9:1"}}, "soft at most hard"},
		{map[string]any{"oom_score_adj": -500.0}, "needs a node that allows privileged"},
		{map[string]any{"security_opt": []any{"seccomp=unconfined"}}, "needs a node that allows privileged"},
		{map[string]any{"memory_hard_limit": 32.0}, "at least resources.memory"},
		{map[string]any{"image_pull_timeout": "48h"}, "image_pull_timeout"},
	} {
		if _, err := buildSpec(DefaultConfig(), base(bad.extra)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err = %v, want %q", bad.extra, err, bad.want)
		}
	}
}

func jobspecResources(memMB int) jobspec.Resources {
	return jobspec.Resources{CPU: 100, MemoryMB: memMB}
}

func TestPullAuthSoftFail(t *testing.T) {
	broken := func(*containerSpec) (string, error) { return "", fmt.Errorf("read config.json: bad json") }
	works := func(*containerSpec) (string, error) { return "creds", nil }
	var told []error
	tell := func(err error) { told = append(told, err) }

	if a, err := pullAuth(&containerSpec{}, works, tell); a != "creds" || err != nil {
		t.Errorf("working lookup: %q %v", a, err)
	}
	if _, err := pullAuth(&containerSpec{}, broken, tell); err == nil || len(told) != 0 {
		t.Errorf("without auth_soft_fail the pull fails: err %v, told %v", err, told)
	}
	if a, err := pullAuth(&containerSpec{AuthSoftFail: true}, broken, tell); a != "" || err != nil || len(told) != 1 {
		t.Errorf("auth_soft_fail pulls anonymously: %q %v, told %v", a, err, told)
	}
}
