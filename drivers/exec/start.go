package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/droverhq/drover/drivers"
)

// Start implements drivers.Driver. It returns once the task's process
// exists; a command or user that cannot be run is an error here, before
// anything was forked.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.New("exec driver needs Linux")
	}
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("exec: task config with an ID is required")
	}
	if errs := d.ConfigSpec().Validate(cfg.Config); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = "config." + e.Error()
		}
		return nil, fmt.Errorf("%w: %s", drivers.ErrInvalidConfig, strings.Join(msgs, "; "))
	}
	if _, dup := d.tasks.Get(cfg.ID); dup {
		return nil, fmt.Errorf("exec: task %q is already running", cfg.ID)
	}

	spec, err := d.shimSpec(cfg)
	if err != nil {
		return nil, err
	}
	// A status file from an earlier run of this task would be read as
	// this run's exit.
	if err := os.Remove(spec.StatusPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("exec: remove old status: %w", err)
	}
	if cg := d.cgroups(); cg.enabled {
		name := cgroupName(cfg.AllocID, cfg.TaskName, cfg.ID)
		if cg.version == 1 {
			spec.CgroupV1, err = createCgroupV1(cg.v1Parents, name, cfg.Resources)
			spec.CgroupV1Mounts = []string{filepath.Join(d.cfg.CgroupRoot, v1Memory), filepath.Join(d.cfg.CgroupRoot, v1CPU)}
		} else {
			spec.Cgroup, err = createCgroup(cg.parent, name, cfg.Resources)
		}
		if err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
	}
	st, proc, err := d.startShim(ctx, spec)
	if err != nil {
		for _, dir := range append([]string{spec.Cgroup}, spec.CgroupV1...) {
			_ = removeCgroup(dir)
		}
		return nil, err
	}
	st.Cgroup, st.CgroupV1 = spec.Cgroup, spec.CgroupV1
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	h := &drivers.TaskHandle{Driver: d.cfg.Name, TaskID: cfg.ID, Config: cfg, StartedAt: time.Now(), State: raw}
	d.track(cfg.ID, st, proc)
	d.log.Info("task started", "task", cfg.ID, "pid", st.PID, "shim_pid", st.ShimPID, "cgroup", st.Cgroup)
	return h, nil
}

// shimSpec turns a task config into what the shim runs, resolving the
// command and user now so their errors reach the caller of Start.
func (d *Driver) shimSpec(cfg *drivers.TaskConfig) (*shimSpec, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil || cfg.Dir == "" {
		return nil, fmt.Errorf("exec: task directory %q is not usable", cfg.Dir)
	}
	command := drivers.String(cfg.Config, "command")
	args := drivers.StringList(cfg.Config, "args")
	env := taskEnv(cfg.Env)
	userName := cfg.User
	iso := d.cfg.Isolation
	if iso != nil {
		if os.Geteuid() != 0 {
			return nil, errors.New("exec: isolated tasks need the agent to run as root")
		}
		if userName == "" {
			userName = iso.DefaultUser
		}
		if err := iso.checkUser(userName); err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
	}
	cred, err := taskCredential(userName)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if iso == nil && len(cfg.Mounts) > 0 {
		return nil, mountsNeedIsolation(d.cfg.Name)
	}
	var chroot *chrootSpec
	toHost, workDir := func(p string) (string, bool) { return p, true }, dir
	if iso != nil {
		if chroot, err = d.chroot(cfg, dir, cred); err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		pm := newPathMap(chroot.Mounts, dir)
		toHost, workDir = pm.host, chroot.Dir
		command = pm.rewrite(command)
		for i, a := range args {
			args[i] = pm.rewrite(a)
		}
		for i, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			env[i] = k + "=" + pm.rewrite(v)
		}
	}
	path, err := resolveCommandIn(command, workDir, envValue(env, "PATH"), toHost)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = dir
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return nil, err
	}
	logs := cfg.Logs
	if logs.Dir == "" {
		logs.Dir = dir
		if cfg.AllocDir != "" {
			logs.Dir = filepath.Join(cfg.AllocDir, "logs")
		}
	}
	if logs.Dir, err = filepath.Abs(logs.Dir); err != nil {
		return nil, err
	}
	if logs.MaxFiles <= 0 {
		logs.MaxFiles = defaultLogMaxFiles
	}
	if logs.MaxFileSizeMB <= 0 {
		logs.MaxFileSizeMB = defaultLogMaxMB
	}
	if !logs.Disabled {
		if err := os.MkdirAll(logs.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("exec: log directory: %w", err)
		}
	}
	name := cfg.TaskName
	if name == "" {
		name = filepath.Base(cfg.ID)
	}
	if chroot != nil {
		// Mounted on in the shim's mount namespace only: on the host it
		// stays an empty directory.
		chroot.Root = filepath.Join(stateDir, "root")
		if err := os.MkdirAll(chroot.Root, 0o700); err != nil {
			return nil, fmt.Errorf("exec: task root: %w", err)
		}
	}
	s := &shimSpec{
		Path:        path,
		Argv:        append([]string{command}, args...),
		Env:         env,
		Dir:         workDir,
		Chroot:      chroot,
		LogDir:      logs.Dir,
		LogName:     name,
		LogMaxFiles: logs.MaxFiles,
		LogMaxBytes: int64(logs.MaxFileSizeMB) << 20,
		LogDisabled: logs.Disabled,
		StatusPath:  filepath.Join(stateDir, statusFile),
	}
	s.Credential = cred
	return s, nil
}

// chroot plans an isolated task's root: the node's chroot_env and the
// task's own directories, which it creates if need be and hands to the
// task's user.
func (d *Driver) chroot(cfg *drivers.TaskConfig, dir string, cred *shimCredential) (*chrootSpec, error) {
	or := func(p, def string) (string, error) {
		if p == "" {
			p = def
		}
		return filepath.Abs(p)
	}
	var dirs taskDirs
	var errs []error
	var err error
	dirs.task = dir
	dirs.local, err = or(cfg.LocalDir, filepath.Join(dir, "local"))
	errs = append(errs, err)
	dirs.secrets, err = or(cfg.SecretsDir, filepath.Join(dir, "secrets"))
	errs = append(errs, err)
	dirs.tmp, err = or(cfg.TmpDir, filepath.Join(dir, "tmp"))
	errs = append(errs, err)
	if cfg.AllocDir != "" {
		dirs.alloc, err = filepath.Abs(cfg.AllocDir)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ensureTaskDirs(dirs, cred); err != nil {
		return nil, err
	}
	mounts, err := withVolumes(chrootPlan(d.cfg.Isolation.ChrootEnv, dirs), cfg.Mounts)
	if err != nil {
		return nil, err
	}
	return &chrootSpec{Mounts: mounts, Dir: "/", Hostname: cfg.Hostname}, nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// startShim starts the shim in its own session, hands it the spec and
// waits for its report that the task runs.
func (d *Driver) startShim(ctx context.Context, spec *shimSpec) (handleState, *os.Process, error) {
	var st handleState
	st.StatusPath = spec.StatusPath
	st.ShimLogPath = filepath.Join(filepath.Dir(spec.StatusPath), shimLogFile)
	shimLog, err := os.OpenFile(st.ShimLogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return st, nil, fmt.Errorf("exec: shim log: %w", err)
	}
	defer shimLog.Close()
	specR, specW, err := os.Pipe()
	if err != nil {
		return st, nil, err
	}
	defer specW.Close()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		specR.Close()
		return st, nil, err
	}
	defer reportR.Close()

	proc, err := os.StartProcess(d.cfg.ShimCommand[0], d.cfg.ShimCommand, &os.ProcAttr{
		Dir:   "/", // pin no mount
		Env:   d.cfg.ShimEnv,
		Files: []*os.File{specR, shimLog, shimLog, reportW},
		Sys:   shimProcAttr(spec.Chroot != nil),
	})
	specR.Close()
	reportW.Close()
	if err != nil {
		return st, nil, fmt.Errorf("exec: start shim %s: %w", d.cfg.ShimCommand[0], err)
	}
	fail := func(err error) (handleState, *os.Process, error) {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return st, nil, err
	}
	st.ShimPID = proc.Pid
	if st.ShimStartTime, err = procStartTime(proc.Pid); err != nil {
		return fail(fmt.Errorf("exec: shim start time: %w", err))
	}
	if err := json.NewEncoder(specW).Encode(spec); err != nil {
		return fail(fmt.Errorf("exec: send spec to shim: %w", err))
	}
	specW.Close()

	started, err := awaitReport(ctx, reportR)
	if err != nil {
		if started.PID > 0 {
			// Started after all, but the caller gave up: a task no one
			// holds a handle for must not linger.
			_, _ = signalGroup(started.PID, started.StartTime, syscall.SIGKILL)
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("exec: waiting for the task to start: %w", err))
		}
		return fail(fmt.Errorf("exec: shim exited without starting the task (%v); shim log: %s", err, tail(st.ShimLogPath, 1024)))
	}
	if started.Error != "" {
		_, _ = proc.Wait()
		return st, nil, fmt.Errorf("exec: %s", started.Error)
	}
	st.PID, st.StartTime = started.PID, started.StartTime
	return st, proc, nil
}

// startGrace is how long a cancelled Start still listens for the shim's
// report, to learn the pid of a task it must then kill.
const startGrace = 2 * time.Second

// awaitReport reads the shim's one report. When ctx ends first it returns
// ctx.Err() together with whatever arrives within startGrace.
func awaitReport(ctx context.Context, r *os.File) (shimStarted, error) {
	type report struct {
		s   shimStarted
		err error
	}
	reports := make(chan report, 1)
	// Ends at the report or at EOF, i.e. when the shim dies; the caller
	// kills the shim on every error path.
	go func() {
		var s shimStarted
		err := json.NewDecoder(r).Decode(&s)
		reports <- report{s, err}
	}()
	select {
	case rep := <-reports:
		return rep.s, rep.err
	case <-ctx.Done():
	}
	grace := time.NewTimer(startGrace)
	defer grace.Stop()
	select {
	case rep := <-reports:
		return rep.s, ctx.Err()
	case <-grace.C:
		return shimStarted{}, ctx.Err()
	}
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
