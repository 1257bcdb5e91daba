package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/drivers"
)

// Errors RunAction returns, for the agent's API to answer.
var (
	ErrNoSuchAction   = errors.New("no such action")
	ErrTaskNotRunning = errors.New("task is not running")
	ErrCannotExec     = errors.New("the task's driver cannot run commands inside its tasks")
)

// RunAction runs the task's `action "name"` inside the running task,
// through its driver (drivers.Execer), as a script check runs: in the
// container, or in the exec task's namespaces and root as the task's
// user, with the task's environment; never on the host. Only actions the
// job declares run: the caller names one, not a command. The output is
// bounded by the driver; a non-zero exit code is a result, not an error.
func (r *Runner) RunAction(ctx context.Context, task, name string) (drivers.ExecResult, error) {
	var tr *taskRunner
	for _, t := range r.order {
		if t.task.Name == task {
			tr = t
		}
	}
	if tr == nil {
		return drivers.ExecResult{}, fmt.Errorf("%w: the allocation has no task %q (tasks: %s)", ErrNoSuchAction, task, strings.Join(r.TaskNames(), ", "))
	}
	var cmd []string
	var names []string
	for _, a := range tr.task.Actions {
		names = append(names, a.Name)
		if a.Name == name {
			cmd = append([]string{a.Command}, a.Args...)
		}
	}
	if cmd == nil {
		have := "it has none"
		if len(names) > 0 {
			have = "its actions: " + strings.Join(names, ", ")
		}
		return drivers.ExecResult{}, fmt.Errorf("%w: task %q has no action %q; %s", ErrNoSuchAction, task, name, have)
	}
	tr.mu.Lock()
	h, env := tr.handle, tr.execEnv
	tr.mu.Unlock()
	if h == nil {
		return drivers.ExecResult{}, fmt.Errorf("%w: task %q of allocation %s is not running; actions run only in a running task", ErrTaskNotRunning, task, r.id)
	}
	ex, ok := r.driverFor(tr.task).(drivers.Execer)
	if !ok {
		return drivers.ExecResult{}, fmt.Errorf("%w: driver %q has no way into task %q, and actions never run on the host", ErrCannotExec, tr.task.Driver, task)
	}
	// ${NOMAD_*}, ${env.X}, ${attr.*} and ${meta.*} in the command and
	// its arguments are the task's, as in Nomad.
	res := taskenv.NewResolver(taskenv.Input{Alloc: r.Alloc(), Job: r.cfg.Job, Group: r.group, Task: tr.task, Node: r.cfg.Node, IP: r.cfg.IP}, env)
	for i := range cmd {
		cmd[i] = res.Interpolate(cmd[i])
	}
	r.log.Info("running action", "task", task, "action", name)
	return ex.Exec(ctx, h, cmd)
}
