package server

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// The API answers the CLI, agents and other servers, never a web page
// the operator happens to visit. Without a token (drover dev, make run,
// a plain server on loopback) nothing else stops such a page: a browser
// sends a cross-site POST with a text/plain body without asking, and a
// page whose name re-resolves to 127.0.0.1 (DNS rebinding) is even
// same-origin to the browser. withBrowserGuard refuses, before
// authentication and before any handler, so that nothing is stored:
//
//   - a Host that is not this server: 403 (DNS rebinding);
//   - a write with a foreign Origin or Sec-Fetch-Site: cross-site or
//     same-site: 403 (http.CrossOriginProtection);
//   - a write whose body is not declared application/json: 415. A page
//     cannot send that content type to another origin without a CORS
//     preflight, which the API never grants.
//
// Webhooks are exempt from the Host and content-type rules: forges send
// them with their own content types through proxies and tunnels that keep
// the public Host, and they authenticate by HMAC signature instead
// (http_webhooks.go), as they are exempt from the token in withAuth.

// browserGuard holds the rules, decided once from the configuration.
type browserGuard struct {
	// anyHost skips the Host rule: a server bound beyond loopback needs
	// a token, which a browser does not have, and answers whatever name
	// its network gives it, unless http_allowed_hosts says otherwise.
	anyHost bool
	// hosts are the names and IPs, besides localhost and the loopback
	// IPs, that a Host may carry: lower-case, without port.
	hosts map[string]bool
	// addr is the address to tell a refused client to use.
	addr   string
	origin *http.CrossOriginProtection
}

// allowAnyHost is the http_allowed_hosts entry that turns the Host rule
// off.
const allowAnyHost = "*"

// newBrowserGuard decides the rules for a server configured by cfg whose
// API is reachable at addr (the advertised or the bound address).
func newBrowserGuard(cfg Config, addr string) *browserGuard {
	g := &browserGuard{
		anyHost: len(cfg.HTTPAllowedHosts) == 0 && !isLoopback(cfg.HTTPAddr),
		hosts:   map[string]bool{},
		addr:    addr,
		origin:  http.NewCrossOriginProtection(),
	}
	for _, h := range append([]string{cfg.HTTPAddr, cfg.AdvertiseHTTP, addr}, cfg.HTTPAllowedHosts...) {
		switch name := hostName(h); {
		case h == allowAnyHost:
			g.anyHost = true
		case name != "" && !isUnspecifiedHost(name):
			g.hosts[name] = true
		}
	}
	return g
}

// allowsHost reports whether a request's Host names this server:
// localhost, a loopback IP, the bound or advertised address, or an
// http_allowed_hosts entry; any port.
func (g *browserGuard) allowsHost(host string) bool {
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

func isUnspecifiedHost(name string) bool {
	ip := net.ParseIP(name)
	return ip != nil && ip.IsUnspecified()
}

// check returns the error that refuses r, nil if r may go on.
func (g *browserGuard) check(r *http.Request) error {
	webhook := isWebhook(r)
	if !webhook && !g.allowsHost(r.Host) {
		return errorf(http.StatusForbidden, "DNS rebinding protection: Host %q is not this server; use http://%s (or add the name to http_allowed_hosts)", r.Host, g.addr)
	}
	if err := g.origin.Check(r); err != nil {
		return errorf(http.StatusForbidden, "cross-origin request refused (%v): the API takes writes from the CLI and the agents, not from web pages of other sites", err)
	}
	if !webhook && !declaresJSON(r) {
		return errorf(http.StatusUnsupportedMediaType, "a request body must be JSON: send Content-Type: application/json (got %q)", r.Header.Get("Content-Type"))
	}
	return nil
}

// declaresJSON reports whether r is a read, or a write whose body, if it
// has one or declares a type, is application/json (with parameters such
// as charset).
func declaresJSON(r *http.Request) bool {
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
	return err == nil && mt == "application/json"
}

// withBrowserGuard refuses what a web page can make a browser send (see
// above) before next sees the request.
func (s *Server) withBrowserGuard(next http.Handler) http.Handler {
	g := newBrowserGuard(s.cfg, s.HTTPAddr())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers are JSON; never let a browser read one as anything else.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := g.check(r); err != nil {
			var he *httpError
			if errors.As(err, &he) && he.code == http.StatusUnsupportedMediaType {
				// RFC 9110 §15.5.16: Accept says which type would do.
				w.Header().Set("Accept", "application/json")
			}
			s.logger.Info("refused a request a browser may have sent", "method", r.Method, "path", r.URL.Path,
				"host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "err", err)
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validateAllowedHosts checks http_allowed_hosts: host names or IPs
// (a port is ignored), or "*" for any.
func validateAllowedHosts(hosts []string) []error {
	var errs []error
	for _, h := range hosts {
		switch {
		case h == allowAnyHost:
		case hostName(h) == "":
			errs = append(errs, errors.New("http_allowed_hosts: empty entry"))
		case strings.ContainsAny(h, "/*@ \t"):
			errs = append(errs, fmt.Errorf("http_allowed_hosts %q: want a host name or IP such as drover.example.com, or \"*\" for any", h))
		}
	}
	return errs
}
