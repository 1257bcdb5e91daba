package allocrunner

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/jobspec"
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
//
// Task names come from job files. Every path below the root is made with
// securejoin.SecureJoin, after checking the name by jobspec.CheckName, and
// a directory the agent creates, chmods or chowns must not be reached
// through a symbolic link: a task owns its directory and could otherwise
// replace local/ by a link to / and have the agent chown the target.
type allocDir struct{ root string }

// sharedName is the shared directory's name; no task may have it.
const sharedName = "alloc"

func (d allocDir) shared() string { return filepath.Join(d.root, sharedName) }
func (d allocDir) logs() string   { return filepath.Join(d.root, sharedName, "logs") }

// checkAllocID refuses an allocation ID that is not one path element:
// the agent names the allocation directory after it.
func checkAllocID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\\x00") {
		return fmt.Errorf("allocation ID %q cannot name a directory", id)
	}
	return nil
}

// checkNames applies the job file name rule to what the allocation
// names: the servers refuse such jobs, and an agent refuses them again
// before it builds anything, whatever sent them.
func checkNames(job *jobspec.Job, g *jobspec.Group) error {
	var errs []error
	errs = append(errs, checkJobID(job.ID), jobspec.CheckName(jobspec.GroupName, g.Name))
	for _, t := range g.Tasks {
		errs = append(errs, checkTaskName(t.Name))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("refusing to build the allocation directory: %w", err)
	}
	return nil
}

func checkTaskName(name string) error {
	if err := jobspec.CheckName(jobspec.TaskName, name); err != nil {
		return err
	}
	if name == sharedName {
		return fmt.Errorf("task name %q is the allocation's shared directory", name)
	}
	return nil
}

// path joins rel (slash-separated, made of the agent's own names and
// checked names) onto the root with securejoin, and refuses the result
// when a symbolic link changed where it leads.
func (d allocDir) path(rel string) (string, error) {
	want := filepath.Join(d.root, rel)
	got, err := securejoin.SecureJoin(d.root, rel)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", want, err)
	}
	if got != want {
		return "", fmt.Errorf("%s leads to %s through a symbolic link; the agent only uses real directories in an allocation", want, got)
	}
	return got, nil
}

// mkdir creates the directory rel with mode, owned by uid:gid when uid is
// not -1. The mode and owner are set through a descriptor opened without
// following a link, so a link planted after path checked the way cannot
// redirect them.
func (d allocDir) mkdir(rel string, mode os.FileMode, uid, gid int) (string, error) {
	p, err := d.path(rel)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(p, mode); err != nil {
		return "", err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w (a symbolic link?)", p, err)
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return "", err
	}
	if uid != -1 {
		if err := f.Chown(uid, gid); err != nil {
			return "", err
		}
	}
	return p, nil
}

// buildShared creates the allocation's shared directories.
func (d allocDir) buildShared() error {
	for _, m := range []struct {
		rel  string
		mode os.FileMode
	}{
		{sharedName, 0o755},
		{sharedName + "/logs", 0o755},
		// Tasks of any user write their data and tmp files here.
		{sharedName + "/data", 0o777 | os.ModeSticky},
		{sharedName + "/tmp", 0o777 | os.ModeSticky},
	} {
		if _, err := d.mkdir(m.rel, m.mode, -1, -1); err != nil {
			return fmt.Errorf("build allocation directory: %w", err)
		}
	}
	return nil
}

// taskDirs are the directories of one task.
type taskDirs struct {
	taskenv.Dirs
	State string // the driver's, never the task's
}

// buildTask creates a task's directories, owned by the task's user when
// the agent may hand them over (it runs as root), and checks the shared
// directory and its logs/ are still real directories.
func (d allocDir) buildTask(name, userName string) (taskDirs, error) {
	var dirs taskDirs
	if err := checkTaskName(name); err != nil {
		return dirs, fmt.Errorf("build task directory: %w", err)
	}
	for _, rel := range []string{sharedName, sharedName + "/logs"} {
		if _, err := d.path(rel); err != nil {
			return dirs, fmt.Errorf("build task directory: %w", err)
		}
	}
	uid, gid := -1, -1
	if userName != "" && os.Geteuid() == 0 {
		// An unknown user is reported by the driver, in its own words,
		// when it starts the task; the directories stay root's.
		if u, err := user.Lookup(userName); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
	}
	dirs.Alloc = d.shared()
	for _, m := range []struct {
		dst   *string
		rel   string
		mode  os.FileMode
		owned bool
	}{
		{&dirs.Task, name, 0o755, true},
		{&dirs.Local, name + "/local", 0o755, true},
		{&dirs.Secrets, name + "/secrets", 0o700, true},
		{&dirs.Tmp, name + "/tmp", 0o777 | os.ModeSticky, true},
		{&dirs.State, ".state/" + name, 0o700, false},
	} {
		u, g := uid, gid
		if !m.owned {
			u, g = -1, -1
		}
		p, err := d.mkdir(m.rel, m.mode, u, g)
		if err != nil {
			return dirs, fmt.Errorf("build task directory: %w", err)
		}
		*m.dst = p
	}
	return dirs, nil
}
