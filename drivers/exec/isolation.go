package exec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
)

// Isolation is how the exec driver confines a task, Nomad's exec model
// without its per-task copy of a root filesystem: the shim starts in new
// mount, PID, IPC and UTS namespaces, builds a root on a small tmpfs out of
// read-only bind mounts of the host paths in ChrootEnv plus the task's own
// directories, mounts a fresh /proc and a minimal /dev, and starts the task
// chrooted there, as DefaultUser unless the job names a user, with
// no_new_privs and a reduced capability bounding set. Everything it
// mounted lives in the shim's mount namespace and goes away with it, so
// nothing is left to tear down and nothing leaks into the host's.
type Isolation struct {
	// ChrootEnv maps host paths to paths inside the task's root (Nomad's
	// client chroot_env). Host paths that do not exist are skipped; a
	// host path that is a symlink is recreated as the same symlink.
	ChrootEnv map[string]string
	// DefaultUser runs tasks that name no user.
	DefaultUser string
	// UserDenylist are users no task may run as (Nomad's user.denylist).
	// A task naming one is refused before anything starts.
	UserDenylist []string
}

// DefaultChrootEnv is what an exec task sees of the host: the programs
// and libraries, and the few files of /etc that name resolution, TLS and
// `id` need. Unlike Nomad's default it leaves out the rest of /etc.
func DefaultChrootEnv() map[string]string {
	paths := []string{
		"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr",
		"/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/pki",
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
		"/etc/passwd", "/etc/group", "/etc/localtime", "/etc/timezone", "/etc/mime.types",
		"/run/resolvconf", "/run/systemd/resolve",
	}
	m := make(map[string]string, len(paths))
	for _, p := range paths {
		m[p] = p
	}
	return m
}

// DefaultIsolation is the isolation an agent's exec driver uses.
func DefaultIsolation() *Isolation {
	return &Isolation{ChrootEnv: DefaultChrootEnv(), DefaultUser: "nobody", UserDenylist: []string{"root"}}
}

// validate reports the first problem of iso.
func (iso *Isolation) validate() error {
	for src, dst := range iso.ChrootEnv {
		if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
			return fmt.Errorf("exec driver: chroot_env %q = %q: both paths must be absolute", src, dst)
		}
		clean := filepath.Clean(dst)
		if clean == "/" || slices.Contains(reservedChrootPaths, clean) || hasPathPrefix(clean, "/proc") || hasPathPrefix(clean, "/dev") {
			return fmt.Errorf("exec driver: chroot_env %q = %q: %s is the task's own", src, dst, clean)
		}
	}
	if iso.DefaultUser == "" {
		return errors.New("exec driver: a default user is required for isolated tasks")
	}
	return nil
}

// reservedChrootPaths are the task's own directories inside its root.
var reservedChrootPaths = []string{"/local", "/secrets", "/tmp", "/alloc"}

// chrootSpec is what the shim needs to build the task's root.
type chrootSpec struct {
	// Root is an empty host directory; the shim mounts a tmpfs there in
	// its own mount namespace and builds the root on it.
	Root   string        `json:"root"`
	Mounts []chrootMount `json:"mounts"`
	// Dir is the task's working directory inside the root.
	Dir string `json:"dir"`
	// Hostname, when set, is the task's hostname in its own UTS
	// namespace (hostname_linux.go).
	Hostname string `json:"hostname,omitempty"`
}

// chrootMount is one bind mount into the root. Target is inside it.
type chrootMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Writable bool   `json:"writable,omitempty"`
	// Volume marks a host volume (volume_mount): its source must exist
	// and is followed if a link (bindVolume).
	Volume bool `json:"volume,omitempty"`
}

// taskDirs are a task's host directories and where the task sees them.
type taskDirs struct {
	task, local, secrets, tmp, alloc string
}

// chrootPlan turns the isolation config and a task's directories into the
// mounts of its root, sorted so that a parent is mounted before anything
// inside it.
func chrootPlan(env map[string]string, dirs taskDirs) []chrootMount {
	var ms []chrootMount
	for _, src := range slices.Sorted(maps.Keys(env)) {
		ms = append(ms, chrootMount{Source: filepath.Clean(src), Target: filepath.Clean(env[src])})
	}
	for _, m := range []chrootMount{
		{Source: dirs.local, Target: "/local"},
		{Source: dirs.secrets, Target: "/secrets"},
		{Source: dirs.tmp, Target: "/tmp"},
		{Source: dirs.alloc, Target: "/alloc"},
	} {
		if m.Source != "" {
			m.Writable = true
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(a, b chrootMount) int { return strings.Compare(a.Target, b.Target) })
	return ms
}

// pathMap translates between host paths and the paths a task sees.
type pathMap struct {
	// toTask are host prefixes and what they become, longest first.
	toTask []chrootMount
	// toHost are task prefixes and their host sources, longest first.
	toHost []chrootMount
}

func newPathMap(mounts []chrootMount, taskDir string) pathMap {
	var pm pathMap
	for _, m := range mounts {
		pm.toHost = append(pm.toHost, m)
		if m.Writable {
			pm.toTask = append(pm.toTask, m)
		}
	}
	if taskDir != "" {
		// Paths into the task directory outside its three own
		// directories do not exist inside; they map onto the root, where
		// a relative path a job wrote ("local/x") lands the same way.
		pm.toTask = append(pm.toTask, chrootMount{Source: taskDir, Target: "/"})
	}
	byLen := func(key func(chrootMount) string) func(a, b chrootMount) int {
		return func(a, b chrootMount) int { return len(key(b)) - len(key(a)) }
	}
	slices.SortStableFunc(pm.toTask, byLen(func(m chrootMount) string { return m.Source }))
	slices.SortStableFunc(pm.toHost, byLen(func(m chrootMount) string { return m.Target }))
	return pm
}

// host returns the host path behind a path inside the task's root.
func (pm pathMap) host(p string) (string, bool) {
	p = filepath.Clean(p)
	for _, m := range pm.toHost {
		if rest, ok := cutPathPrefix(p, m.Target); ok {
			return m.Source + rest, true
		}
	}
	return "", false
}

// rewrite replaces every host path of the task's directories in s with
// the path the task sees: the agent hands the task NOMAD_TASK_DIR and
// friends, and interpolates them into args, as host paths.
func (pm pathMap) rewrite(s string) string {
	for _, m := range pm.toTask {
		if !strings.Contains(s, m.Source) {
			continue
		}
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, m.Source)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(m.Source)
			if end < len(rest) && !pathBoundary(rest[end]) {
				b.WriteString(rest[:end])
				rest = rest[end:]
				continue
			}
			b.WriteString(rest[:i])
			target := m.Target
			if target == "/" && end < len(rest) && rest[end] == '/' {
				target = "" // "<task>/x" is "/x", not "//x"
			}
			b.WriteString(target)
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}

// pathBoundary reports whether c ends a path component: a path followed
// by it is the whole path, not the prefix of a longer name.
func pathBoundary(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		return false
	}
	return true
}

func hasPathPrefix(p, prefix string) bool {
	_, ok := cutPathPrefix(p, prefix)
	return ok
}

// cutPathPrefix returns p without prefix when prefix is p or a parent
// directory of p; the rest starts with "/" or is empty.
func cutPathPrefix(p, prefix string) (string, bool) {
	if prefix == "/" {
		return p, strings.HasPrefix(p, "/")
	}
	if p == prefix {
		return "", true
	}
	if strings.HasPrefix(p, prefix) && p[len(prefix)] == '/' {
		return p[len(prefix):], true
	}
	return "", false
}

// ErrUserDenied is the error Start returns for a task whose user is on the
// node's user denylist.
var ErrUserDenied = errors.New("user denied")

// checkUser refuses a user on the denylist, by name or by the uid a
// denied name resolves to, so "0" or a second name for root is refused
// as root is.
func (iso *Isolation) checkUser(name string) error {
	if len(iso.UserDenylist) == 0 {
		return nil
	}
	deny := func() error {
		return fmt.Errorf("%w: user %q is on this node's user denylist %q (agent option user.denylist)", ErrUserDenied, name, iso.UserDenylist)
	}
	if slices.Contains(iso.UserDenylist, name) {
		return deny()
	}
	u, err := user.Lookup(name)
	if err != nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		return nil // unknown users are refused later, in their own words
	}
	for _, d := range iso.UserDenylist {
		if du, err := user.Lookup(d); err == nil && du.Uid == u.Uid {
			return deny()
		}
	}
	return nil
}

// ensureTaskDirs creates the task's local/, secrets/ and tmp/ when the
// caller did not (the agent does; tests may not), and hands local/ and
// secrets/ to the task's user, who could not write or read them
// otherwise: the agent builds them for the job's user, and an isolated
// task without one runs as the default user. The group's alloc/ becomes
// writable by all its tasks, whatever their users, sticky like /tmp.
func ensureTaskDirs(dirs taskDirs, cred *shimCredential) error {
	if dirs.alloc != "" && cred != nil && cred.UID != 0 {
		fi, err := os.Stat(dirs.alloc)
		if err != nil {
			return fmt.Errorf("alloc directory: %w", err)
		}
		if fi.Mode().Perm() != 0o777 {
			if err := os.Chmod(dirs.alloc, 0o777|os.ModeSticky); err != nil {
				return fmt.Errorf("alloc directory: %w", err)
			}
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
		own  bool
	}{{dirs.local, 0o755, true}, {dirs.secrets, 0o700, true}, {dirs.tmp, 0o1777, false}} {
		if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(d.path, d.mode); err != nil {
				return fmt.Errorf("task directory: %w", err)
			}
			if err := os.Chmod(d.path, d.mode); err != nil {
				return fmt.Errorf("task directory: %w", err)
			}
		}
		if d.own && cred != nil {
			if err := os.Chown(d.path, int(cred.UID), int(cred.GID)); err != nil {
				return fmt.Errorf("task directory: %w", err)
			}
		}
	}
	return nil
}
