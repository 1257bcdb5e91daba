package gitsource

import (
	"regexp"
	"strings"
)

// RedactURL returns a repository URL without its credentials, the one form
// in which Drover stores, logs or returns a source URL: sync status, the
// provenance of every job version in Raft, logs, errors, a mirror's
// .git/config. The user name goes as well as the password, because a
// token is often written as the user name (https://ghp_xxx@github.com/...),
// which url.URL.Redacted keeps.
//
// One user name stays: "git", without a password, as in the SSH forms
// git@github.com:org/repo.git and ssh://git@host/org/repo. It is the
// account every forge's SSH endpoint uses, not a secret, and the URL
// shown should still say how to reach the repository. Any other SSH user
// name goes, like an HTTPS one: it may be a token too.
//
// Local paths and file:// URLs are returned as they are; so is text that
// holds no credentials. The result is for people and for matching a
// repository (host and path): never fetch from it.
func RedactURL(rawURL string) string {
	if IsLocalPath(rawURL) {
		return rawURL
	}
	if i := strings.Index(rawURL, "://"); i >= 0 {
		// The authority ends at the first '/', '?' or '#'; the user
		// information is what precedes its last '@'. Not url.Parse: a
		// password with a character it refuses must go too.
		rest := rawURL[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		at := strings.LastIndex(rest[:end], "@")
		if at < 0 || rest[:at] == "git" {
			return rawURL
		}
		return rawURL[:i+3] + rest[at+1:]
	}
	// scp-like: [user@]host:path. The user information is what precedes
	// the last '@' before the path.
	end := strings.IndexByte(rawURL, '/')
	if end < 0 {
		end = len(rawURL)
	}
	at := strings.LastIndex(rawURL[:end], "@")
	if at < 0 || rawURL[:at] == "git" {
		return rawURL
	}
	return rawURL[at+1:]
}

// userinfo matches the credentials of a URL in free text: what lies
// between "://" and the last '@' of the authority.
var userinfo = regexp.MustCompile(`://[^/?#\s]+@`)

// Scrub returns err with every secret replaced by "***" and the
// credentials of every URL in it removed as RedactURL removes them,
// keeping errors.Is and errors.As working on the original.
func Scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := ScrubString(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

// ScrubString is Scrub for text.
func ScrubString(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return userinfo.ReplaceAllStringFunc(s, func(m string) string {
		if m == "://git@" {
			return m
		}
		return "://"
	})
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
