package docker

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.Execer = (*Driver)(nil)

// maxExecOutput bounds what Exec keeps of each of stdout and stderr.
const maxExecOutput = 64 << 10

// Exec implements drivers.Execer through the Engine's exec API, as
// `docker exec` does: cmd runs in the task's container, with its
// namespaces, cgroup, capabilities, user (the task's user) and
// environment (the task's, which the container was created with), and
// nothing of the agent's. A command that exits non-zero is not an error:
// ExecResult carries its code.
//
// When ctx ends first Exec stops waiting and returns ctx's error. The
// Engine API cannot kill an exec'd process, so a command that ignores
// its closed output runs on inside the container until it exits or the
// container stops.
func (d *Driver) Exec(ctx context.Context, h *drivers.TaskHandle, cmd []string) (drivers.ExecResult, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return drivers.ExecResult{}, err
	}
	if len(cmd) == 0 || cmd[0] == "" {
		return drivers.ExecResult{}, fmt.Errorf("docker: exec in %s: no command", h.TaskID)
	}
	if t.exit.Exited() {
		return drivers.ExecResult{}, fmt.Errorf("docker: exec in %s: the task is not running", h.TaskID)
	}
	created, err := d.api.ExecCreate(ctx, t.st.ContainerID, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: cmd})
	if err != nil {
		return drivers.ExecResult{}, fmt.Errorf("docker: exec in %s: %w", h.TaskID, err)
	}
	att, err := d.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return drivers.ExecResult{}, fmt.Errorf("docker: exec in %s: %w", h.TaskID, err)
	}
	defer att.Close()
	stdout := &boundedBuffer{max: maxExecOutput}
	stderr := &boundedBuffer{max: maxExecOutput}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		att.Close()
		<-copied
		return drivers.ExecResult{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()},
			fmt.Errorf("docker: exec in %s: %s: %w", h.TaskID, cmd[0], ctx.Err())
	}
	res := drivers.ExecResult{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	if err != nil {
		return res, fmt.Errorf("docker: exec in %s: read output: %w", h.TaskID, err)
	}
	// The stream ends as the process does; the Engine may take a moment
	// more to record its exit code.
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		insp, err := d.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return res, fmt.Errorf("docker: exec in %s: %w", h.TaskID, err)
		}
		if !insp.Running {
			res.ExitCode = insp.ExitCode
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("docker: exec in %s: %s: %w", h.TaskID, cmd[0], ctx.Err())
		case <-time.After(wait):
		}
	}
}

// boundedBuffer keeps the first max bytes written to it and drops the
// rest, reporting every write as complete.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
