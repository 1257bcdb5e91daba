package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TaskTable is a driver's record of the tasks it tracks, by task ID: what
// Start and Recover put there is what Wait, Stop and Destroy find. T is the
// driver's own per-task record. Safe for concurrent use.
type TaskTable[T any] struct {
	// driver prefixes the errors, as every other error of the driver.
	driver string

	mu    sync.Mutex
	tasks map[string]T
}

// NewTaskTable returns an empty table for the named driver.
func NewTaskTable[T any](driver string) *TaskTable[T] {
	return &TaskTable[T]{driver: driver, tasks: map[string]T{}}
}

// Get returns the task with the given ID, if the table has it.
func (tt *TaskTable[T]) Get(id string) (T, bool) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	t, ok := tt.tasks[id]
	return t, ok
}

// Put records t under id, replacing whatever was there.
func (tt *TaskTable[T]) Put(id string, t T) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.tasks[id] = t
}

// Delete forgets the task with the given ID.
func (tt *TaskTable[T]) Delete(id string) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	delete(tt.tasks, id)
}

// All returns the tasks the table holds, in no particular order.
func (tt *TaskTable[T]) All() []T {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	all := make([]T, 0, len(tt.tasks))
	for _, t := range tt.tasks {
		all = append(all, t)
	}
	return all
}

// Clear forgets every task and returns them, for a driver that stops
// watching its tasks without touching them.
func (tt *TaskTable[T]) Clear() []T {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	all := make([]T, 0, len(tt.tasks))
	for id, t := range tt.tasks {
		all = append(all, t)
		delete(tt.tasks, id)
	}
	return all
}

// Lookup returns the task of h. A handle the table does not hold is
// ErrTaskNotFound: the caller may Recover it.
func (tt *TaskTable[T]) Lookup(h *TaskHandle) (T, error) {
	var zero T
	if h == nil {
		return zero, fmt.Errorf("%s: nil task handle", tt.driver)
	}
	t, ok := tt.Get(h.TaskID)
	if !ok {
		return zero, fmt.Errorf("%s: task %q: %w", tt.driver, h.TaskID, ErrTaskNotFound)
	}
	return t, nil
}

// LookupOrRecover is Lookup for Destroy, which must clean up after a
// restarted agent that never recovered the handle: a handle the table does
// not hold is passed to recoverTask, which puts it there, and looked up
// again.
func (tt *TaskTable[T]) LookupOrRecover(ctx context.Context, h *TaskHandle, recoverTask func(context.Context, *TaskHandle) error) (T, error) {
	t, err := tt.Lookup(h)
	if errors.Is(err, ErrTaskNotFound) {
		if err := recoverTask(ctx, h); err != nil {
			return t, err
		}
		t, err = tt.Lookup(h)
	}
	return t, err
}

// StopDefaults fills in Stop's arguments as Driver.Stop documents: an
// empty signal is the task's KillSignal, a zero timeout its KillTimeout,
// then defaultTimeout. The signal may stay empty: then the driver's own
// default applies.
func StopDefaults(h *TaskHandle, signal string, timeout, defaultTimeout time.Duration) (string, time.Duration) {
	if signal == "" && h.Config != nil {
		signal = h.Config.KillSignal
	}
	if timeout <= 0 && h.Config != nil {
		timeout = h.Config.KillTimeout
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return signal, timeout
}

// DecodeState checks, for Recover, that h is a handle of the named driver
// and decodes its State into v. A handle that names no driver passes.
func DecodeState(driver string, h *TaskHandle, v any) error {
	if h == nil {
		return fmt.Errorf("%s: nil task handle", driver)
	}
	if h.Driver != "" && h.Driver != driver {
		return fmt.Errorf("%s: handle of task %q belongs to driver %q", driver, h.TaskID, h.Driver)
	}
	if err := json.Unmarshal(h.State, v); err != nil {
		return fmt.Errorf("%s: recover %s: bad handle state: %w", driver, h.TaskID, err)
	}
	return nil
}

// TaskExit is how a task ended, for drivers that watch their tasks
// themselves: the watcher sets it once, and any number of Wait, Stop and
// Destroy calls wait for it. The zero value is a task still running.
type TaskExit struct {
	once   sync.Once
	done   chan struct{} // closed once result is set
	result ExitResult
}

func (e *TaskExit) init() { e.once.Do(func() { e.done = make(chan struct{}) }) }

// Done is closed once the task has exited.
func (e *TaskExit) Done() <-chan struct{} {
	e.init()
	return e.done
}

// Exited reports whether the task has exited.
func (e *TaskExit) Exited() bool {
	select {
	case <-e.Done():
		return true
	default:
		return false
	}
}

// Set records how the task ended and releases its waiters. A task ends
// once: a second Set panics.
func (e *TaskExit) Set(r ExitResult) {
	e.init()
	e.result = r
	close(e.done)
}

// Wait blocks until the task has exited and reports how, or until ctx
// ends.
func (e *TaskExit) Wait(ctx context.Context) (ExitResult, error) {
	select {
	case <-e.Done():
		return e.result, nil
	case <-ctx.Done():
		return ExitResult{}, ctx.Err()
	}
}

// WaitTimeout waits at most timeout for the exit, for Stop's grace period
// before it kills the task. It reports whether the task exited in time; an
// error is ctx's.
func (e *TaskExit) WaitTimeout(ctx context.Context, timeout time.Duration) (bool, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Done():
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-timer.C:
		return false, nil
	}
}
