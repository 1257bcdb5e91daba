package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

const (
	defaultKillTimeout = 5 * time.Second
	defaultKillSignal  = "SIGTERM" // docker stop's, so tasks behave as under `docker stop`
	// logDrainTimeout bounds how long an exit waits for the last output
	// to reach the log files before it is reported.
	logDrainTimeout = 5 * time.Second
	// cleanupTimeout bounds removing a container whose Start failed after
	// the caller's context ended.
	cleanupTimeout = 30 * time.Second
)

// handleState is TaskHandle.State for docker.
type handleState struct {
	ContainerID   string    `json:"container_id"`
	ContainerName string    `json:"container_name"`
	Image         string    `json:"image"`
	Logs          logTarget `json:"logs"`
}

// task is the driver's record of a started or recovered container.
type task struct {
	id string
	st handleState

	// ctx ends when the driver stops watching the task (Destroy, Close);
	// the container itself is untouched by that.
	ctx      context.Context
	abandon  context.CancelFunc
	logsDone chan struct{}
	exit     drivers.TaskExit
}

// Start implements drivers.Driver. It returns once the container runs:
// an invalid config, an image that cannot be had or a container the
// daemon refuses is an error here, and nothing is left behind.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("docker: task config with an ID is required")
	}
	spec, err := buildSpec(d.cfg, cfg)
	if err != nil {
		return nil, err
	}
	logs, err := resolveLogs(cfg)
	if err != nil {
		return nil, err
	}
	if _, dup := d.tasks.Get(cfg.ID); dup {
		return nil, fmt.Errorf("docker: task %q is already running", cfg.ID)
	}
	if err := d.ensureImage(ctx, cfg.ID, spec); err != nil {
		return nil, err
	}
	id, err := d.create(ctx, cfg, spec)
	if err != nil {
		return nil, err
	}
	// A position left by an earlier container of this task would skip
	// this one's first lines.
	if err := os.Remove(logs.PosPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.removeQuietly(ctx, id)
		return nil, fmt.Errorf("docker: remove old log position: %w", err)
	}
	if _, err := d.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		d.removeQuietly(ctx, id)
		return nil, fmt.Errorf("docker: start container %s for image %s: %w", spec.Name, spec.Image, err)
	}
	st := handleState{ContainerID: id, ContainerName: spec.Name, Image: spec.Image, Logs: logs}
	raw, err := json.Marshal(st)
	if err != nil {
		d.removeQuietly(ctx, id)
		return nil, err
	}
	d.track(ctx, cfg.ID, st, nil)
	d.log.Info("container started", "task", cfg.ID, "container", id, "image", spec.Image)
	return &drivers.TaskHandle{Driver: Name, TaskID: cfg.ID, Config: cfg, StartedAt: time.Now(), State: raw}, nil
}

// create creates the container. A container that already holds the name
// and carries this task's labels is a leftover of an earlier attempt
// (the agent died before it recorded the handle): it is replaced.
func (d *Driver) create(ctx context.Context, cfg *drivers.TaskConfig, spec *containerSpec) (string, error) {
	opts := client.ContainerCreateOptions{Name: spec.Name, Config: spec.Config, HostConfig: spec.Host}
	res, err := d.api.ContainerCreate(ctx, opts)
	if cerrdefs.IsConflict(err) {
		old, ierr := d.api.ContainerInspect(ctx, spec.Name, client.ContainerInspectOptions{})
		if ierr != nil || old.Container.Config == nil ||
			old.Container.Config.Labels[LabelAllocID] != cfg.AllocID || old.Container.Config.Labels[LabelTask] != cfg.TaskName {
			return "", fmt.Errorf("docker: container name %s is taken by a container that is not this task's: %w", spec.Name, err)
		}
		d.log.Warn("replacing a leftover container of this task", "task", cfg.ID, "container", old.Container.ID)
		if _, rerr := d.api.ContainerRemove(ctx, old.Container.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			return "", fmt.Errorf("docker: remove leftover container %s: %w", spec.Name, rerr)
		}
		res, err = d.api.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", fmt.Errorf("docker: create container %s from image %s: %w", spec.Name, spec.Image, err)
	}
	for _, w := range res.Warnings {
		d.log.Warn("docker warning", "task", cfg.ID, "warning", w)
	}
	return res.ID, nil
}

// removeQuietly removes a container Start could not finish, even when the
// caller's context is what ended Start.
func (d *Driver) removeQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := d.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		d.log.Warn("could not remove the container of a failed start", "container", id, "err", err)
	}
}

// track records a task and starts its watcher and log streamer. With a
// non-nil gone the task is already known to have ended that way. The
// task's goroutines outlive ctx (it is the caller's Start or Recover) but
// keep its values.
func (d *Driver) track(ctx context.Context, id string, st handleState, gone *drivers.ExitResult) *task {
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &task{id: id, st: st, ctx: tctx, abandon: cancel, logsDone: make(chan struct{})}
	d.tasks.Put(id, t)
	if gone != nil {
		close(t.logsDone)
		t.exit.Set(*gone)
		return t
	}
	d.wg.Go(func() { d.streamLogs(t) })
	d.wg.Go(func() { d.watch(t) })
	return t
}

// watch waits for the container to stop and records how it ended, once
// its last output reached the log files.
func (d *Driver) watch(t *task) {
	res, ok := d.waitStopped(t)
	if !ok {
		return
	}
	drain := time.NewTimer(logDrainTimeout)
	defer drain.Stop()
	select {
	case <-t.logsDone:
	case <-drain.C:
		d.log.Warn("container stopped but its log stream did not end", "task", t.id)
	case <-t.ctx.Done():
		return
	}
	t.exit.Set(res)
}

// waitStopped blocks until the container is not running. It reports false
// when the task was abandoned first. Daemon errors are retried: the
// daemon may be restarting under a live container.
func (d *Driver) waitStopped(t *task) (drivers.ExitResult, bool) {
	backoff := 100 * time.Millisecond
	for {
		w := d.api.ContainerWait(t.ctx, t.st.ContainerID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case r := <-w.Result:
			res := drivers.ExitResult{ExitCode: int(r.StatusCode)}
			if info, err := d.api.ContainerInspect(t.ctx, t.st.ContainerID, client.ContainerInspectOptions{}); err == nil && info.Container.State != nil {
				res.ExitCode = info.Container.State.ExitCode
				res.OOMKilled = info.Container.State.OOMKilled
			}
			return res, true
		case err := <-w.Error:
			if t.ctx.Err() != nil {
				return drivers.ExitResult{}, false
			}
			if cerrdefs.IsNotFound(err) {
				return drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("%w: container %s was removed", drivers.ErrExitUnknown, t.st.ContainerID)}, true
			}
			d.log.Warn("waiting for container failed; retrying", "task", t.id, "err", err)
		}
		select {
		case <-t.ctx.Done():
			return drivers.ExitResult{}, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Wait implements drivers.Driver.
func (d *Driver) Wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return drivers.ExitResult{}, err
	}
	return t.exit.Wait(ctx)
}

// Stop implements drivers.Driver: signal (default the task's kill_signal,
// then the image's STOPSIGNAL, then SIGTERM) to the container's main
// process, SIGKILL after timeout.
// The container stays, with its logs, until Destroy.
func (d *Driver) Stop(ctx context.Context, h *drivers.TaskHandle, signal string, timeout time.Duration) error {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return err
	}
	signal, timeout = drivers.StopDefaults(h, signal, timeout, defaultKillTimeout)
	if signal == "" {
		signal = d.stopSignal(ctx, t)
	}
	if t.exit.Exited() {
		return nil
	}
	// Kill-then-wait rather than ContainerStop: stop's signal parameter
	// needs API 1.42, and this must work against 1.41 daemons.
	if err := d.signal(ctx, t, signal); err != nil {
		return fmt.Errorf("docker: stop %s: %w", h.TaskID, err)
	}
	if exited, err := t.exit.WaitTimeout(ctx, timeout); exited || err != nil {
		return err
	}
	d.log.Info("container outlived its kill timeout; killing it", "task", h.TaskID, "signal", signal, "timeout", timeout)
	return d.kill(ctx, t)
}

// stopSignal is what `docker stop` would send: the image's STOPSIGNAL,
// else SIGTERM.
func (d *Driver) stopSignal(ctx context.Context, t *task) string {
	info, err := d.api.ContainerInspect(ctx, t.st.ContainerID, client.ContainerInspectOptions{})
	if err == nil && info.Container.Config != nil && info.Container.Config.StopSignal != "" {
		return info.Container.Config.StopSignal
	}
	return defaultKillSignal
}

// signal sends sig to a container, which may have stopped meanwhile.
func (d *Driver) signal(ctx context.Context, t *task, sig string) error {
	_, err := d.api.ContainerKill(ctx, t.st.ContainerID, client.ContainerKillOptions{Signal: sig})
	if err == nil || cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err) { // not running, or gone
		return nil
	}
	return err
}

func (d *Driver) kill(ctx context.Context, t *task) error {
	if err := d.signal(ctx, t, "SIGKILL"); err != nil {
		return err
	}
	_, err := t.exit.Wait(ctx)
	return err
}

// Recover implements drivers.Driver: it re-attaches to the container
// named in the handle, resuming its log stream after the last line
// written. A container that is gone is recovered as an exit nobody saw.
func (d *Driver) Recover(ctx context.Context, h *drivers.TaskHandle) error {
	var st handleState
	if err := drivers.DecodeState(Name, h, &st); err != nil {
		return err
	}
	if st.ContainerID == "" {
		return fmt.Errorf("docker: recover %s: handle state has no container ID", h.TaskID)
	}
	if _, ok := d.tasks.Get(h.TaskID); ok {
		return nil
	}
	info, err := d.api.ContainerInspect(ctx, st.ContainerID, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		d.track(ctx, h.TaskID, st, &drivers.ExitResult{ExitCode: -1,
			Err: fmt.Errorf("%w: container %s no longer exists", drivers.ErrExitUnknown, st.ContainerID)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("docker: recover %s: inspect container %s: %w", h.TaskID, st.ContainerID, err)
	}
	d.track(ctx, h.TaskID, st, nil)
	d.log.Info("container recovered", "task", h.TaskID, "container", st.ContainerID, "running", info.Container.State != nil && info.Container.State.Running)
	return nil
}

// Destroy implements drivers.Driver: it kills the container if it still
// runs, lets its last output reach the logs, and removes it with its
// anonymous volumes. A handle this driver does not know is recovered
// first, so a restarted agent cleans up all the same.
func (d *Driver) Destroy(ctx context.Context, h *drivers.TaskHandle) error {
	t, err := d.tasks.LookupOrRecover(ctx, h, d.Recover)
	if err != nil {
		return err
	}
	if !t.exit.Exited() {
		if err := d.kill(ctx, t); err != nil {
			return fmt.Errorf("docker: destroy %s: %w", h.TaskID, err)
		}
	}
	t.abandon()
	<-t.logsDone // its deferred position flush must not outlive the removal below
	d.tasks.Delete(h.TaskID)
	var errs []error
	if _, err := d.api.ContainerRemove(ctx, t.st.ContainerID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("docker: remove container %s: %w", t.st.ContainerName, err))
	}
	if err := os.Remove(t.st.Logs.PosPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
