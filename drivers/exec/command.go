package exec

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// defaultPath is the PATH a task gets when its env has none: the tasks of
// a node should not depend on how the agent happened to be started.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// taskEnv is the task's environment exactly as configured, plus PATH.
func taskEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	if _, ok := env["PATH"]; !ok {
		out = append(out, "PATH="+defaultPath)
	}
	slices.Sort(out)
	return out
}

// resolveCommandIn finds the executable before anything is forked, so a
// typo in a job file fails Start with a message instead of a task that
// dies at once. A command with a slash is relative to the task's working
// directory dir; a bare name is looked up in the task's PATH (relative
// entries again relative to dir), not the agent's. The task may see the
// host's files through toHost (an isolated task's root): dir, PATH and
// the result are paths as the task sees them, checked on the host paths
// behind them.
func resolveCommandIn(command, dir, pathEnv string, toHost func(string) (string, bool)) (string, error) {
	if command == "" {
		return "", errors.New("command is empty")
	}
	check := func(p string) error {
		h, ok := toHost(p)
		if !ok {
			return errors.New("is not inside the task's root (only the agent's chroot_env paths and the task's directories are)")
		}
		return checkExecutable(h)
	}
	if strings.Contains(command, "/") {
		p := command
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := check(p); err != nil {
			return "", fmt.Errorf("command %q %w", command, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, command)
		if check(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q", command, pathEnv)
}

// checkExecutable's errors complete a sentence that starts with the
// command's name.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("not found")
	case err != nil:
		return fmt.Errorf("cannot be run: %w", err)
	case fi.IsDir():
		return errors.New("is a directory")
	case fi.Mode().Perm()&0o111 == 0:
		return errors.New("is not executable")
	}
	return nil
}

// taskCredential returns the credential to run the task as user, or nil to
// run it as the agent's own user.
func taskCredential(name string) (*shimCredential, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("user %q does not exist on this node", name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	if euid := os.Geteuid(); euid != 0 {
		if u.Uid == strconv.Itoa(euid) {
			return nil, nil
		}
		return nil, fmt.Errorf("running a task as user %q needs the agent to run as root", name)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	cred := &shimCredential{UID: uint32(uid), GID: uint32(gid)}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: supplementary groups: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			continue // a non-numeric group id cannot be set anyway
		}
		cred.Groups = append(cred.Groups, uint32(n))
	}
	return cred, nil
}
