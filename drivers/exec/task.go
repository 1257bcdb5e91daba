package exec

import (
	"context"
	"encoding/json"
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
	exited   chan struct{} // closed once result is set
	result   drivers.ExitResult
}

func (t *task) abandon() { t.stopOnce.Do(func() { close(t.stop) }) }

func (t *task) isExited() bool {
	select {
	case <-t.exited:
		return true
	default:
		return false
	}
}

// track records a task and starts the goroutine that learns how it ended.
func (d *Driver) track(id string, st handleState, proc *os.Process) *task {
	t := &task{st: st, proc: proc, stop: make(chan struct{}), exited: make(chan struct{})}
	d.mu.Lock()
	d.tasks[id] = t
	d.mu.Unlock()
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
		t.result = drivers.ExitResult{ExitCode: st.ExitCode, Signal: st.Signal, OOMKilled: st.OOMKilled}
		close(t.exited)
		return
	}
	if running(t.st.PID, t.st.StartTime) {
		d.log.Warn("exec shim is gone but the task runs on; its exit code will be lost", "shim_pid", t.st.ShimPID, "pid", t.st.PID)
	}
	if !waitGone(t.stop, t.st.PID, t.st.StartTime) {
		return
	}
	t.result = drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("%w: the exec shim recorded no exit status (%v)", drivers.ErrExitUnknown, err)}
	close(t.exited)
}

func (d *Driver) lookup(h *drivers.TaskHandle) (*task, error) {
	if h == nil {
		return nil, errors.New("exec: nil task handle")
	}
	d.mu.Lock()
	t, ok := d.tasks[h.TaskID]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("exec: task %q: %w", h.TaskID, drivers.ErrTaskNotFound)
	}
	return t, nil
}

// Wait implements drivers.Driver.
func (d *Driver) Wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, error) {
	t, err := d.lookup(h)
	if err != nil {
		return drivers.ExitResult{}, err
	}
	select {
	case <-t.exited:
		return t.result, nil
	case <-ctx.Done():
		return drivers.ExitResult{}, ctx.Err()
	}
}

// Stop implements drivers.Driver. Signals go to the task's process group,
// so a shell's children get them too; a task that outlives timeout is
// SIGKILLed, group and cgroup.
func (d *Driver) Stop(ctx context.Context, h *drivers.TaskHandle, signal string, timeout time.Duration) error {
	t, err := d.lookup(h)
	if err != nil {
		return err
	}
	sig := defaultKillSignal
	if signal == "" && h.Config != nil {
		signal = h.Config.KillSignal
	}
	if signal != "" {
		if sig, err = parseSignal(signal); err != nil {
			return fmt.Errorf("exec: stop %s: %w", h.TaskID, err)
		}
	}
	if timeout <= 0 && h.Config != nil {
		timeout = h.Config.KillTimeout
	}
	if timeout <= 0 {
		timeout = defaultKillTimeout
	}
	if t.isExited() {
		return nil
	}
	if _, err := signalGroup(t.st.PID, t.st.StartTime, sig); err != nil {
		return fmt.Errorf("exec: stop %s: %w", h.TaskID, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
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
	select {
	case <-t.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recover implements drivers.Driver. It never signals anything: a handle
// whose processes no longer match their recorded start times is a task
// that exited, and Wait reports what its status file says, or
// ErrExitUnknown.
func (d *Driver) Recover(ctx context.Context, h *drivers.TaskHandle) error {
	if h == nil {
		return errors.New("exec: nil task handle")
	}
	if h.Driver != "" && h.Driver != Name {
		return fmt.Errorf("exec: handle of task %q belongs to driver %q", h.TaskID, h.Driver)
	}
	var st handleState
	if err := json.Unmarshal(h.State, &st); err != nil {
		return fmt.Errorf("exec: recover %s: bad handle state: %w", h.TaskID, err)
	}
	if st.PID <= 0 || st.ShimPID <= 0 || st.StatusPath == "" {
		return fmt.Errorf("exec: recover %s: handle state lacks pids or status path", h.TaskID)
	}
	d.mu.Lock()
	_, ok := d.tasks[h.TaskID]
	d.mu.Unlock()
	if ok {
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
	t, err := d.lookup(h)
	if errors.Is(err, drivers.ErrTaskNotFound) {
		if err := d.Recover(ctx, h); err != nil {
			return err
		}
		t, err = d.lookup(h)
	}
	if err != nil {
		return err
	}
	if !t.isExited() {
		if err := d.kill(ctx, t); err != nil {
			return fmt.Errorf("exec: destroy %s: %w", h.TaskID, err)
		}
	}
	t.abandon()
	d.mu.Lock()
	delete(d.tasks, h.TaskID)
	d.mu.Unlock()
	var errs []error
	if err := removeCgroup(t.st.Cgroup); err != nil {
		errs = append(errs, err)
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
	d.mu.Lock()
	for id, t := range d.tasks {
		t.abandon()
		delete(d.tasks, id)
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}
