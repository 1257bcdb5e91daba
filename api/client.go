package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/render"
)

// Config configures a Client.
type Config struct {
	// Address is the server's base URL. DefaultConfig reads DROVER_ADDR,
	// else "http://"+DefaultAddr. A bare host:port gets http://.
	Address string
	// Token is sent as "Authorization: Bearer <token>" when set
	// (DROVER_TOKEN).
	Token string
	// HTTPClient makes the requests; nil uses a client without a
	// timeout, since blocking queries wait up to ten minutes and every
	// call is bounded by its ctx instead.
	HTTPClient *http.Client
	// TLS configures HTTPS when HTTPClient is nil (client_tls.go).
	TLS TLSConfig
}

// DefaultConfig reads the environment through getenv (os.Getenv in a
// program, a map in a test).
func DefaultConfig(getenv func(string) string) Config {
	cfg := Config{Address: "http://" + DefaultAddr}
	if getenv == nil {
		return cfg
	}
	if a := getenv("DROVER_ADDR"); a != "" {
		cfg.Address = a
	}
	cfg.Token = getenv("DROVER_TOKEN")
	cfg.TLS = tlsFromEnv(getenv)
	return cfg
}

// Client talks to one Drover server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// NewClient checks cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	addr := strings.TrimSpace(cfg.Address)
	if addr == "" {
		addr = "http://" + DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("api: address %q: %w", cfg.Address, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("api: address %q: scheme must be http or https", cfg.Address)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("api: address %q has no host", cfg.Address)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
		if !cfg.TLS.empty() {
			tc, err := cfg.TLS.clientConfig()
			if err != nil {
				return nil, err
			}
			hc.Transport = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tc, ForceAttemptHTTP2: true}
		}
	}
	return &Client{base: u, token: cfg.Token, hc: hc}, nil
}

// Address returns the server's base URL.
func (c *Client) Address() string { return c.base.String() }

// QueryOptions are the parameters every read takes.
type QueryOptions struct {
	// WaitIndex makes the read a blocking query: the server answers once
	// the data's index passes it, or when WaitTime is over.
	WaitIndex uint64
	// WaitTime bounds a blocking query (server default 5m, max 10m).
	WaitTime time.Duration
	// Stale lets a follower answer from its own, possibly lagging, state
	// instead of forwarding to the leader.
	Stale bool
	// Prefix filters lists by ID prefix.
	Prefix string
	// Params are further filters of the endpoint, e.g. "job" and "node"
	// for Allocations().List.
	Params map[string]string
}

// QueryMeta is what a read's response headers say about the answer.
type QueryMeta struct {
	// LastIndex is the index to pass as WaitIndex for the next blocking
	// query.
	LastIndex   uint64
	KnownLeader bool
	// LastContact is how long ago the answering follower heard from the
	// leader (0 on the leader).
	LastContact time.Duration
	// NextToken is a paged list's token for the next page (pass it as
	// the next_token parameter); empty on the last page.
	NextToken string
}

// StatusError is returned for every non-2xx answer.
type StatusError struct {
	Code        int
	Message     string
	Diagnostics []render.DiagnosticJSON
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("server answered %d: %s", e.Code, msg)
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// IsConflict reports whether err is a 409 (a check_index mismatch).
func IsConflict(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusConflict
}

func (q *QueryOptions) values() url.Values {
	v := url.Values{}
	if q == nil {
		return v
	}
	if q.WaitIndex > 0 {
		v.Set("index", strconv.FormatUint(q.WaitIndex, 10))
	}
	if q.WaitTime > 0 {
		v.Set("wait", q.WaitTime.String())
	}
	if q.Stale {
		v.Set("stale", "")
	}
	if q.Prefix != "" {
		v.Set("prefix", q.Prefix)
	}
	for k, val := range q.Params {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// query GETs path into out.
func (c *Client) query(ctx context.Context, path string, q *QueryOptions, out any) (*QueryMeta, error) {
	return c.do(ctx, http.MethodGet, path, q.values(), nil, out)
}

// write sends body with method and decodes the answer into out.
func (c *Client) write(ctx context.Context, method, path string, params url.Values, body, out any) error {
	_, err := c.do(ctx, method, path, params, body, out)
	return err
}

func (c *Client) do(ctx context.Context, method, path string, params url.Values, body, out any) (*QueryMeta, error) {
	// path is already escaped (see esc), so the URL is built as text.
	target := c.base.String() + path
	if len(params) > 0 {
		target += "?" + params.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("api: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	meta := parseMeta(resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return meta, decodeError(resp, out)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return meta, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return meta, fmt.Errorf("api: decode answer of %s %s: %w", method, path, err)
	}
	return meta, nil
}

// decodeError reads an api.Error body. Health answers 503 with a
// HealthResponse, which is decoded into out as well.
func decodeError(resp *http.Response, out any) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	se := &StatusError{Code: resp.StatusCode}
	var e Error
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		se.Message, se.Diagnostics = e.Error, e.Diagnostics
	} else {
		se.Message = strings.TrimSpace(string(data))
		if out != nil && len(data) > 0 {
			_ = json.Unmarshal(data, out)
		}
	}
	return se
}

func parseMeta(h http.Header) *QueryMeta {
	m := &QueryMeta{}
	m.LastIndex, _ = strconv.ParseUint(h.Get(HeaderIndex), 10, 64)
	m.KnownLeader = h.Get(HeaderKnownLeader) == "true"
	if ms, err := strconv.ParseUint(h.Get(HeaderLastContact), 10, 64); err == nil {
		m.LastContact = time.Duration(ms) * time.Millisecond
	}
	m.NextToken = h.Get(HeaderNextToken)
	return m
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

// WithToken returns a copy of c that sends token instead of its own: an
// agent asks the servers whether a caller's token may read something.
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}
