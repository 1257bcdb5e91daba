package allocrunner

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/droverhq/drover/agent/taskenv"
)

// The allocation directory, Nomad's layout:
//
//	<root>/alloc/            shared by the group's tasks (NOMAD_ALLOC_DIR)
//	<root>/alloc/logs/       <task>.stdout.N, <task>.stderr.N
//	<root>/alloc/data/, tmp/
//	<root>/<task>/           the task's working directory
//	<root>/<task>/local/     NOMAD_TASK_DIR
//	<root>/<task>/secrets/   NOMAD_SECRETS_DIR, mode 0700
//	<root>/<task>/tmp/
//	<root>/.state/<task>/    the driver's files for the task, not the task's
type allocDir struct{ root string }

func (d allocDir) shared() string { return filepath.Join(d.root, "alloc") }
func (d allocDir) logs() string   { return filepath.Join(d.root, "alloc", "logs") }
func (d allocDir) state(t string) string {
	return filepath.Join(d.root, ".state", t)
}

func (d allocDir) task(t string) taskenv.Dirs {
	dir := filepath.Join(d.root, t)
	return taskenv.Dirs{
		Alloc:   d.shared(),
		Task:    dir,
		Local:   filepath.Join(dir, "local"),
		Secrets: filepath.Join(dir, "secrets"),
		Tmp:     filepath.Join(dir, "tmp"),
	}
}

// buildShared creates the allocation's shared directories.
func (d allocDir) buildShared() error {
	for _, p := range []string{d.logs(), filepath.Join(d.shared(), "data"), filepath.Join(d.shared(), "tmp")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("build allocation directory: %w", err)
		}
	}
	// Tasks of any user write their data and tmp files here.
	for _, p := range []string{filepath.Join(d.shared(), "data"), filepath.Join(d.shared(), "tmp")} {
		if err := os.Chmod(p, 0o777|os.ModeSticky); err != nil {
			return fmt.Errorf("build allocation directory: %w", err)
		}
	}
	return nil
}

// buildTask creates a task's directories, owned by the task's user when
// the agent may hand them over (it runs as root).
func (d allocDir) buildTask(name, userName string) (taskenv.Dirs, error) {
	dirs := d.task(name)
	mk := []struct {
		path string
		mode os.FileMode
	}{{dirs.Task, 0o755}, {dirs.Local, 0o755}, {dirs.Secrets, 0o700}, {dirs.Tmp, 0o1777}, {d.state(name), 0o700}}
	for _, m := range mk {
		if err := os.MkdirAll(m.path, m.mode); err != nil {
			return dirs, fmt.Errorf("build task directory: %w", err)
		}
		if err := os.Chmod(m.path, m.mode); err != nil {
			return dirs, fmt.Errorf("build task directory: %w", err)
		}
	}
	if userName == "" || os.Geteuid() != 0 {
		return dirs, nil
	}
	u, err := user.Lookup(userName)
	if err != nil {
		// The driver reports an unknown user in its own words when it
		// starts the task; the directories stay root's.
		return dirs, nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range []string{dirs.Task, dirs.Local, dirs.Secrets, dirs.Tmp} {
		if err := os.Chown(p, uid, gid); err != nil {
			return dirs, fmt.Errorf("build task directory: %w", err)
		}
	}
	return dirs, nil
}
