package diff

import (
	"path"
	"regexp"
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

// credentialURL matches a URL that carries credentials, the user
// information before '@' (postgres://app:hunter2@db/x,
// https://ghp_xxx@github.com/...).
var credentialURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://([^/?#@\s]+)@`)

// value reports whether a value looks secret by itself, under a key that
// does not: one that holds a URL with credentials, by the rule Drover
// strips them from source URLs with (gitsource.RedactURL): any user
// information but the user "git" alone, SSH's account on every forge. A
// hand-submitted job's DATABASE_URL is masked where no sensitive list
// names it.
func (s secrets) value(v string) bool {
	if !strings.Contains(v, "://") {
		return false
	}
	for _, m := range credentialURL.FindAllStringSubmatch(v, -1) {
		if m[1] != "git" {
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
