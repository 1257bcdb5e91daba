// Package server is the wiring of a Drover server: the replicated state
// store (package state) on Raft, the HTTP API of package api, and the
// duties only the leader performs.
//
// # Leader duties
//
// While a server leads (state.Replicated.LeaderWatch), it first runs a
// Barrier so that its state holds every committed write, records its
// addresses in the replicated members table, and then runs two loops
// until it loses leadership: the evaluation loop (evals.go,
// plan_apply.go), which runs the scheduler on pending evaluations and
// commits each plan with the evaluation's outcome in one MsgPlanApply,
// and the heartbeat tracker (heartbeat.go), which marks nodes that miss
// their TTL down with evaluations that replace their allocations.
//
// # Clustering
//
// bootstrap_expect 1 forms a cluster of one; N > 1 discovers N servers
// through GET /v1/agent/self on the -join addresses and bootstraps them
// together with one sorted configuration (Consul's bootstrap_expect); a
// server without either joins through POST /v1/operator/raft/join. A
// server with Raft state never bootstraps again. Followers forward writes
// and reads to the leader's HTTP address (from the members table) unless
// a read asks for ?stale.
//
// Every goroutine is started by Run (or by the leader duties Run starts
// on leadership changes) and waited for before Run returns.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/droverhq/drover/metrics"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/tlslisten"
)

// Server is one Drover server.
type Server struct {
	cfg    Config
	logger *slog.Logger
	id     string

	raft *state.Replicated
	// resumedAt is the last Raft index in the data dir at start (0: none).
	resumedAt uint64
	listener  net.Listener
	httpSrv   *http.Server
	// proxy carries requests a follower forwards to the leader.
	proxy *http.Transport

	// audit buffers the audit log until the next flush (audit.go).
	audit *auditRecorder

	// unblockC asks the evaluation loop to re-run blocked evaluations:
	// capacity was freed. Buffered 1; a kick while one is pending is
	// dropped, since one re-run serves both.
	unblockC chan struct{}
	hb       *heartbeats
	// sources are the Git sources the leader reconciles.
	sources *sourceSet

	// leaderMu guards leaderReady: closed once this server, as leader,
	// has caught up (Barrier) and may serve and schedule; replaced when
	// leadership is lost.
	leaderMu    sync.Mutex
	leaderReady chan struct{}
	established bool

	runOnce sync.Once

	// ident is this server's TLS identity for Raft and HTTPS: nil until
	// a joining server obtained its certificate; renewals swap it
	// (tls_renew.go).
	ident atomic.Pointer[pki.ServerIdentity]
	// ca is set on the server that created the cluster CA and keeps its
	// key in the data dir; serverToken and clientToken are the join
	// tokens that server keeps in files. Once the keyring is replicated
	// (tls_keyring.go), every server with the KEK signs and checks
	// tokens from Raft: signer() and joinToken() pick.
	ca          atomic.Pointer[pki.CA]
	serverToken atomicToken
	clientToken atomicToken
	kek         atomic.Pointer[[32]byte]
	openKeyring atomic.Pointer[openedKeyring]
	// idKeys is the unsealed workload identity signing key (identity.go).
	idKeys identityKeyCache
	// rootKeys is the unsealed root keyring of variables (keyring.go).
	rootKeys rootKeyring
	// ageKeys is the unsealed age identities of sealed variable files
	// (seal_key.go).
	ageKeys sealKeyCache
	// tokenMu serialises join token rotations (tls_token.go).
	tokenMu sync.Mutex

	// policies caches parsed ACL policies (acl.go).
	policies policyCache

	// autopilot is the leader's view of its followers' heartbeats
	// (autopilot.go); recovered is the snapshot -recover started from.
	autopilot autopilotState
	recovered *state.Recovered

	// now is the clock of periodic launches (periodic.go): time.Now,
	// replaced by tests.
	now func() time.Time

	// metrics is this server's metric set, metricsLn the optional
	// separate listener for it (metrics.go).
	metrics   *metrics.Server
	metricsLn net.Listener
}

// atomicToken holds a join token that rotations replace.
type atomicToken = atomic.Pointer[pki.JoinToken]

// New opens the state store in cfg.DataDir and binds the HTTP and Raft
// listeners; Run serves. On error nothing is left open.
func New(cfg Config, logger *slog.Logger) (_ *Server, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Token == "" && cfg.TokenFile != "" {
		tok, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		cfg.Token = strings.TrimSpace(string(tok))
		if cfg.Token == "" {
			return nil, fmt.Errorf("token file %s is empty", cfg.TokenFile)
		}
	}
	if cfg.JoinToken == "" && cfg.JoinTokenFile != "" {
		tok, err := os.ReadFile(cfg.JoinTokenFile)
		if err != nil {
			return nil, fmt.Errorf("read join token file: %w", err)
		}
		cfg.JoinToken = strings.TrimSpace(string(tok))
		if cfg.JoinToken == "" {
			return nil, fmt.Errorf("join token file %s is empty", cfg.JoinTokenFile)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// -recover rebuilds lost or damaged Raft state from a local snapshot
	// first (recover.go); then the check below passes.
	var recovered *state.Recovered
	if cfg.Recover {
		if recovered, err = recoverRaftState(cfg.DataDir, logger, time.Now()); err != nil {
			return nil, err
		}
	}
	// Before anything is created: a data dir that lost its Raft state
	// must not bootstrap a new cluster.
	disk, err := checkRaftStart(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	id, err := loadServerID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	logger = logger.With("server", cfg.Name)

	s := &Server{
		cfg:         cfg,
		logger:      logger,
		id:          id,
		unblockC:    make(chan struct{}, 1),
		now:         time.Now,
		leaderReady: make(chan struct{}),
		recovered:   recovered,
		proxy: &http.Transport{
			// Never an environment proxy between servers; no response
			// timeout, since blocking queries are forwarded too.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	s.proxy.TLSClientConfig = s.peerTLSConfig()
	s.metrics = newServerMetrics(s)
	s.hb = newHeartbeats(s)
	if s.sources, err = newSourceSet(cfg.Sources); err != nil {
		return nil, err
	}

	if err := s.setupTLS(time.Now()); err != nil {
		return nil, err
	}

	s.listener, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	s.listener = tlslisten.New(s.listener, s.httpsConfig(), !cfg.HTTPSOnly())
	defer func() {
		if err != nil {
			_ = s.listener.Close()
		}
	}()

	rc := cfg.Raft
	rc.DataDir = filepath.Join(cfg.DataDir, "raft")
	rc.NodeID = id
	rc.BindAddr = cfg.RaftAddr
	rc.AdvertiseAddr = cfg.AdvertiseRaft
	rc.Bootstrap = cfg.BootstrapExpect == 1
	rc.TLS = s.raftTLS
	rc.Observer = s.metrics
	s.raft, err = state.Open(rc, logger)
	if err != nil {
		return nil, err
	}
	if s.raft.HasState() && s.ident.Load() == nil {
		_ = s.raft.Shutdown()
		return nil, errLostIdentity(filepath.Join(cfg.DataDir, tlsDirName))
	}
	if !s.raft.HasState() && cfg.BootstrapExpect == 0 && len(cfg.Join) == 0 {
		_ = s.raft.Shutdown()
		return nil, errors.New("this server has no cluster state and nothing to form one with: " +
			"start it with -bootstrap-expect 1 to run alone, or -join ADDR to join a cluster")
	}
	if disk.HasState() {
		s.resumedAt = s.raft.LastIndex()
	}
	if s.raft.HasState() {
		if err := markClusterMember(cfg.DataDir); err != nil {
			_ = s.raft.Shutdown()
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	if err := s.listenMetrics(); err != nil { // metrics.go
		_ = s.raft.Shutdown()
		return nil, err
	}
	s.httpSrv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: blocking queries hold a response for up to
		// ten minutes.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ID returns the server's Raft ID.
func (s *Server) ID() string { return s.id }

// ResumedAt returns the last Raft index found in the data dir at start,
// 0 when the server started without state (it bootstrapped a new
// cluster, or joins or forms one).
func (s *Server) ResumedAt() uint64 { return s.resumedAt }

// Name returns the server's name.
func (s *Server) Name() string { return s.cfg.Name }

// HTTPAddr returns the address the API is reachable at.
func (s *Server) HTTPAddr() string {
	if s.cfg.AdvertiseHTTP != "" {
		return s.cfg.AdvertiseHTTP
	}
	return s.listener.Addr().String()
}

// RaftAddr returns the address Raft is reachable at.
func (s *Server) RaftAddr() string { return s.raft.Addr() }

// DataDir returns the data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// State returns the replicated state store, for tests and diagnostics.
func (s *Server) State() *state.Replicated { return s.raft }

// Run serves the API and takes part in the cluster until ctx ends, then
// shuts everything down and waits for it. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	err := errors.New("server: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Server) run(ctx context.Context) error {
	// Requests inherit runCtx, so that blocking queries and forwarded
	// requests end when the server stops instead of holding Shutdown.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.httpSrv.BaseContext = func(net.Listener) context.Context { return runCtx }

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		if err := s.httpSrv.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	})
	wg.Go(func() { s.runLeadership(runCtx) })
	wg.Go(func() { s.runBootstrap(runCtx) })
	wg.Go(func() { s.runMemberRegistration(runCtx) })
	wg.Go(func() { s.runCertRenewal(runCtx) })
	wg.Go(func() { s.runAudit(runCtx) })
	wg.Go(func() { s.runMetricsListener(runCtx) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	case <-s.raft.Halted():
		err = fmt.Errorf("%w.\n\nThis server stopped so that it never serves state the other servers do not have; "+
			"they carry on. To bring it back, move its data dir %s aside and start it again with "+
			"-join and the server join token (drover operator join-token server): it copies the state from the others. "+
			"A server alone has no others: move its raft/raft.db aside and start it with -recover "+
			"(from the newest local snapshot; writes after it are lost), "+
			"or restore a saved snapshot onto a fresh one (drover operator snapshot restore)",
			s.raft.HaltErr(), s.cfg.DataDir)
	}
	s.logger.Info("shutting down")
	cancel()
	shutCtx, shutCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer shutCancel()
	if e := s.httpSrv.Shutdown(shutCtx); e != nil {
		_ = s.httpSrv.Close()
	}
	wg.Wait()
	s.proxy.CloseIdleConnections()
	return errors.Join(err, s.raft.Shutdown())
}

// loadServerID returns the server's Raft ID, created on first start. It
// must never change: Raft knows the server by it.
func loadServerID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "server-id")
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" {
			return "", fmt.Errorf("%s is empty; restore it or remove the data dir", path)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read server ID: %w", err)
	}
	id := newID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write server ID: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write server ID: %w", err)
	}
	return id, nil
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
