package drivers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/docker"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/drivers/qemu"
	"github.com/droverhq/drover/drivers/rawexec"
	"github.com/droverhq/drover/jobspec"
)

var schemas = map[string]drivers.Schema{
	"docker":   docker.ConfigSpec(),
	"exec":     exec.ConfigSpec(),
	"raw_exec": rawexec.ConfigSpec(),
	"qemu":     qemu.ConfigSpec(),
}

// An option is either Drover's (in the schema) or Nomad's only, never
// both, and every Nomad-only option says what to do instead.
func TestNomadOnlyNotInSchemas(t *testing.T) {
	for driver, s := range schemas {
		for _, name := range drivers.NomadOnlyOptions(driver) {
			if _, ok := s.Attribute(name); ok {
				t.Errorf("%s: %q is in Drover's schema and listed as Nomad-only", driver, name)
			}
			if hint, _ := drivers.NomadOnly(driver, name); len(hint) < 10 {
				t.Errorf("%s: %q has no hint", driver, name)
			}
		}
	}
}

func TestValidateDriverExplainsUnknownOptions(t *testing.T) {
	for _, tc := range []struct {
		driver string
		cfg    map[string]any
		want   string // "" = valid
	}{
		{"docker", map[string]any{"image": "redis", "tty": true}, `tty: Nomad's docker driver has this option but Drover's does not. Drover does not allocate a terminal`},
		{"docker", map[string]any{"image": "redis", "logging": []any{map[string]any{"type": "syslog"}}}, ""},
		{"docker", map[string]any{"image": "redis", "dns_servers": []any{"1.1.1.1"}, "ulimit": []any{map[string]any{"nofile": "1:2"}}, "healthchecks": []any{map[string]any{"disable": true}}}, ""},
		{"docker", map[string]any{"imagee": "redis", "image": "x"}, `imagee: neither Drover's nor Nomad's docker driver has this option; did you mean "image"?`},
		{"docker", map[string]any{"image": "redis", "auth_soft_fail": true, "ipc_mode": "host", "pid_mode": "host", "port_map": map[string]any{"http": 80.0}}, ""},
		{"docker", map[string]any{"image": "redis", "devices": []any{map[string]any{"host_path": "/dev/fuse"}}}, ""},
		{"docker", map[string]any{"image": "redis", "devices": []any{map[string]any{"container_path": "/dev/fuse"}}}, "devices[0].host_path: required"},
		{"docker", map[string]any{"image": "redis", "mounts": []any{map[string]any{"type": "bind", "source": "local", "target": "/x"}}}, ""},
		{"exec", map[string]any{"command": "x", "pid_mode": "private", "ipc_mode": "private"}, ""},
		{"exec", map[string]any{"command": "x", "pid_mode": "host"}, `pid_mode: "host" is not one of ["private"]; Drover's exec always isolates a task's processes; use the raw_exec driver`},
		{"exec", map[string]any{"command": "x", "work_dir": "/tmp"}, "work_dir: Nomad's exec driver has this option but Drover's does not."},
		{"raw_exec", map[string]any{"command": "x", "pid_mode": "private"}, "pid_mode: neither Drover's nor Nomad's raw_exec driver has this option"},
		{"qemu", map[string]any{"image_path": "x", "guest_agent": true}, "guest_agent: Nomad's qemu driver has this option"},
	} {
		errs := schemas[tc.driver].ValidateDriver(tc.driver, tc.cfg)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		joined := strings.Join(got, "\n")
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s %v: want valid, got %s", tc.driver, tc.cfg, joined)
		case tc.want != "" && !strings.Contains(joined, tc.want):
			t.Errorf("%s %v: want %q, got %q", tc.driver, tc.cfg, tc.want, joined)
		}
	}
}

// The real Nomad job files that parse also pass the drivers' config
// checks, as `drover validate` runs them: the corpus test in jobspec
// knows no driver schema.
func TestCorpusConfigsMatchSchemas(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "testdata", "nomad-jobspecs", "*.hcl"))
	if len(files) == 0 {
		t.Skip("SKIP: needs the real-world test data in ../shared/testdata (it lives beside the repository, not in it)")
	}
	check := func(driver string, cfg map[string]any) []jobspec.ConfigProblem {
		var out []jobspec.ConfigProblem
		for _, e := range schemas[driver].ValidateDriver(driver, cfg) {
			out = append(out, jobspec.ConfigProblem{Path: e.Path, Msg: e.Msg})
		}
		return out
	}
	vars := map[string]string{"start": "0 3 * * *", "end": "0 4 * * *"}
	checked := 0
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		if f, _ := jobspec.Parse(name, src, &jobspec.ParseOptions{Vars: vars}); f == nil {
			continue
		}
		checked++
		if f, diags := jobspec.Parse(name, src, &jobspec.ParseOptions{Vars: vars, CheckConfig: check}); f == nil {
			t.Errorf("%s parses, but not with the drivers' schemas:\n%s", name, diags.Error())
		}
	}
	if checked == 0 {
		t.Error("no corpus file parsed")
	}
}
