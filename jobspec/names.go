package jobspec

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest job ID, group name or task name, in bytes:
// Nomad's limit for job IDs. A task name becomes a directory and the
// start of its log files' names (<task>.stderr.<n>), which stays well
// under the 255 bytes a file name may have.
const MaxNameLen = 128

// NameKind says which name CheckName checks; it names the name in
// errors.
type NameKind string

// The names a job file gives that become IDs, directory names and file
// names on the servers and the nodes.
const (
	JobIDName NameKind = "job ID"
	GroupName NameKind = "group name"
	TaskName  NameKind = "task name"
)

// CheckName applies the one rule for job IDs, group names and task names,
// whether the job came from a file or the API, and returns an error that
// quotes the name and says what is wrong, or nil. A valid name is safe as
// a single path element on any node:
//
//   - not empty, at most MaxNameLen bytes, valid UTF-8;
//   - no '/' or '\' (no path separators on any system);
//   - not starting with '.', which rules out "." and ".." and keeps
//     names clear of hidden files and the agent's own .state directory;
//   - no NUL, no control characters (C0, DEL, C1) and no Unicode format
//     characters (bidirectional overrides, zero-width characters), which
//     would make a name print as another in logs and listings.
//
// Job IDs also may not contain whitespace, as in Nomad: they appear in
// URLs and on command lines.
func CheckName(kind NameKind, name string) error {
	if p := nameProblem(name, kind == JobIDName); p != "" {
		return fmt.Errorf("%s %q %s", kind, name, p)
	}
	return nil
}

// nameProblem returns what is wrong with name, as the end of a sentence
// that starts with the name ("must not ..."), or "" when nothing is.
// strict adds the job ID rule: no whitespace.
func nameProblem(name string, strict bool) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("is %d bytes long; at most %d are allowed", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.ContainsAny(name, `/\`):
		return "must not contain a slash or backslash"
	case name == "." || name == "..":
		return "must not be . or .., which are directories of their own"
	case strings.HasPrefix(name, "."):
		return "must not start with a dot"
	case strings.ContainsRune(name, 0):
		return "must not contain a NUL character"
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "must not contain control or format characters"
	case strict && strings.ContainsFunc(name, unicode.IsSpace):
		return "must not contain spaces or other whitespace"
	}
	return ""
}

// ValidateNames checks a job's ID and its group and task names by
// CheckName, for a job that did not go through Parse (one submitted to
// the API). Each error is a *FieldError on the path ValidateJob uses for
// the same field, so a caller can merge the two lists.
func ValidateNames(j *Job) []error {
	if j == nil {
		return nil
	}
	var errs []error
	add := func(path string, err error) {
		if err != nil {
			errs = append(errs, &FieldError{Path: path, Message: err.Error()})
		}
	}
	add("job.id", CheckName(JobIDName, j.ID))
	for gi, g := range j.Groups {
		if g == nil {
			continue
		}
		gp := elemPath("job.group", gi, g.Name)
		add(gp+".name", CheckName(GroupName, g.Name))
		for ti, t := range g.Tasks {
			if t == nil {
				continue
			}
			add(elemPath(gp+".task", ti, t.Name)+".name", CheckName(TaskName, t.Name))
		}
	}
	return errs
}
