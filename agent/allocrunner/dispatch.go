package allocrunner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Dispatched jobs and max_run_duration: the agent's half of Nomad's
// parameterized and batch-timeout features.

// writeDispatchPayload writes a dispatched job's payload to the file the
// task's dispatch_payload block names, inside its local/ directory,
// before the task starts (Nomad's dispatch hook; an empty payload makes
// an empty file, as there). The name comes from the job file: it is
// joined with securejoin, so a link the task planted in local/ cannot
// lead the agent's write outside it, and the file is replaced by a
// rename, never written through a link.
func writeDispatchPayload(t *jobspec.Task, payload []byte, localDir string) error {
	if t.DispatchPayload == nil || t.DispatchPayload.File == "" {
		return nil
	}
	name := t.DispatchPayload.File
	if !filepath.IsLocal(name) {
		return fmt.Errorf("dispatch_payload file %q must be a relative path inside the task's local/ directory", name)
	}
	path, err := securejoin.SecureJoin(localDir, name)
	if err != nil {
		return fmt.Errorf("dispatch_payload file %q: %w", name, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dispatch_payload file %q: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, ".payload-*")
	if err != nil {
		return fmt.Errorf("dispatch_payload file %q: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	_, err = tmp.Write(payload)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write the dispatch payload to %s: %w", name, err)
	}
	return nil
}

// maxRunDuration is how long one run of the task may last: the task's
// max_run_duration, else its group's; 0 for no limit. Only batch and
// sysbatch jobs have one: a service is meant to run for ever.
func maxRunDuration(batch bool, g *jobspec.Group, t *jobspec.Task) time.Duration {
	if !batch {
		return 0
	}
	if t.MaxRunDuration > 0 {
		return t.MaxRunDuration
	}
	if g != nil {
		return g.MaxRunDuration
	}
	return 0
}

// maxRunPrefix starts the event of a task killed for running too long;
// lifecycle decisions recognise it in the task's persisted events.
const maxRunPrefix = "Task exceeded max_run_duration of "

func maxRunMessage(d time.Duration) string { return maxRunPrefix + d.String() }

// checkJobID applies the job ID rule to each element of an ID: the
// servers name periodic and dispatched children <parent>/periodic-<unix>
// and <parent>/dispatch-..., the only job IDs with a slash (a job file
// or the API cannot make one), and the ID names no path on the node.
func checkJobID(id string) error {
	for _, part := range strings.Split(id, "/") {
		if err := jobspec.CheckName(jobspec.JobIDName, part); err != nil {
			return fmt.Errorf("job ID %q: %w", id, err)
		}
	}
	return nil
}

// deadline arms the current run's max_run_duration, counted from the
// run's start (StartedAt, which an agent restart keeps for a task it
// re-attaches to), and returns what disarms it. A run past it is killed
// as with kill, but ends failed, with the reason as its event.
func (tr *taskRunner) deadline() (disarm func()) {
	d := maxRunDuration(tr.ar.batch(), tr.ar.group, tr.task)
	if d <= 0 {
		return func() {}
	}
	left := d - tr.ar.now().Sub(tr.snapshot().StartedAt)
	timer := time.AfterFunc(max(left, 0), func() { tr.timeout(d) })
	return func() { timer.Stop() }
}

// timedOut reports whether a task was killed for outlasting its
// max_run_duration, from its events, which the agent persists: the
// decision to skip the poststop tasks survives an agent restart.
func timedOut(st *cluster.TaskState) bool {
	for i := len(st.Events) - 1; i >= 0; i-- {
		if e := st.Events[i]; e.Type == EventKilled && strings.HasPrefix(e.Message, maxRunPrefix) {
			return true
		}
	}
	return false
}
