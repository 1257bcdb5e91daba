package diff

import (
	"path"
	"strings"
)

// secretWords make a key look secret when its name contains one of them,
// case-insensitively.
var secretWords = [...]string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTHORIZATION"}

// secrets decides which keys hold values that must never appear in a plan.
type secrets struct {
	globs []string // upper-cased, from Options.Sensitive
}

func newSecrets(globs []string) secrets {
	s := secrets{globs: make([]string, 0, len(globs))}
	for _, g := range globs {
		if g = strings.TrimSpace(g); g != "" {
			s.globs = append(s.globs, strings.ToUpper(g))
		}
	}
	return s
}

// key reports whether an env, meta, header or config key looks secret.
func (s secrets) key(k string) bool {
	up := strings.ToUpper(k)
	for _, w := range secretWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	for _, g := range s.globs {
		// A malformed glob cannot match anything; it still matches its
		// literal spelling so that a typo fails safe.
		if ok, err := path.Match(g, up); ok || (err != nil && g == up) {
			return true
		}
	}
	return false
}

// template reports whether a template's rendered data may hold secrets:
// it becomes environment, or its destination looks secret.
func (s secrets) template(env bool, dest string) bool {
	return env || s.key(dest) || s.key(path.Base(dest))
}
