// Package httpguard keeps web pages away from an HTTP API meant for
// programs: the CLI, agents, other servers.
//
// Without a token (drover dev, make run, a server or an agent on
// loopback) nothing else stops such a page: a browser sends a cross-site
// POST with a text/plain body without asking, and a page whose name
// re-resolves to 127.0.0.1 (DNS rebinding) is even same-origin to the
// browser, so it can read the answers too. A Guard refuses, before
// authentication and before any handler:
//
//   - a Host that is not this API: 403 (DNS rebinding);
//   - a write with a foreign Origin or Sec-Fetch-Site: cross-site or
//     same-site: 403 (http.CrossOriginProtection);
//   - a write whose body is not declared application/json: 415. A page
//     cannot send that content type to another origin without a CORS
//     preflight, which the API never grants.
//
// The package imports nothing of Drover's, so that every API of the
// project can use it.
package httpguard

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
)

// AnyHost is the Config.Hosts entry that turns the Host rule off.
const AnyHost = "*"

// Config configures a Guard.
type Config struct {
	// Addr is the address the API is reached at (bound or advertised): a
	// Host naming it is accepted, and a refused client is told to use it.
	Addr string
	// Hosts are further names or IPs a Host may carry besides localhost,
	// the loopback IPs and Addr; a port is ignored. AnyHost accepts any
	// Host. An unspecified IP (0.0.0.0, ::) is never accepted: browsers
	// send pages' requests there too.
	Hosts []string
	// HostsSetting names the setting that adds to Hosts, for the refusal
	// message ("http_allowed_hosts"); empty if there is none.
	HostsSetting string
	// Exempt, if set, picks requests that the Host and content-type rules
	// do not apply to, such as webhooks that authenticate by signature.
	// The cross-origin rule applies to every request.
	Exempt func(*http.Request) bool
	// Binary, if set, picks requests whose body may be declared
	// application/octet-stream instead of JSON, such as a file upload.
	// A page cannot send that type to another origin without a CORS
	// preflight either; every other rule still applies to them.
	Binary func(*http.Request) bool
	// Refuse writes a refusal; nil writes err.Code with the JSON body
	// {"error": err.Msg}.
	Refuse func(w http.ResponseWriter, r *http.Request, err *Error)
	// Logger, if set, logs every refusal at level Info.
	Logger *slog.Logger
}

// Error is a refusal: the status code to answer and why.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Guard holds the rules, decided once from a Config. It is safe for
// concurrent use.
type Guard struct {
	cfg     Config
	anyHost bool
	// hosts are the names and IPs, besides localhost and the loopback
	// IPs, that a Host may carry: lower-case, without port.
	hosts  map[string]bool
	origin *http.CrossOriginProtection
}

// New decides the rules of cfg.
func New(cfg Config) *Guard {
	g := &Guard{cfg: cfg, hosts: map[string]bool{}, origin: http.NewCrossOriginProtection()}
	for _, h := range append([]string{cfg.Addr}, cfg.Hosts...) {
		switch name := hostName(h); {
		case h == AnyHost:
			g.anyHost = true
		case name != "" && !isUnspecified(name):
			g.hosts[name] = true
		}
	}
	return g
}

// Check returns the *Error that refuses r, nil if r may go on.
func (g *Guard) Check(r *http.Request) error {
	if e := g.check(r); e != nil {
		return e
	}
	return nil
}

func (g *Guard) check(r *http.Request) *Error {
	exempt := g.cfg.Exempt != nil && g.cfg.Exempt(r)
	if !exempt && !g.allowsHost(r.Host) {
		msg := fmt.Sprintf("DNS rebinding protection: Host %q is not this server; use http://%s", r.Host, g.cfg.Addr)
		if g.cfg.HostsSetting != "" {
			msg += fmt.Sprintf(" (or add the name to %s)", g.cfg.HostsSetting)
		}
		return &Error{Code: http.StatusForbidden, Msg: msg}
	}
	if err := g.origin.Check(r); err != nil {
		return &Error{Code: http.StatusForbidden, Msg: fmt.Sprintf("cross-origin request refused (%v): the API takes writes from the CLI and the agents, not from web pages of other sites", err)}
	}
	binary := g.cfg.Binary != nil && g.cfg.Binary(r)
	if !exempt && !declaresJSON(r) && !(binary && declaresType(r, "application/octet-stream")) {
		return &Error{Code: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("a request body must be JSON: send Content-Type: application/json (got %q)", r.Header.Get("Content-Type"))}
	}
	return nil
}

// Wrap refuses what a web page can make a browser send (see the package
// comment) before next sees the request.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers are for programs; never let a browser sniff one into
		// something else.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		e := g.check(r)
		if e == nil {
			next.ServeHTTP(w, r)
			return
		}
		if e.Code == http.StatusUnsupportedMediaType {
			// RFC 9110 §15.5.16: Accept says which type would do.
			w.Header().Set("Accept", "application/json")
		}
		if g.cfg.Logger != nil {
			g.cfg.Logger.Info("refused a request a browser may have sent", "method", r.Method, "path", r.URL.Path,
				"host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "err", e.Msg)
		}
		if g.cfg.Refuse != nil {
			g.cfg.Refuse(w, r, e)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Code)
		_ = json.NewEncoder(w).Encode(struct {
			Error string `json:"error"`
		}{e.Msg})
	})
}

// allowsHost reports whether a request's Host names this API: localhost,
// a loopback IP, Addr or a Hosts entry; any port.
func (g *Guard) allowsHost(host string) bool {
	if g.anyHost {
		return true
	}
	name := hostName(host)
	if name == "" {
		return false
	}
	if name == "localhost" || g.hosts[name] {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether hostport (host:port) names localhost or a
// loopback IP: an API bound there is out of other machines' reach, and
// may go without a token.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateHosts checks the entries of the setting named setting that
// adds to Config.Hosts: host names or IPs (a port is ignored), or AnyHost.
func ValidateHosts(setting string, hosts []string) []error {
	var errs []error
	for _, h := range hosts {
		switch {
		case h == AnyHost:
		case hostName(h) == "":
			errs = append(errs, fmt.Errorf("%s: empty entry", setting))
		case strings.ContainsAny(h, "/*@ \t"):
			errs = append(errs, fmt.Errorf("%s %q: want a host name or IP such as drover.example.com, or %q for any", setting, h, AnyHost))
		}
	}
	return errs
}

// hostName is the host of a Host header or address, without port or
// brackets, lower-case and without a trailing dot.
func hostName(hostport string) string {
	h := strings.ToLower(strings.TrimSpace(hostport))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(h, ".")
}

func isUnspecified(name string) bool {
	ip := net.ParseIP(name)
	return ip != nil && ip.IsUnspecified()
}

// declaresJSON reports whether r is a read, or a write whose body, if it
// has one or declares a type, is application/json (with parameters such
// as charset).
func declaresJSON(r *http.Request) bool { return declaresType(r, "application/json") }

// declaresType reports whether r is a read, or a write whose body, if it
// has one or declares a type, is of media type want.
func declaresType(r *http.Request, want string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	cts := r.Header.Values("Content-Type")
	if len(cts) == 0 {
		// ContentLength is -1 for a body of unknown length.
		return r.ContentLength == 0
	}
	if len(cts) > 1 {
		return false
	}
	mt, _, err := mime.ParseMediaType(cts[0])
	return err == nil && mt == want
}
