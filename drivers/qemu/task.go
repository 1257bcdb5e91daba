package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/logrotate"
)

const (
	defaultKillTimeout = 5 * time.Second
	// startTimeout bounds how long Start waits for QEMU to report the VM
	// running over QMP. It covers QEMU's own start-up, not the guest's
	// boot, which is the task's business.
	startTimeout = 60 * time.Second
	// maxSocketPath keeps the QMP socket under the kernel's sun_path
	// limit (108 bytes with the NUL).
	maxSocketPath = 100
	// cleanupTimeout bounds removing what a failed Start left, after the
	// caller's context ended.
	cleanupTimeout = 30 * time.Second
)

// handleState is TaskHandle.State for qemu.
type handleState struct {
	// Runner is the process runner's handle of the qemu process.
	Runner      *drivers.TaskHandle `json:"runner"`
	QMPPath     string              `json:"qmp_path"`
	Accelerator string              `json:"accelerator"`
	Graceful    bool                `json:"graceful,omitempty"`
}

type task struct{ st handleState }

// Start implements drivers.Driver. It returns once QEMU reports the VM
// running over QMP; a config, image or accelerator problem, or a QEMU
// that exits while starting, is an error here, with QEMU's own message.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("qemu: task config with an ID is required")
	}
	bin, err := d.binary()
	if err != nil {
		return nil, err
	}
	qmpPath, err := socketPath(cfg)
	if err != nil {
		return nil, err
	}
	spec, err := buildSpec(cfg, policy{imagePaths: d.cfg.ImagePaths, argsAllowlist: d.cfg.ArgsAllowlist}, bin, probeKVM(d.cfg.KVMDevice), qmpPath)
	if err != nil {
		return nil, err
	}
	if _, dup := d.tasks.Get(cfg.ID); dup {
		return nil, fmt.Errorf("qemu: task %q is already running", cfg.ID)
	}
	// A socket left by an earlier run would answer as this VM's.
	if err := os.Remove(qmpPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("qemu: remove stale QMP socket: %w", err)
	}
	rh, err := d.cfg.Runner.Start(ctx, runnerConfig(cfg, spec))
	if err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	if err := d.awaitRunning(ctx, cfg, rh, qmpPath); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := d.cfg.Runner.Destroy(dctx, rh); derr != nil {
			d.log.Warn("could not clean up a VM that failed to start", "task", cfg.ID, "err", derr)
		}
		return nil, err
	}
	st := handleState{Runner: rh, QMPPath: qmpPath, Accelerator: spec.Accelerator, Graceful: spec.Graceful}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	d.tasks.Put(cfg.ID, &task{st: st})
	d.log.Info("vm started", "task", cfg.ID, "accelerator", spec.Accelerator, "qmp", qmpPath)
	return &drivers.TaskHandle{Driver: Name, TaskID: cfg.ID, Config: cfg, StartedAt: time.Now(), State: raw}, nil
}

// runnerConfig is the task as the process runner sees it: the qemu
// command line, and of the resources only CPU. memory_mb is the guest's
// RAM (-m); capping the qemu process at it too would OOM-kill the VM for
// QEMU's own overhead.
func runnerConfig(cfg *drivers.TaskConfig, spec *vmSpec) *drivers.TaskConfig {
	rc := *cfg
	args := make([]any, 0, len(spec.Argv)-1)
	for _, a := range spec.Argv[1:] {
		args = append(args, a)
	}
	rc.Config = map[string]any{"command": spec.Argv[0], "args": args}
	rc.Resources = jobspec.Resources{CPU: cfg.Resources.CPU}
	rc.Ports = nil
	rc.KillSignal = ""
	return &rc
}

// socketPath puts the QMP socket in the task's state directory, or under
// the temp dir when that path would be too long for a unix socket.
func socketPath(cfg *drivers.TaskConfig) (string, error) {
	dir := cfg.StateDir
	if dir == "" {
		dir = cfg.Dir
	}
	if dir == "" {
		return "", errors.New("qemu: the task has no directory for its QMP socket")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "qmp.sock")
	if len(p) <= maxSocketPath {
		return p, nil
	}
	sum := sha256.Sum256([]byte(p))
	return filepath.Join(os.TempDir(), "drover-qmp-"+hex.EncodeToString(sum[:8])+".sock"), nil
}

// awaitRunning polls QMP until the VM runs, or QEMU exits, or time is up.
func (d *Driver) awaitRunning(ctx context.Context, cfg *drivers.TaskConfig, rh *drivers.TaskHandle, qmpPath string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	type exit struct {
		res drivers.ExitResult
		err error
	}
	exited := make(chan exit, 1)
	waitCtx, stopWait := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := d.cfg.Runner.Wait(waitCtx, rh)
		exited <- exit{res, err}
	}()
	defer func() { stopWait(); <-done }()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
		status, err := vmStatus(qctx, qmpPath)
		qcancel()
		if err == nil && status == "running" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("VM status %q", status)
		}
		lastErr = err
		select {
		case e := <-exited:
			if e.err != nil {
				return fmt.Errorf("qemu: waiting for QEMU to start: %w", e.err)
			}
			return fmt.Errorf("qemu: QEMU exited while starting (exit code %d): %s", e.res.ExitCode, stderrTail(cfg))
		case <-ctx.Done():
			return fmt.Errorf("qemu: QEMU did not report the VM running within %v (last: %v): %w", startTimeout, lastErr, ctx.Err())
		case <-tick.C:
		}
	}
}

// stderrTail is the end of the task's stderr log: QEMU's own complaint
// when it refuses to start.
func stderrTail(cfg *drivers.TaskConfig) string {
	dir := cfg.Logs.Dir
	if dir == "" {
		dir = cfg.Dir
		if cfg.AllocDir != "" {
			dir = filepath.Join(cfg.AllocDir, "logs")
		}
	}
	name := cfg.TaskName
	if name == "" {
		name = filepath.Base(cfg.ID)
	}
	files, err := logrotate.Files(dir, name+".stderr")
	if err != nil || len(files) == 0 {
		return "(no stderr captured)"
	}
	f, err := os.Open(files[len(files)-1].Path)
	if err != nil {
		return "(stderr unreadable: " + err.Error() + ")"
	}
	defer f.Close()
	const n = 2048
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// Wait implements drivers.Driver: the qemu process's exit, as the runner
// recorded it.
func (d *Driver) Wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return drivers.ExitResult{}, err
	}
	return d.cfg.Runner.Wait(ctx, t.st.Runner)
}

// Stop implements drivers.Driver. With graceful_shutdown it presses the
// VM's ACPI power button over QMP and waits timeout for the guest to
// power off, then kills QEMU; otherwise it signals QEMU (signal, else the
// task's kill_signal, else SIGTERM, which ends the VM at once) and kills
// it after timeout.
func (d *Driver) Stop(ctx context.Context, h *drivers.TaskHandle, signal string, timeout time.Duration) error {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return err
	}
	signal, timeout = drivers.StopDefaults(h, signal, timeout, defaultKillTimeout)
	if signal == "" {
		signal = "SIGTERM"
	}
	if !t.st.Graceful {
		return d.cfg.Runner.Stop(ctx, t.st.Runner, signal, timeout)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = qmpExecute(qctx, t.st.QMPPath, "system_powerdown")
	cancel()
	if err != nil {
		d.log.Warn("graceful shutdown over QMP failed; killing the VM", "task", h.TaskID, "err", err)
		return d.cfg.Runner.Stop(ctx, t.st.Runner, "SIGKILL", timeout)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	_, err = d.cfg.Runner.Wait(wctx, t.st.Runner)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.log.Info("VM did not power off within its kill timeout; killing it", "task", h.TaskID, "timeout", timeout)
	return d.cfg.Runner.Stop(ctx, t.st.Runner, "SIGKILL", timeout)
}

// Recover implements drivers.Driver: the runner re-attaches to the qemu
// process; the QMP socket path comes from the handle.
func (d *Driver) Recover(ctx context.Context, h *drivers.TaskHandle) error {
	var st handleState
	if err := drivers.DecodeState(Name, h, &st); err != nil {
		return err
	}
	if st.Runner == nil || st.QMPPath == "" {
		return fmt.Errorf("qemu: recover %s: handle state lacks the process handle or QMP socket", h.TaskID)
	}
	if _, ok := d.tasks.Get(h.TaskID); ok {
		return nil
	}
	if err := d.cfg.Runner.Recover(ctx, st.Runner); err != nil {
		return fmt.Errorf("qemu: recover %s: %w", h.TaskID, err)
	}
	d.tasks.Put(h.TaskID, &task{st: st})
	return nil
}

// Destroy implements drivers.Driver: the runner kills QEMU if it still
// runs; the QMP socket goes with it.
func (d *Driver) Destroy(ctx context.Context, h *drivers.TaskHandle) error {
	t, err := d.tasks.LookupOrRecover(ctx, h, d.Recover)
	if err != nil {
		return err
	}
	if err := d.cfg.Runner.Destroy(ctx, t.st.Runner); err != nil {
		return fmt.Errorf("qemu: destroy %s: %w", h.TaskID, err)
	}
	d.tasks.Delete(h.TaskID)
	if err := os.Remove(t.st.QMPPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
