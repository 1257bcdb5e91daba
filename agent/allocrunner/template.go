package allocrunner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/jobspec"
)

// renderTemplates writes a task's template blocks and returns the
// variables of the env = true ones. env is the task's environment without
// them, which the templates read through the env function; r resolves
// ${...} references in destinations. Errors name the template by its
// destination. renderAll (template_options.go) does the work and also
// reports what the task's events should say (uid/gid not applied).
func renderTemplates(tmpls []jobspec.Template, dirs taskenv.Dirs, env map[string]string, r *taskenv.Resolver, now time.Time) (map[string]string, error) {
	rs, err := renderAll(tmpls, dirs, env, r, now, os.Geteuid())
	if err != nil {
		return nil, err
	}
	return rs.env, nil
}

// templateName is how errors and events name template i: its
// destination, else its position.
func templateName(i int, dest string) string {
	if dest == "" {
		return fmt.Sprintf("#%d", i+1)
	}
	return dest
}

// writeTemplate writes template t's rendered text to dest (already
// interpolated) in the task directory with its perms and, when the
// agent runs as root (euid 0), its uid and gid. It returns a warning
// for the task's events when uid or gid cannot be applied.
func writeTemplate(t jobspec.Template, name, dest, text string, dirs taskenv.Dirs, euid int) (warning string, err error) {
	path, err := within(dirs.Task, dest)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	perm := os.FileMode(0o644)
	if t.Perms != "" {
		p, err := strconv.ParseUint(t.Perms, 8, 32)
		if err != nil {
			return "", fmt.Errorf("template %s: perms %q is not an octal mode", name, t.Perms)
		}
		perm = os.FileMode(p)
	}
	uid, gid, warning := templateOwner(t, name, euid)
	if err := writeFileAtomic(path, []byte(text), perm, uid, gid); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return warning, nil
}

func renderOne(t jobspec.Template, dirs taskenv.Dirs, env map[string]string, now time.Time) (string, error) {
	return renderOneLive(t, dirs, env, now, nil)
}

// renderOneLive is renderOne with the live data functions reading
// through live (template_live.go); nil: they fail, saying why.
func renderOneLive(t jobspec.Template, dirs taskenv.Dirs, env map[string]string, now time.Time, live *liveData) (string, error) {
	src := t.Data
	if t.Source != "" {
		p, err := within(dirs.Task, t.Source)
		if err != nil {
			return "", fmt.Errorf("source: %w", err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("source: %w", err)
		}
		src = string(b)
	}
	left, right := t.LeftDelim, t.RightDelim
	if left == "" {
		left = "{{"
	}
	if right == "" {
		right = "}}"
	}
	tmpl, err := template.New("template").Delims(left, right).Option(missingKeyOption(t)).Funcs(templateFuncs(env, now)).Funcs(live.funcs()).Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		// A missing variable or service is not a template error: the
		// caller waits for it (template_live.go).
		var miss *errLiveMissing
		if errors.As(err, &miss) {
			return "", miss
		}
		return "", missingKeyHint(t, err)
	}
	return b.String(), nil
}

// templateFuncs are the consul-template functions that need no Consul
// or Vault: enough for configuration files made from the task's
// environment. Templates that use others fail with text/template's
// `function "key" not defined`.
func templateFuncs(env map[string]string, now time.Time) template.FuncMap {
	return template.FuncMap{
		"env":        func(k string) string { return env[k] },
		"toUpper":    strings.ToUpper,
		"toLower":    strings.ToLower,
		"trimSpace":  strings.TrimSpace,
		"split":      func(sep, s string) []string { return strings.Split(s, sep) },
		"join":       func(sep string, l []string) string { return strings.Join(l, sep) },
		"replaceAll": func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"parseJSON":  parseJSON,
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"timestamp": func(layout ...string) string {
			if len(layout) > 0 {
				return now.Format(layout[0])
			}
			return now.UTC().Format(time.RFC3339)
		},
	}
}

// within resolves p relative to dir and refuses paths that leave it: a
// job file must not write or read the agent's files. An absolute p must
// name a place in dir (it comes from ${NOMAD_TASK_DIR}). Symbolic links
// on the way are resolved by securejoin as if dir were the root, so a
// link the task planted (local/x -> /etc) leads to dir/etc, never to the
// host's /etc.
func within(dir, p string) (string, error) {
	rel := p
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(dir, filepath.Clean(p))
		if err != nil {
			return "", fmt.Errorf("path %q is outside the task directory", p)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("path %q is outside the task directory", p)
	}
	full, err := securejoin.SecureJoin(dir, rel)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", p, err)
	}
	return full, nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it, so that a reader never sees half a file. uid and gid, unless
// -1, are set on the temporary file first: the file never appears with
// the wrong owner.
func writeFileAtomic(path string, data []byte, perm os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmpl-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if uid != -1 || gid != -1 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return fmt.Errorf("set owner %d:%d: %w", uid, gid, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parseEnvFile reads KEY=value lines; blank lines and # comments are
// skipped, "export " is allowed, and one layer of matching quotes is
// removed from values.
func parseEnvFile(text string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: want KEY=value, got %q", n, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, errors.New("rendered text is not lines")
	}
	return out, nil
}
