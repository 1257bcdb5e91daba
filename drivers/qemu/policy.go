package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// policy is what the node lets a task's config reach: the image
// directories and the QEMU flags of args. See Config.ImagePaths and
// Config.ArgsAllowlist.
type policy struct {
	imagePaths    []string
	argsAllowlist []string
}

// checkImage resolves image (absolute) with every symlink followed and
// refuses it unless the result lies inside the allocation directory, the
// task directory or one of the node's image_paths (each resolved too). A
// symlink a task plants in its allocation ("disk.img -> /dev/sda") is thus
// judged by where it leads. It returns the resolved path, which is what
// QEMU is given, so that the link cannot be swapped after the check.
func (p policy) checkImage(image string, roots ...string) (string, error) {
	resolved, err := filepath.EvalSymlinks(image)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", errors.New("is a directory, not a disk image")
	}
	for _, r := range append(slices.Clip(roots), p.imagePaths...) {
		if r == "" {
			continue
		}
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			r = rr
		}
		r = filepath.Clean(r)
		if resolved == r || strings.HasPrefix(resolved, r+string(filepath.Separator)) || r == string(filepath.Separator) {
			return resolved, nil
		}
	}
	where := "the allocation directory"
	if len(p.imagePaths) > 0 {
		where += " or the node's image_paths " + fmt.Sprintf("%q", p.imagePaths)
	} else {
		where += " (the node sets no image_paths in plugin \"qemu\" { config { image_paths = [...] } })"
	}
	if resolved != filepath.Clean(image) {
		return "", fmt.Errorf("resolves to %s, which is outside %s", resolved, where)
	}
	return "", fmt.Errorf("is outside %s", where)
}

// argFlagsWithoutValue are QEMU's flags that take no value: the argument
// after one of them is not its value but a new argument.
var argFlagsWithoutValue = []string{
	"-S", "-s", "-snapshot", "-nographic", "-no-reboot", "-no-shutdown", "-enable-kvm", "-no-kvm",
	"-nodefaults", "-no-user-config", "-daemonize", "-full-screen", "-no-acpi", "-no-hpet",
	"-no-fd-bootchk", "-win2k-hack", "-rtc-td-hack", "-localtime", "-singlestep", "-usb",
	"-no-quit", "-alt-grab", "-ctrl-grab", "-portrait", "-only-migratable", "-preconfig",
	"-semihosting", "-enable-fips", "-old-param", "-no-frame", "-curses", "-sdl", "-help", "-version",
}

// normFlag spells a flag with one dash, as QEMU treats -flag and --flag
// alike.
func normFlag(f string) string { return "-" + strings.TrimLeft(f, "-") }

// checkArgs refuses args unless each is an allow-listed flag or the value
// right after a flag that takes one, which is how QEMU itself parses its
// command line. Anything else would be a positional argument, which QEMU
// attaches as the first disk ("/dev/sda" alone is -hda /dev/sda).
//
// Unlike Nomad's, an empty allowlist allows no args at all: a job file is
// untrusted input, and "-drive file=/dev/sda" or "-hda /etc/shadow" hand
// it the host's files. The value of an allow-listed flag is passed as
// written, so an operator allows only flags whose values may be anything
// (-smp, -cpu, -append), or accepts what the others can reach.
func (p policy) checkArgs(args []string) []string {
	allowed := make([]string, len(p.argsAllowlist))
	for i, a := range p.argsAllowlist {
		allowed[i] = normFlag(a)
	}
	var problems []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			problems = append(problems, fmt.Sprintf("args[%d] %q is not a flag: QEMU would attach it as a disk", i, a))
			continue
		}
		f := normFlag(a)
		if !slices.Contains(allowed, f) {
			if len(allowed) == 0 {
				problems = append(problems, fmt.Sprintf("args[%d] %q: this node allows no QEMU args (plugin \"qemu\" { config { args_allowlist = [...] } } is empty)", i, a))
			} else {
				problems = append(problems, fmt.Sprintf("args[%d] %q: not in this node's args_allowlist %q", i, a, p.argsAllowlist))
			}
		}
		if !slices.Contains(argFlagsWithoutValue, f) && i+1 < len(args) {
			i++ // its value
		}
	}
	return problems
}
