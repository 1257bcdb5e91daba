package server

import (
	"net/http"

	"github.com/droverhq/drover/httpguard"
)

// The API answers the CLI, agents and other servers, never a web page
// the operator happens to visit. withBrowserGuard refuses what a page can
// make a browser send (package httpguard: a foreign Host, a cross-origin
// write, a write not declared JSON) before authentication and before any
// handler, so that nothing is stored.
//
// Webhooks are exempt from the Host and content-type rules: forges send
// them with their own content types through proxies and tunnels that keep
// the public Host, and they authenticate by HMAC signature instead
// (http_webhooks.go), as they are exempt from the token in withAuth.

// guardConfig decides the rules for a server configured by cfg whose API
// is reachable at addr (the advertised or the bound address).
func guardConfig(cfg Config, addr string) httpguard.Config {
	hosts := append([]string{cfg.HTTPAddr, cfg.AdvertiseHTTP}, cfg.HTTPAllowedHosts...)
	if len(cfg.HTTPAllowedHosts) == 0 && !isLoopback(cfg.HTTPAddr) {
		// A server bound beyond loopback needs a token, which a browser
		// does not have, and answers whatever name its network gives it,
		// unless http_allowed_hosts says otherwise.
		hosts = append(hosts, httpguard.AnyHost)
	}
	return httpguard.Config{
		Addr:         addr,
		Hosts:        hosts,
		HostsSetting: "http_allowed_hosts",
		Exempt:       isWebhook,
		Binary:       isSnapshotRestore,
	}
}

// withBrowserGuard refuses what a web page can make a browser send (see
// above) before next sees the request.
func (s *Server) withBrowserGuard(next http.Handler) http.Handler {
	cfg := guardConfig(s.cfg, s.HTTPAddr())
	cfg.Logger = s.logger
	cfg.Refuse = func(w http.ResponseWriter, r *http.Request, err *httpguard.Error) {
		s.writeError(w, r, errorf(err.Code, "%s", err.Msg))
	}
	return httpguard.New(cfg).Wrap(next)
}

// validateAllowedHosts checks http_allowed_hosts: host names or IPs
// (a port is ignored), or "*" for any.
func validateAllowedHosts(hosts []string) []error {
	return httpguard.ValidateHosts("http_allowed_hosts", hosts)
}
