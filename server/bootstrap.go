package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// runBootstrap brings a server without Raft state into a cluster: with
// bootstrap_expect N > 1 it waits until N servers found each other and
// bootstraps them together; otherwise it asks the servers in Join to add
// it. A server with state (restarted, or bootstrap_expect 1, which
// state.Open bootstraps) does nothing: it must never bootstrap again.
func (s *Server) runBootstrap(ctx context.Context) {
	if s.ident.Load() == nil && !s.obtainCertificate(ctx) {
		return
	}
	if s.raft.HasState() {
		return
	}
	switch {
	case s.cfg.BootstrapExpect > 1:
		s.bootstrapExpect(ctx)
	case len(s.cfg.Join) > 0:
		s.joinCluster(ctx)
	}
	// Mark the data dir once the first log entry or snapshot arrived.
	for ctx.Err() == nil {
		if s.raft.HasState() {
			if err := markClusterMember(s.cfg.DataDir); err != nil {
				s.logger.Error("mark the data dir as holding cluster state", "err", err)
			}
			return
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

// clusterMemberFile marks a data dir whose raft/ has held Raft state. It
// is written once the server bootstrapped, joined or restarted with
// state, and lives outside raft/ so that it survives the loss of raft.db.
//
// Server identity alone (server-id, tls/) cannot tell a lost store from a
// server that never had one: a server of a bootstrap_expect group has
// both while it waits for its peers, a joining server once it obtained
// its certificate, and any first start that failed after creating them
// (the HTTP port was taken) leaves them too. Those must start again;
// a server whose state is gone must not.
const clusterMemberFile = "cluster-member"

// markClusterMember writes clusterMemberFile, if it is not there yet.
func markClusterMember(dataDir string) error {
	path := filepath.Join(dataDir, clusterMemberFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return atomicfile.Write(path, []byte("this data dir holds cluster state in raft/; the server refuses to start without it\n"), 0o600)
}

// checkRaftStart decides, before anything is created, whether the server
// may open Raft on its data dir. It refuses a data dir that held cluster
// state and lost it (raft.db missing, empty, or without a log entry or
// snapshot): Raft would bootstrap a new, empty cluster under the old
// identity. It refuses a damaged raft.db too. It returns what the dir
// holds.
func checkRaftStart(dataDir string) (state.DiskState, error) {
	raftDir := filepath.Join(dataDir, "raft")
	d, err := state.Inspect(raftDir)
	if err != nil {
		return d, fmt.Errorf("%w; %s", err, lostStateHint(dataDir, d))
	}
	if _, err := os.Stat(filepath.Join(dataDir, clusterMemberFile)); err != nil {
		return d, nil // never held state: a first start, or still forming
	}
	var missing string
	switch {
	case !d.DBExists:
		missing = d.DBPath + " is missing"
	case d.DBSize == 0:
		missing = d.DBPath + " is empty (0 bytes)"
	case !d.HasState():
		missing = d.DBPath + " holds no log entries and there is no snapshot"
	default:
		return d, nil
	}
	return d, fmt.Errorf("this server was a member of a cluster but its Raft state is gone: %s; "+
		"refusing to start, since that would bootstrap a new, empty cluster; %s", missing, lostStateHint(dataDir, d))
}

// lostStateHint names the ways out for a server whose Raft state is gone
// or damaged: a fresh data dir, -recover from a local snapshot
// (recover.go), or a snapshot file restored onto a fresh cluster.
func lostStateHint(dataDir string, d state.DiskState) string {
	return "to re-join the cluster (or bootstrap anew), stop this server and start it with a fresh data dir in place of " + dataDir +
		"; " + recoverHint(dataDir, d)
}

// bootstrapExpect is Consul's bootstrap_expect: every server reads
// GET /v1/agent/self of the servers in Join until it knows
// BootstrapExpect servers (itself included), and then bootstraps Raft
// with all of them, sorted by ID. Since every server computes the same
// configuration, their first log entries agree and an election follows.
// If a peer already belongs to a cluster with a leader, this server joins
// that cluster instead.
func (s *Server) bootstrapExpect(ctx context.Context) {
	want := s.cfg.BootstrapExpect
	peers := map[string]state.Server{s.id: {ID: s.id, Addr: s.RaftAddr(), Voter: true}}
	lastCount := 0
	for ctx.Err() == nil {
		if s.raft.HasState() {
			return
		}
		for _, addr := range s.cfg.Join {
			self, err := s.peerSelf(ctx, addr)
			if err != nil {
				s.logger.Debug("bootstrap: peer not reachable yet", "addr", addr, "err", err)
				continue
			}
			if self.ID == s.id {
				continue
			}
			if self.Bootstrapped && self.KnownLeader {
				s.logger.Info("bootstrap: found an existing cluster; joining it", "peer", addr)
				s.joinCluster(ctx)
				return
			}
			if self.BootstrapExpect != 0 && self.BootstrapExpect != want {
				s.logger.Warn("bootstrap: peer expects a different number of servers", "peer", addr, "theirs", self.BootstrapExpect, "ours", want)
			}
			peers[self.ID] = state.Server{ID: self.ID, Addr: self.RaftAddr, Voter: true}
		}
		if len(peers) >= want {
			voters := slices.Collect(maps.Values(peers))
			err := s.raft.BootstrapCluster(ctx, voters)
			if err == nil || errors.Is(err, state.ErrAlreadyBootstrapped) {
				s.logger.Info("bootstrap: cluster formed", "servers", len(voters))
				return
			}
			s.logger.Warn("bootstrap failed; retrying", "err", err)
		} else if len(peers) != lastCount {
			lastCount = len(peers)
			s.logger.Info("bootstrap: waiting for servers", "known", len(peers), "expect", want)
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

// joinCluster asks the servers in Join, in turn, to add this server as a
// voter, until one succeeds or this server got Raft state some other way.
func (s *Server) joinCluster(ctx context.Context) {
	req := &api.JoinRequest{ID: s.id, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()}
	for ctx.Err() == nil {
		if s.raft.HasState() {
			return
		}
		for _, addr := range s.cfg.Join {
			err := s.peerJoin(ctx, addr, req)
			if err == nil {
				s.logger.Info("joined the cluster", "via", addr)
				return
			}
			s.logger.Warn("join failed; retrying", "addr", addr, "err", err)
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

// runMemberRegistration keeps this server's record in the replicated
// members table current, so that followers can forward to it once it
// leads. The leader writes its own record; a follower asks the leader
// (POST /v1/operator/raft/join, which also makes sure it is a voter).
func (s *Server) runMemberRegistration(ctx context.Context) {
	var leaderless time.Time // since when no leader is known (autopilot.go)
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		me := snap.Member(s.id)
		// The name is not compared: only the leader writes it (JoinRequest
		// carries none), and nothing routes by it.
		current := me != nil && me.RaftAddr == s.RaftAddr() && me.HTTPAddr == s.HTTPAddr()
		_, leaderID := s.raft.Leader()
		// A server removed while it was away hears from no leader again.
		s.rejoinIfLeaderless(ctx, leaderID, &leaderless, time.Now())
		switch {
		case current || leaderID == s.id:
			// Wake when the table changes (a restore may drop the record)
			// or now and then, since leadership changes do not write it.
			wait := 30 * time.Second
			if leaderID == "" {
				wait = s.rejoinAfter() // look again for a leader sooner
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			idx := snap.Index(state.TableMembers)
			_, _, _ = s.raft.Store().Blocking(wctx, idx, []string{state.TableMembers}, func(sn *state.Snapshot) (uint64, any) {
				return sn.Index(state.TableMembers), nil
			})
			cancel()
			continue
		case leaderID != "" && s.raft.HasState():
			if leader := snap.Member(leaderID); leader != nil && leader.HTTPAddr != "" {
				err := s.peerJoin(ctx, leader.HTTPAddr, &api.JoinRequest{ID: s.id, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()})
				if err != nil {
					s.logger.Debug("register with the leader", "err", err)
				}
			}
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

func (s *Server) peerJoin(ctx context.Context, addr string, req *api.JoinRequest) error {
	c, err := s.peerClient(addr)
	if err != nil {
		return err
	}
	signed := *req
	if err := s.proveRaftJoin(&signed, time.Now()); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = c.Operator().RaftJoin(cctx, &signed)
	return err
}

func (s *Server) peerSelf(ctx context.Context, addr string) (*api.AgentSelf, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := s.peerClient(addr)
	if err != nil {
		return nil, err
	}
	return c.Agent().Self(cctx)
}

// peerClient is an API client for another server, carrying our token.
// Join addresses were checked by Validate and member addresses are
// host:port, so NewClient cannot fail on them; should it, the error is
// returned and the caller retries like any failed call.
func (s *Server) peerClient(addr string) (*api.Client, error) {
	return api.NewClient(api.Config{Address: peerURL(addr), Token: s.cfg.Token, HTTPClient: &http.Client{Transport: s.proxy}})
}

// peerURL is the HTTPS URL of another server's API: servers always talk
// HTTPS to each other, with their certificates, whatever scheme a -join
// address was written with.
func peerURL(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	return "https://" + strings.TrimRight(addr, "/")
}

// peerTLSConfig is the TLS client side of server-to-server HTTPS: this
// server's current certificate, and the peer's checked against the
// cluster CA and the name server.<region>.drover rather than the dialled
// address (Nomad's verify_server_hostname), both read at each handshake
// so that renewals apply at once.
func (s *Server) peerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The standard check would compare the dialled IP with the
		// certificate's names; VerifyConnection checks the chain and
		// the role name instead, which a certificate really carries.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			id := s.ident.Load()
			if id == nil {
				return &tls.Certificate{}, nil
			}
			c := id.Cert
			return &c, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id := s.ident.Load()
			if id == nil {
				return errors.New("drover: this server has no certificate yet to check its peer with")
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("drover: the peer sent no certificate")
			}
			return pki.VerifyServer(cs.PeerCertificates[0], id.CA, s.cfg.Region, time.Now())
		},
	}
}

// joinTransport is the HTTPS transport of a server that has only a join
// token: it presents no certificate and trusts the answering server only
// if its chain holds the CA the token names.
func (s *Server) joinTransport(tok pki.JoinToken) *http.Transport {
	return &http.Transport{
		Proxy:           nil,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig: pki.PinnedConfig(tok.Fingerprint, s.cfg.Region),
	}
}

// The server's TLS identity lives in <data-dir>/tls: ca.pem, server.pem
// and server-key.pem on every server; ca-key.pem only on the server that
// created the CA, which alone signs (and keeps the server join token in
// <data-dir>/server.join-token). Every file is mode 0600.
const (
	tlsDirName        = "tls"
	caFile            = "ca.pem"
	caKeyFile         = "ca-key.pem"
	serverCertFile    = "server.pem"
	serverKeyFile     = "server-key.pem"
	serverJoinTokFile = "server.join-token"
)

// rejoinHint tells an operator how to bring back a server whose identity
// is gone.
const rejoinHint = "to re-join the cluster, stop this server, move its data dir aside, and start it with " +
	"-join ADDR -join-token-file FILE (the first server wrote <data-dir>/server.join-token; " +
	"'drover operator join-token server -data-dir DIR' prints it)"

// setupTLS loads or creates the server's TLS identity before Raft opens:
//   - with certificate files, it loads them (and the CA key and join
//     token, when this server holds them);
//   - with Raft state but no certificate, it refuses: the server lost its
//     identity and must re-join;
//   - with a join token, it leaves the identity empty: runBootstrap
//     obtains a certificate from the servers in Join, and Raft refuses
//     every connection until then;
//   - otherwise a server that bootstraps (bootstrap_expect >= 1) creates
//     the cluster CA, its own certificate and the server join token.
func (s *Server) setupTLS(now time.Time) error {
	if s.cfg.TLSCertFile != "" {
		return s.loadOwnPKI(now)
	}
	dir := filepath.Join(s.cfg.DataDir, tlsDirName)
	_, err := os.Stat(filepath.Join(dir, serverCertFile))
	switch {
	case err == nil:
		return s.loadTLS(dir, now)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("tls: %w", err)
	}
	if s.cfg.JoinToken != "" {
		// runBootstrap obtains the certificate; New refuses a server that
		// has Raft state without one.
		return nil
	}
	if hasRaftDB(s.cfg.DataDir) {
		return errLostIdentity(dir)
	}
	if s.cfg.BootstrapExpect == 0 {
		if len(s.cfg.Join) > 0 {
			return errors.New("joining a cluster needs its server join token: set -join-token or -join-token-file " +
				"(the first server wrote it to <data-dir>/server.join-token)")
		}
		return nil // New reports that there is nothing to form a cluster with
	}
	return s.createCA(dir, now)
}

// loadOwnPKI loads the certificate of the operator's own PKI
// (tls { ca_file cert_file key_file }).
func (s *Server) loadOwnPKI(now time.Time) error {
	var pems [3][]byte
	for i, path := range []string{s.cfg.TLSCAFile, s.cfg.TLSCertFile, s.cfg.TLSKeyFile} {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		pems[i] = b
	}
	id, err := pki.LoadServerIdentity(s.cfg.Region, pems[0], pems[1], pems[2], now)
	if err != nil {
		return fmt.Errorf("tls: %s: %w (a server certificate must name %s; 'drover tls cert create -server' makes one)", s.cfg.TLSCertFile, err, pki.ServerName(s.cfg.Region))
	}
	s.ident.Store(id)
	if s.cfg.TLSKEKFile != "" {
		return s.loadKEKFile(s.cfg.TLSKEKFile)
	}
	return nil
}

// loadTLS loads the identity of a server that has one.
func (s *Server) loadTLS(dir string, now time.Time) error {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("tls: %w; %s", err, rejoinHint)
		}
		return b, nil
	}
	caPEM, err := read(caFile)
	if err != nil {
		return err
	}
	certPEM, err := read(serverCertFile)
	if err != nil {
		return err
	}
	keyPEM, err := read(serverKeyFile)
	if err != nil {
		return err
	}
	id, err := pki.LoadServerIdentity(s.cfg.Region, caPEM, certPEM, keyPEM, now)
	if err != nil {
		id, err = s.finishRenewal(dir, caPEM, certPEM, now, err)
	}
	if err != nil {
		return fmt.Errorf("tls: %s: %w; %s", dir, err, rejoinHint)
	}
	s.ident.Store(id)

	if err := s.loadKEK(dir); err != nil {
		return err
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil // not the server that created the CA
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	ca, err := pki.LoadCA(caPEM, caKeyPEM)
	if err != nil {
		return fmt.Errorf("tls: %s: %w", filepath.Join(dir, caKeyFile), err)
	}
	s.ca.Store(ca)
	for _, role := range []pki.Role{pki.RoleServer, pki.RoleClient} {
		if err := s.loadJoinToken(ca, role); err != nil {
			return err
		}
	}
	return nil
}

// loadJoinToken reads the join token of role that the CA's creator
// keeps, or makes a new one if the file is gone.
func (s *Server) loadJoinToken(ca *pki.CA, role pki.Role) error {
	path := joinTokenFile(s.cfg.DataDir, role)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		tok, err := pki.ParseJoinToken(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if tok.Fingerprint != ca.Fingerprint() {
			return fmt.Errorf("%s: the token is for another CA than %s", path, filepath.Join(s.cfg.DataDir, tlsDirName, caFile))
		}
		if tok.Role != role {
			return fmt.Errorf("%s: holds a %s join token, not a %s one", path, tok.Role, role)
		}
		s.localToken(role).Store(&tok)
		return nil
	case errors.Is(err, os.ErrNotExist):
		tok, err := pki.NewJoinToken(role, ca.Fingerprint())
		if err != nil {
			return err
		}
		if err := atomicfile.Write(path, []byte(tok.String()+"\n"), 0o600); err != nil {
			return err
		}
		s.logger.Info("wrote a new join token", "role", role, "path", path)
		s.localToken(role).Store(&tok)
		return nil
	default:
		return fmt.Errorf("read join token: %w", err)
	}
}

// finishRenewal completes a renewal that stopped between writing the new
// certificate and moving its key into place (renewCertificate). It
// returns loadErr if there is no such key.
func (s *Server) finishRenewal(dir string, caPEM, certPEM []byte, now time.Time, loadErr error) (*pki.ServerIdentity, error) {
	next := filepath.Join(dir, serverKeyNextFile)
	keyPEM, err := os.ReadFile(next)
	if err != nil {
		return nil, loadErr
	}
	id, err := pki.LoadServerIdentity(s.cfg.Region, caPEM, certPEM, keyPEM, now)
	if err != nil {
		return nil, loadErr
	}
	if err := os.Rename(next, filepath.Join(dir, serverKeyFile)); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return id, nil
}

// createCA makes the cluster CA, this server's certificate and the server
// join token: the first server of a cluster does, once.
func (s *Server) createCA(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	ca, err := pki.NewCA(s.cfg.Region, now)
	if err != nil {
		return err
	}
	caKeyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewServerCSR(key, s.cfg.Region)
	if err != nil {
		return err
	}
	certPEM, err := ca.SignServer(csr, s.cfg.Region, now, s.cfg.CertLifetime)
	if err != nil {
		return err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	// The server certificate is written last: its presence says the
	// identity is complete (setupTLS).
	for _, f := range []struct {
		name string
		data []byte
	}{{caKeyFile, caKeyPEM}, {caFile, ca.CertPEM()}, {serverKeyFile, keyPEM}, {serverCertFile, certPEM}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	kek, err := pki.NewKEK()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, kekFile), []byte(pki.EncodeKEK(kek)+"\n"), 0o600); err != nil {
		return err
	}
	for _, role := range []pki.Role{pki.RoleServer, pki.RoleClient} {
		_ = os.Remove(joinTokenFile(s.cfg.DataDir, role)) // a token of an older CA
	}
	if err := s.loadTLS(dir, now); err != nil {
		return err
	}
	s.logger.Info("created the cluster CA; servers and agents join with its join tokens",
		"ca_fingerprint", pki.FingerprintString(ca.Fingerprint()),
		"server_join_token_file", joinTokenFile(s.cfg.DataDir, pki.RoleServer),
		"client_join_token_file", joinTokenFile(s.cfg.DataDir, pki.RoleClient))
	return nil
}

// obtainCertificate gets this server's certificate from the servers in
// Join with the join token, trying them in turn until one signs or ctx
// ends. The answer is trusted only if its CA has the token's fingerprint.
func (s *Server) obtainCertificate(ctx context.Context) bool {
	tok, err := pki.ParseJoinToken(s.cfg.JoinToken)
	if err != nil { // Validate parsed it; cannot happen
		s.logger.Error("join token", "err", err)
		return false
	}
	key, err := pki.NewKey()
	if err != nil {
		s.logger.Error("tls join", "err", err)
		return false
	}
	csr, err := pki.NewServerCSR(key, s.cfg.Region)
	if err != nil {
		s.logger.Error("tls join", "err", err)
		return false
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		s.logger.Error("tls join", "err", err)
		return false
	}
	req := &api.TLSJoinRequest{CSR: string(csr), Token: s.cfg.JoinToken}
	rt := s.joinTransport(tok)
	defer rt.CloseIdleConnections()
	for ctx.Err() == nil {
		for _, addr := range s.cfg.Join {
			resp, err := s.peerTLSPost(ctx, rt, addr, tlsJoinPath, req)
			if err == nil {
				err = s.storeJoinedIdentity(tok, resp, keyPEM)
			}
			if err == nil {
				s.logger.Info("obtained a server certificate", "via", addr,
					"ca_fingerprint", pki.FingerprintString(tok.Fingerprint))
				return true
			}
			s.logger.Warn("tls join failed; retrying", "addr", addr, "err", err)
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return false
		}
	}
	return false
}

// storeJoinedIdentity checks a signing server's answer against the token
// (pinning the CA) and against our key, and stores it.
func (s *Server) storeJoinedIdentity(tok pki.JoinToken, resp *api.TLSJoinResponse, keyPEM []byte) error {
	ca, err := pki.ParseCACert([]byte(resp.CA))
	if err != nil {
		return err
	}
	if pki.Fingerprint(ca) != tok.Fingerprint {
		return fmt.Errorf("the server answered with a CA whose fingerprint %s is not the join token's %s: refusing it",
			pki.FingerprintString(pki.Fingerprint(ca)), pki.FingerprintString(tok.Fingerprint))
	}
	id, err := pki.LoadServerIdentity(s.cfg.Region, []byte(resp.CA), []byte(resp.Cert), keyPEM, time.Now())
	if err != nil {
		return err
	}
	dir := filepath.Join(s.cfg.DataDir, tlsDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{caFile, []byte(resp.CA)}, {serverKeyFile, keyPEM}, {serverCertFile, []byte(resp.Cert)}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	if resp.KEK != "" {
		kek, err := pki.ParseKEK(resp.KEK)
		if err != nil {
			return fmt.Errorf("the key-encryption key the server sent: %w", err)
		}
		if err := s.storeKEK(kek); err != nil {
			return err
		}
	}
	s.ident.Store(id)
	return nil
}

// raftTLS is the state.TLSSource of this server's Raft transport.
func (s *Server) raftTLS() (*tls.Config, error) {
	id := s.ident.Load()
	if id == nil {
		return nil, errors.New("this server has no certificate yet (it is joining)")
	}
	return id.TLSConfig(), nil
}

func errLostIdentity(dir string) error {
	return fmt.Errorf("this server has cluster state but no certificate (%s is missing): it lost its TLS identity; %s",
		filepath.Join(dir, serverCertFile), rejoinHint)
}

// hasRaftDB reports whether the data dir holds Raft state, without
// opening it.
func hasRaftDB(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "raft", "raft.db"))
	return err == nil
}

// ReadServerJoinToken returns the server join token that the server
// holding the cluster CA keeps in dataDir.
func ReadServerJoinToken(dataDir string) (string, error) {
	return ReadJoinToken(dataDir, pki.RoleServer)
}

// ReadJoinToken returns the join token of role that the server holding
// the cluster CA keeps in dataDir.
func ReadJoinToken(dataDir string, role pki.Role) (string, error) {
	path := joinTokenFile(dataDir, role)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s does not exist: the server that created the cluster CA (the first one) keeps the join tokens; "+
			"elsewhere, 'drover operator join-token %s' prints it", path, role)
	}
	if err != nil {
		return "", err
	}
	tok, err := pki.ParseJoinToken(string(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return tok.String(), nil
}
