package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v92/github"
)

// PublicAPIURL is the REST API of github.com.
const PublicAPIURL = "https://api.github.com"

// CommentLimit is the most characters GitHub accepts in a comment body.
const CommentLimit = 65536

// DescriptionLimit is the most characters GitHub accepts in a commit
// status description.
const DescriptionLimit = 140

// Errors callers branch on.
var (
	// ErrPermission: the token may not do this (401 or 403 that is not a
	// rate limit), for example the read-only GITHUB_TOKEN of a fork's PR.
	ErrPermission = errors.New("github: token lacks permission")
	// ErrNotFound: the repository, pull request or commit does not exist
	// (or is invisible to the token).
	ErrNotFound = errors.New("github: not found")
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// APIURL is the REST API root: empty or PublicAPIURL for github.com,
	// otherwise a GitHub Enterprise Server (https://ghe.example.com or
	// https://ghe.example.com/api/v3, as in GITHUB_API_URL).
	APIURL string
	// Token is a personal access token, GITHUB_TOKEN or GitHub App
	// installation token; all are sent the same way.
	Token string
	// Timeout bounds each HTTP attempt.
	Timeout time.Duration
	// Attempts is how many times a call is tried in all when GitHub
	// answers 5xx, times out or rate-limits.
	Attempts int
	// Backoff is the first wait between attempts; it doubles each time.
	Backoff time.Duration
	// MaxWait is the longest single wait for a rate limit to reset; a
	// longer one fails the call instead of blocking.
	MaxWait time.Duration
	// HTTPClient, when set, is used instead of a fresh one (tests, proxies).
	HTTPClient *http.Client
	// Logger receives retries. Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the settings used in production.
func DefaultConfig() Config {
	return Config{
		APIURL:   PublicAPIURL,
		Timeout:  15 * time.Second,
		Attempts: 4,
		Backoff:  time.Second,
		MaxWait:  2 * time.Minute,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Token == "":
		return errors.New("github: no token")
	case c.Timeout <= 0:
		return errors.New("github: timeout must be positive")
	case c.Attempts < 1:
		return errors.New("github: attempts must be at least 1")
	case c.Backoff < 0 || c.MaxWait < 0:
		return errors.New("github: backoff and max wait must not be negative")
	}
	if c.APIURL != "" && !strings.HasPrefix(c.APIURL, "https://") && !strings.HasPrefix(c.APIURL, "http://") {
		return fmt.Errorf("github: API URL %q is not http(s)", c.APIURL)
	}
	return nil
}

// TokenFrom reads a token from file (when non-empty) or else from the
// environment variable env, trimming surrounding space.
func TokenFrom(file, env string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read GitHub token: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("GitHub token file %s is empty", file)
		}
		return t, nil
	}
	if env != "" {
		if t := strings.TrimSpace(getenv(env)); t != "" {
			return t, nil
		}
	}
	return "", fmt.Errorf("no GitHub token: set %s or a token file", env)
}

// Client is a GitHub client for Drover's comments and statuses. It is
// safe for concurrent use.
type Client struct {
	gh    *gh.Client
	cfg   Config
	log   *slog.Logger
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client; cfg is validated.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	opts := []gh.ClientOptionsFunc{
		gh.WithHTTPClient(hc),
		gh.WithAuthToken(cfg.Token),
		gh.WithUserAgent("drover"),
	}
	if u := strings.TrimRight(cfg.APIURL, "/"); u != "" && u != PublicAPIURL {
		opts = append(opts, gh.WithEnterpriseURLs(u, u))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{gh: c, cfg: cfg, log: log, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do runs one API call with a per-attempt timeout, retrying what GitHub
// says is worth retrying. op names the call in errors and logs.
func (c *Client) do(ctx context.Context, op string, call func(ctx context.Context) (*gh.Response, error)) error {
	backoff := c.cfg.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		var resp *gh.Response
		resp, err = call(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.wrap(op, ctx.Err())
		}
		wait, retry := c.retryAfter(err, resp, backoff)
		if !retry || attempt >= c.cfg.Attempts {
			return c.wrap(op, classify(err, resp))
		}
		if wait > c.cfg.MaxWait {
			return c.wrap(op, fmt.Errorf("rate limited for %s more (longer than the %s we wait): %w", wait.Round(time.Second), c.cfg.MaxWait, err))
		}
		c.log.Warn("GitHub call failed; retrying", "op", op, "attempt", attempt, "wait", wait, "err", c.scrub(err.Error()))
		if serr := c.sleep(ctx, wait); serr != nil {
			return c.wrap(op, serr)
		}
		backoff *= 2
	}
}

// retryAfter says whether err is worth another attempt and how long to
// wait first.
func (c *Client) retryAfter(err error, resp *gh.Response, backoff time.Duration) (time.Duration, bool) {
	jittered := backoff + time.Duration(rand.Int64N(int64(backoff)/4+1))
	if rl, ok := errors.AsType[*gh.RateLimitError](err); ok {
		wait := time.Until(rl.Rate.Reset.Time) + time.Second
		return max(wait, time.Second), true
	}
	if ab, ok := errors.AsType[*gh.AbuseRateLimitError](err); ok {
		if ab.RetryAfter != nil {
			return max(*ab.RetryAfter, time.Second), true
		}
		// GitHub: wait at least a minute when no Retry-After is given.
		return max(time.Minute, jittered), true
	}
	if er, ok := errors.AsType[*gh.ErrorResponse](err); ok && er.Response != nil {
		code := er.Response.StatusCode
		if code == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(er.Response.Header.Get("Retry-After")); err == nil && s >= 0 {
				return time.Duration(s) * time.Second, true
			}
			return jittered, true
		}
		return jittered, code >= 500
	}
	if resp != nil && resp.StatusCode >= 500 {
		return jittered, true
	}
	// Timeouts and connection errors.
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) {
		return jittered, true
	}
	return 0, false
}

func classify(err error, resp *gh.Response) error {
	if _, ok := errors.AsType[*gh.RateLimitError](err); ok {
		return err
	}
	if _, ok := errors.AsType[*gh.AbuseRateLimitError](err); ok {
		return err
	}
	code := 0
	if er, ok := errors.AsType[*gh.ErrorResponse](err); ok && er.Response != nil {
		code = er.Response.StatusCode
	} else if resp != nil {
		code = resp.StatusCode
	}
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// wrap names the operation and removes the token from the message.
func (c *Client) wrap(op string, err error) error {
	return &opError{op: op, msg: c.scrub(err.Error()), err: err}
}

func (c *Client) scrub(s string) string {
	if c.cfg.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.Token, "***")
}

type opError struct {
	op, msg string
	err     error
}

func (e *opError) Error() string { return "github " + e.op + ": " + e.msg }
func (e *opError) Unwrap() error { return e.err }
