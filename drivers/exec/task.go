package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/droverhq/drover/drivers"
)

// task is the driver's in-memory record of a started or recovered task.
type task struct {
	st handleState
	// proc is the shim when this agent process started it: ours to reap.
	proc *os.Process

	stop     chan struct{} // closed to abandon watching (Destroy, Close)
	stopOnce sync.Once
	exit     drivers.TaskExit
}

func (t *task) abandon() { t.stopOnce.Do(func() { close(t.stop) }) }

// track records a task and starts the goroutine that learns how it ended.
func (d *Driver) track(id string, st handleState, proc *os.Process) *task {
	t := &task{st: st, proc: proc, stop: make(chan struct{})}
	d.tasks.Put(id, t)
	d.wg.Go(func() { d.watch(t) })
	return t
}

// watch waits for the shim to exit and takes the task's exit from its
// status file. If the shim died without one (killed by someone), the task
// may still run, orphaned: then it waits for the task, whose exit code no
// one can know.
func (d *Driver) watch(t *task) {
	if !waitGone(t.stop, t.st.ShimPID, t.st.ShimStartTime) {
		return
	}
	if t.proc != nil {
		_, _ = t.proc.Wait() // our child: reap it
	}
	st, err := readStatus(t.st.StatusPath)
	if err == nil {
		t.exit.Set(drivers.ExitResult{ExitCode: st.ExitCode, Signal: st.Signal, OOMKilled: st.OOMKilled})
		return
	}
	if running(t.st.PID, t.st.StartTime) {
		d.log.Warn("exec shim is gone but the task runs on; its exit code will be lost", "shim_pid", t.st.ShimPID, "pid", t.st.PID)
	}
	if !waitGone(t.stop, t.st.PID, t.st.StartTime) {
		return
	}
	t.exit.Set(drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("%w: the exec shim recorded no exit status (%v)", drivers.ErrExitUnknown, err)})
}

// Wait implements drivers.Driver.
func (d *Driver) Wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return drivers.ExitResult{}, err
	}
	return t.exit.Wait(ctx)
}

// Stop implements drivers.Driver. Signals go to the task's process group,
// so a shell's children get them too; a task that outlives timeout is
// SIGKILLed, group and cgroup.
func (d *Driver) Stop(ctx context.Context, h *drivers.TaskHandle, signal string, timeout time.Duration) error {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return err
	}
	signal, timeout = drivers.StopDefaults(h, signal, timeout, defaultKillTimeout)
	sig := defaultKillSignal
	if signal != "" {
		if sig, err = parseSignal(signal); err != nil {
			return fmt.Errorf("exec: stop %s: %w", h.TaskID, err)
		}
	}
	if t.exit.Exited() {
		return nil
	}
	if _, err := signalGroup(t.st.PID, t.st.StartTime, sig); err != nil {
		return fmt.Errorf("exec: stop %s: %w", h.TaskID, err)
	}
	if exited, err := t.exit.WaitTimeout(ctx, timeout); exited || err != nil {
		return err
	}
	d.log.Info("task outlived its kill timeout; killing it", "task", h.TaskID, "signal", sig, "timeout", timeout)
	return d.kill(ctx, t)
}

// kill SIGKILLs the task's group and cgroup and waits for the exit.
func (d *Driver) kill(ctx context.Context, t *task) error {
	if _, err := signalGroup(t.st.PID, t.st.StartTime, syscall.SIGKILL); err != nil {
		return err
	}
	killCgroup(t.st.Cgroup)
	for _, dir := range t.st.CgroupV1 {
		killCgroup(dir)
	}
	_, err := t.exit.Wait(ctx)
	return err
}

// Recover implements drivers.Driver. It never signals anything: a handle
// whose processes no longer match their recorded start times is a task
// that exited, and Wait reports what its status file says, or
// ErrExitUnknown.
func (d *Driver) Recover(ctx context.Context, h *drivers.TaskHandle) error {
	var st handleState
	if err := drivers.DecodeState(d.cfg.Name, h, &st); err != nil {
		return err
	}
	if st.PID <= 0 || st.ShimPID <= 0 || st.StatusPath == "" {
		return fmt.Errorf("%s: recover %s: handle state lacks pids or status path", d.cfg.Name, h.TaskID)
	}
	if _, ok := d.tasks.Get(h.TaskID); ok {
		return nil
	}
	d.track(h.TaskID, st, nil)
	d.log.Info("task recovered", "task", h.TaskID, "pid", st.PID, "running", running(st.PID, st.StartTime))
	return nil
}

// Destroy implements drivers.Driver. A handle this driver does not know
// (the agent restarted and never recovered it) is recovered first, so its
// processes and cgroup are cleaned up all the same.
func (d *Driver) Destroy(ctx context.Context, h *drivers.TaskHandle) error {
	t, err := d.tasks.LookupOrRecover(ctx, h, d.Recover)
	if err != nil {
		return err
	}
	if !t.exit.Exited() {
		if err := d.kill(ctx, t); err != nil {
			return fmt.Errorf("exec: destroy %s: %w", h.TaskID, err)
		}
	}
	t.abandon()
	d.tasks.Delete(h.TaskID)
	var errs []error
	for _, dir := range append([]string{t.st.Cgroup}, t.st.CgroupV1...) {
		if err := removeCgroup(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(t.st.StatusPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close stops watching tasks without touching them, as an agent that shuts
// down (or is upgraded) must: the tasks run on and a new driver Recovers
// them. It waits for the watcher goroutines.
func (d *Driver) Close() error {
	for _, t := range d.tasks.Clear() {
		t.abandon()
	}
	d.wg.Wait()
	return nil
}
