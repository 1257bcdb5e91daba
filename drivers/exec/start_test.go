//go:build linux

package exec

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

func TestStartExitCodeAndLogs(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "echo hi; echo err >&2; exit 3")
	h := start(t, d, cfg)

	res := wait(t, d, h)
	if res.ExitCode != 3 || res.Signal != 0 || res.Err != nil {
		t.Fatalf("exit = %+v, want code 3", res)
	}
	logs := filepath.Join(cfg.AllocDir, "logs")
	if got := readFile(t, filepath.Join(logs, "web.stdout.0")); got != "hi\n" {
		t.Errorf("stdout = %q, want %q", got, "hi\n")
	}
	if got := readFile(t, filepath.Join(logs, "web.stderr.0")); got != "err\n" {
		t.Errorf("stderr = %q, want %q", got, "err\n")
	}
	// A second Wait sees the same result.
	if again := wait(t, d, h); again.ExitCode != 3 {
		t.Errorf("second Wait = %+v", again)
	}
}

func TestEnvIsExactlyTheTasks(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"with PATH", map[string]string{"FOO": "bar baz", "PATH": "/bin"}, []string{"FOO=bar baz", "PATH=/bin"}},
		{"PATH defaulted", map[string]string{"EMPTY": ""}, []string{"EMPTY=", "PATH=" + defaultPath}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t)
			cfg := shTask(t, "")
			cfg.Config = map[string]any{"command": "/usr/bin/env"} // no shell: it would add PWD
			cfg.Env = tc.env
			h := start(t, d, cfg)
			if res := wait(t, d, h); !res.Successful() {
				t.Fatalf("env: %+v", res)
			}
			got := strings.Fields(strings.ReplaceAll(readFile(t, filepath.Join(cfg.AllocDir, "logs", "web.stdout.0")), "bar baz", "bar_baz"))
			want := slices.Clone(tc.want)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "bar baz", "bar_baz")
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("task env = %q, want exactly %q", got, want)
			}
		})
	}
}

func TestWorkingDirIsTaskDir(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "")
	cfg.Config = map[string]any{"command": "pwd"} // found in the task's PATH
	h := start(t, d, cfg)
	if res := wait(t, d, h); !res.Successful() {
		t.Fatalf("pwd: %+v", res)
	}
	want, _ := filepath.EvalSymlinks(cfg.Dir)
	if got := strings.TrimSpace(readFile(t, filepath.Join(cfg.AllocDir, "logs", "web.stdout.0"))); got != want {
		t.Errorf("cwd = %q, want task dir %q", got, want)
	}
}

func TestRelativeCommandIsInTaskDir(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "")
	if err := os.WriteFile(filepath.Join(cfg.Dir, "run.sh"), []byte("#!/bin/sh\nexit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Config = map[string]any{"command": "./run.sh"}
	if res := wait(t, d, start(t, d, cfg)); res.ExitCode != 5 {
		t.Fatalf("./run.sh exit = %+v, want 5", res)
	}
}

func TestStartErrors(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		config  map[string]any
		user    string
		wantErr string
		is      error
	}{
		{"absolute missing", map[string]any{"command": "/nope"}, "", `command "/nope" not found`, nil},
		{"relative missing", map[string]any{"command": "bin/nope"}, "", `command "bin/nope" not found`, nil},
		{"not in PATH", map[string]any{"command": "drover-no-such-command"}, "", `command "drover-no-such-command" not found in PATH "/usr/bin:/bin"`, nil},
		{"directory", map[string]any{"command": "/tmp"}, "", `command "/tmp" is a directory`, nil},
		{"not executable", map[string]any{"command": notExec}, "", "is not executable", nil},
		{"unknown user", map[string]any{"command": "/bin/true"}, "drover-no-such-user", `user "drover-no-such-user" does not exist on this node`, nil},
		{"missing command", map[string]any{"args": []any{"x"}}, "", "config.command: required attribute", drivers.ErrInvalidConfig},
		{"typo", map[string]any{"command": "/bin/true", "arg": []any{"x"}}, "", `config.arg: unknown attribute; did you mean "args"?`, drivers.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t)
			cfg := shTask(t, "")
			cfg.Config, cfg.User = tc.config, tc.user
			h, err := d.Start(t.Context(), cfg)
			if err == nil {
				_ = d.Destroy(testCtx(t), h)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if _, err := os.Stat(filepath.Join(cfg.Dir, shimLogFile)); err == nil {
				t.Error("a shim was started for a task that cannot run")
			}
		})
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: switching users needs root; the agent under test is not root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("SKIPPED: no user nobody on this host: %v", err)
	}
	d := newDriver(t)
	cfg := shTask(t, "id -u; id -g")
	cfg.User = "nobody"
	// t.TempDir's directories are private to root; nobody must reach
	// its task dir.
	for _, dir := range []string{filepath.Dir(cfg.AllocDir), cfg.AllocDir, cfg.Dir} {
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if res := wait(t, d, start(t, d, cfg)); !res.Successful() {
		t.Fatalf("id: %+v", res)
	}
	got := strings.Fields(readFile(t, filepath.Join(cfg.AllocDir, "logs", "web.stdout.0")))
	if want := []string{u.Uid, u.Gid}; !slices.Equal(got, want) {
		t.Errorf("uid, gid = %q, want %q", got, want)
	}
}

func TestLogRotation(t *testing.T) {
	d := newDriver(t)
	// 3.5 MiB with 1 MiB files: .0 .1 .2 full, .3 half; 2 kept.
	cfg := shTask(t, "dd if=/dev/zero bs=65536 count=56 2>/dev/null; echo done >&2")
	cfg.Logs = drivers.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1}
	if res := wait(t, d, start(t, d, cfg)); !res.Successful() {
		t.Fatalf("dd: %+v", res)
	}
	logs := filepath.Join(cfg.AllocDir, "logs")
	entries, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	for _, e := range entries {
		fi, _ := e.Info()
		sizes[e.Name()] = fi.Size()
	}
	want := map[string]int64{"web.stdout.2": 1 << 20, "web.stdout.3": 1 << 19, "web.stderr.0": 5}
	if len(sizes) != len(want) {
		t.Fatalf("log files = %v, want %v", sizes, want)
	}
	for name, size := range want {
		if sizes[name] != size {
			t.Errorf("%s is %d bytes, want %d (all: %v)", name, sizes[name], size, sizes)
		}
	}
}

func TestLogsDisabled(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "echo hi")
	cfg.Logs.Disabled = true
	if res := wait(t, d, start(t, d, cfg)); !res.Successful() {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(cfg.AllocDir, "logs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("logs dir exists with logs disabled: %v", err)
	}
}

func TestCancelledStartLeavesNothingRunning(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "echo $$ > pid; sleep 300")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h, err := d.Start(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		if h != nil {
			_ = d.Destroy(testCtx(t), h)
		}
		t.Fatalf("Start with a cancelled context: %v", err)
	}
	// Had the task survived, it would have written its pid by now.
	time.Sleep(200 * time.Millisecond)
	if b, err := os.ReadFile(filepath.Join(cfg.Dir, "pid")); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if !gone(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("task %d of a cancelled Start runs on", pid)
		}
	}
}
