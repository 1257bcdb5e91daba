package server

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// hdrForwardedBy marks a request a follower forwarded, naming it. A
// forwarded request that reaches a server that is not the leader either
// (leadership moved meanwhile) is answered 503 rather than forwarded
// again, so that requests never bounce between servers.
const hdrForwardedBy = "X-Drover-Forwarded-By"

// establishWait bounds how long a request waits for a freshly elected
// leader to catch up before it is answered 503.
const establishWait = 10 * time.Second

// forward decides where a request is served. On the leader it waits
// until leadership is established (the Barrier ran) and serves it here.
// On a follower, writes and reads without ?stale go to the leader through
// a reverse proxy over HTTPS with this server's certificate; the
// client's Authorization header goes along, and the caller's certificate
// identity in hdrForwardedPeer (http_peer.go). It
// reports whether the request was forwarded (and so answered).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, write bool) (bool, error) {
	if s.raft.IsLeader() {
		if !s.waitEstablished(r.Context(), establishWait) {
			return false, errorf(http.StatusServiceUnavailable, "this server was just elected leader and is not ready yet; retry")
		}
		return false, nil
	}
	if !write {
		if _, stale := r.URL.Query()["stale"]; stale {
			return false, nil
		}
	}
	if by := r.Header.Get(hdrForwardedBy); by != "" {
		return false, errorf(http.StatusServiceUnavailable, "request forwarded by %s reached a server that is not the leader; retry", by)
	}
	_, leaderID := s.raft.Leader()
	if leaderID == "" {
		return false, errorf(http.StatusServiceUnavailable, "no cluster leader")
	}
	m := s.raft.Store().Snapshot().Member(leaderID)
	if m == nil || m.HTTPAddr == "" {
		return false, errorf(http.StatusServiceUnavailable, "the leader's HTTP address is not known yet; retry")
	}
	target := &url.URL{Scheme: "https", Host: m.HTTPAddr}
	peer := forwardedPeerValue(peerFrom(r.Context()))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(hdrForwardedBy, s.id)
			pr.Out.Header.Set(hdrForwardedPeer, peer)
			// SetURL keeps the inbound Authorization header: the leader
			// checks the same token.
		},
		Transport: s.proxy,
		// Blocking queries stream nothing until they answer, but flush
		// immediately once they do.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.writeError(w, r, err)
				return
			}
			if r.Context().Err() != nil {
				return
			}
			s.writeError(w, r, errorf(http.StatusServiceUnavailable, "forward to the leader at %s: %v", m.HTTPAddr, err))
		},
	}
	proxy.ServeHTTP(w, r)
	return true, nil
}
