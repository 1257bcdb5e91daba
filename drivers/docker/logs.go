package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/logrotate"
)

const (
	defaultLogMaxFiles = 10
	defaultLogMaxMB    = 10
	logPosFile         = "docker-logs.pos"
	// posFlushEvery bounds how much output a crashed agent streams twice
	// after it restarts: what came after the last recorded position.
	posFlushEvery = 250 * time.Millisecond
)

// logTarget is where a task's output goes, resolved once at Start and
// kept in the handle so a restarted agent writes to the same files.
type logTarget struct {
	Dir      string `json:"dir"`
	Name     string `json:"name"` // files are <Dir>/<Name>.stdout.N
	MaxFiles int    `json:"max_files"`
	MaxBytes int64  `json:"max_bytes"`
	Disabled bool   `json:"disabled,omitempty"`
	// PosPath records the timestamp of the last line written, so a
	// restarted agent resumes the stream after it (`since`) instead of
	// writing everything again.
	PosPath string `json:"pos_path"`
}

func resolveLogs(cfg *drivers.TaskConfig) (logTarget, error) {
	l := logTarget{
		Dir:      cfg.Logs.Dir,
		MaxFiles: cfg.Logs.MaxFiles,
		MaxBytes: int64(cfg.Logs.MaxFileSizeMB) << 20,
		Disabled: cfg.Logs.Disabled,
		Name:     cfg.TaskName,
	}
	if l.Name == "" {
		l.Name = filepath.Base(cfg.ID)
	}
	// The name starts the log files' names: one path element.
	if err := jobspec.CheckName(jobspec.TaskName, l.Name); err != nil {
		return l, fmt.Errorf("docker: log files: %w", err)
	}
	if l.Dir == "" {
		l.Dir = cfg.Dir
		if cfg.AllocDir != "" {
			l.Dir = filepath.Join(cfg.AllocDir, "logs")
		}
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = defaultLogMaxFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultLogMaxMB << 20
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = cfg.Dir
	}
	if l.Dir == "" || stateDir == "" {
		return l, errors.New("docker: the task has no directory for its logs")
	}
	var err error
	if l.Dir, err = filepath.Abs(l.Dir); err != nil {
		return l, err
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return l, err
	}
	l.PosPath = filepath.Join(stateDir, logPosFile)
	if l.Disabled {
		return l, nil
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return l, fmt.Errorf("docker: log directory: %w", err)
	}
	return l, nil
}

// streamLogs copies the container's output into the rotated files until
// the container has stopped and its output is drained, or the task is
// abandoned. A broken stream (daemon restart) is reopened after the last
// line written.
func (d *Driver) streamLogs(t *task) {
	defer close(t.logsDone)
	if t.st.Logs.Disabled {
		return
	}
	out, err := logrotate.New(logrotate.Config{Dir: t.st.Logs.Dir, Name: t.st.Logs.Name + ".stdout", MaxFiles: t.st.Logs.MaxFiles, MaxFileSize: t.st.Logs.MaxBytes})
	if err != nil {
		d.log.Error("container logs are not captured", "task", t.id, "err", err)
		return
	}
	defer out.Close()
	errw, err := logrotate.New(logrotate.Config{Dir: t.st.Logs.Dir, Name: t.st.Logs.Name + ".stderr", MaxFiles: t.st.Logs.MaxFiles, MaxFileSize: t.st.Logs.MaxBytes})
	if err != nil {
		d.log.Error("container logs are not captured", "task", t.id, "err", err)
		return
	}
	defer errw.Close()
	pos := newLogPos(t.st.Logs.PosPath)
	defer pos.flush()

	backoff := 100 * time.Millisecond
	for {
		err := d.copyLogs(t.ctx, t.st.ContainerID, pos, out, errw)
		if t.ctx.Err() != nil || cerrdefs.IsNotFound(err) {
			return
		}
		if err == nil {
			// The stream ends when the container stops; it may also end
			// because the daemon restarted under a running container.
			res, ierr := d.api.ContainerInspect(t.ctx, t.st.ContainerID, client.ContainerInspectOptions{})
			if ierr == nil && res.Container.State != nil && !res.Container.State.Running {
				return
			}
			if cerrdefs.IsNotFound(ierr) {
				return
			}
		} else {
			d.log.Warn("container log stream broke; reopening", "task", t.id, "err", err)
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (d *Driver) copyLogs(ctx context.Context, id string, pos *logPos, out, errw io.Writer) error {
	rc, err := d.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true, Since: pos.since(),
	})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(&stampedWriter{w: out, pos: pos}, &stampedWriter{w: errw, pos: pos}, rc)
	return err
}

// stampedWriter takes one log message per Write, as StdCopy delivers a
// frame, and with Timestamps each frame starts with the message's
// RFC3339Nano time and a space: it records the time and writes the rest.
type stampedWriter struct {
	w   io.Writer
	pos *logPos
}

func (s *stampedWriter) Write(p []byte) (int, error) {
	msg := p
	var ts time.Time
	if i := strings.IndexByte(string(p[:min(len(p), 40)]), ' '); i > 0 {
		if t, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil {
			ts, msg = t, p[i+1:]
		}
	}
	if _, err := s.w.Write(msg); err != nil {
		return 0, err
	}
	if !ts.IsZero() {
		s.pos.advance(ts)
	}
	return len(p), nil
}

// logPos is the time of the last message written, persisted now and then.
type logPos struct {
	path string

	mu      sync.Mutex
	last    time.Time
	dirty   bool
	flushed time.Time
}

func newLogPos(path string) *logPos {
	p := &logPos{path: path}
	if b, err := os.ReadFile(path); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil {
			p.last = t
		}
	}
	return p
}

// since is the `since` of the next stream: just after the last message
// written. The daemon keeps messages at or after since, and stamps them
// to the nanosecond, so one nanosecond later skips exactly what we have.
func (p *logPos) since() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.IsZero() {
		return ""
	}
	n := p.last.Add(time.Nanosecond)
	return strconv.FormatInt(n.Unix(), 10) + "." + fmt.Sprintf("%09d", n.Nanosecond())
}

func (p *logPos) advance(t time.Time) {
	p.mu.Lock()
	if t.After(p.last) {
		p.last, p.dirty = t, true
	}
	due := p.dirty && time.Since(p.flushed) >= posFlushEvery
	p.mu.Unlock()
	if due {
		p.flush()
	}
}

func (p *logPos) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty {
		return
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(p.last.Format(time.RFC3339Nano)), 0o644); err != nil {
		return // the next flush tries again; a lost position costs duplicates only
	}
	if os.Rename(tmp, p.path) == nil {
		p.dirty, p.flushed = false, time.Now()
	}
}
