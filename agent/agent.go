package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/docker"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/drivers/qemu"
	"github.com/droverhq/drover/drivers/rawexec"
	"github.com/droverhq/drover/httpguard"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/metrics"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/tlslisten"
)

// Agent is one client agent.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	db       *localstate.DB
	registry *drivers.Registry
	closers  []io.Closer
	servers  *serverPool
	nodeID   string
	secret   string
	// ident is the agent's client certificate (tls.go), empty until it
	// has one.
	ident pki.Reloadable
	// secretFresh is set when this agent made the node's secret for an
	// ID it already had (a data dir older than node secrets, or one that
	// lost it): the servers may know another.
	secretFresh bool

	listener net.Listener
	httpSrv  *http.Server

	// metrics is the agent's metric set, metricsLn the optional separate
	// listener for it (metrics.go).
	metrics   *metrics.Agent
	metricsLn net.Listener

	// registered is closed once the node is registered; reregister asks
	// the server loop to register again (the servers forgot the node).
	registered     chan struct{}
	registeredOnce sync.Once
	reregisterC    chan struct{}

	nodeMu sync.Mutex
	node   *cluster.Node

	mu      sync.Mutex
	runners map[string]*allocrunner.Runner
	jobs    *jobCache
	sync    *syncer
	// contact is when the agent last reached a server (disconnect.go).
	contact *contact

	runOnce sync.Once
}

// New opens the data dir and binds the agent's API; Run runs the agent.
// On error nothing is left open.
func New(cfg Config) (_ *Agent, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "allocs"), 0o711); err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	a := &Agent{
		cfg: cfg, log: log,
		registered:  make(chan struct{}),
		reregisterC: make(chan struct{}, 1),
		runners:     map[string]*allocrunner.Runner{},
	}
	a.metrics = metrics.NewAgent(a.taskViews)
	ds := cfg.Drivers
	if ds == nil {
		// exec isolates its tasks; raw_exec is the same runtime without
		// isolation, and off unless the operator enables it.
		ecfg := exec.DefaultConfig()
		ecfg.Logger = log
		if cfg.ChrootEnv != nil {
			ecfg.Isolation.ChrootEnv = cfg.ChrootEnv
		}
		if cfg.UserDenylist != nil {
			ecfg.Isolation.UserDenylist = cfg.UserDenylist
		}
		d, err := exec.New(ecfg)
		if err != nil {
			return nil, err
		}
		rcfg := rawexec.DefaultConfig()
		rcfg.Enabled = cfg.RawExecEnabled
		rcfg.Exec.Logger = log
		rd, err := rawexec.New(rcfg)
		if err != nil {
			return nil, err
		}
		// The docker driver talks to the daemon only from Fingerprint
		// and Start, so a node without Docker still starts; its
		// fingerprint then says the driver is not detected. QEMU runs
		// its VMs through an exec driver without isolation (the VM needs
		// /dev/kvm and its image; QEMU confines the guest), named exec as
		// before so that VMs survive agent restarts like any task.
		dcfg := docker.DefaultConfig()
		dcfg.Logger = log
		dcfg.Host = cfg.Docker.Endpoint
		dcfg.AllowPrivileged = cfg.Docker.AllowPrivileged
		dcfg.AllowVolumes = cfg.Docker.VolumesEnabled
		if cfg.Docker.AllowCaps != nil {
			dcfg.AllowedCaps = dockerCaps(cfg.Docker.AllowCaps)
		}
		dd, err := docker.New(dcfg)
		if err != nil {
			return nil, err
		}
		runnerCfg := exec.DefaultConfig()
		runnerCfg.Isolation = nil
		runnerCfg.Logger = log
		runner, err := exec.New(runnerCfg)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, runner)
		qcfg := qemu.DefaultConfig(runner)
		qcfg.Logger = log
		qcfg.ImagePaths = cfg.QEMU.ImagePaths
		qcfg.ArgsAllowlist = cfg.QEMU.ArgsAllowlist
		qd, err := qemu.New(qcfg)
		if err != nil {
			return nil, err
		}
		ds = []drivers.Driver{d, rd, dd, qd}
	}
	ds, err = allowedDrivers(ds, cfg.DriverAllowlist, cfg.DriverDenylist)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if c, ok := d.(io.Closer); ok {
			a.closers = append(a.closers, c)
		}
	}
	if a.registry, err = drivers.NewRegistry(ds...); err != nil {
		return nil, err
	}
	if a.db, err = localstate.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.db.Close()
		}
	}()
	secret, err := a.identity()
	if err != nil {
		return nil, err
	}
	a.log = log.With("node_id", a.nodeID)
	if a.secretFresh {
		a.log.Warn("the data dir has a node ID but no node secret; made one, which the servers accept only if they know none for this node")
	}
	a.secret = secret
	if err := a.loadTLS(time.Now()); err != nil {
		return nil, err
	}
	var hc *http.Client
	if a.ident.Load() != nil {
		hc = &http.Client{Transport: a.serverTransport()}
	}
	if a.servers, err = newServerPool(cfg.Servers, cfg.Token, secret, hc); err != nil {
		return nil, err
	}
	if a.listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", cfg.HTTPAddr, err)
	}
	if a.usesTLS() {
		// With a certificate the log API speaks HTTPS (plain HTTP too on
		// loopback, for a local CLI), and the CLI checks that it talks
		// to this node.
		a.listener = tlslisten.New(a.listener, pki.LazyHTTPSServerConfig(a.ident.Load), httpguard.IsLoopback(cfg.HTTPAddr))
	}
	if err := a.listenMetrics(); err != nil { // metrics.go
		_ = a.listener.Close()
		return nil, err
	}
	a.httpSrv = &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	a.jobs = newJobCache(a.servers)
	a.sync = newSyncer(a)
	a.contact = newContact(time.Now())
	return a, nil
}

// allowedDrivers keeps the drivers the operator's driver.allowlist and
// driver.denylist options allow (Nomad's semantics: an empty allowlist
// allows every driver; the denylist wins). A name in either list that
// is no driver of this agent is an error, since a typo there would
// silently leave a driver on or off.
func allowedDrivers(ds []drivers.Driver, allow, deny []string) ([]drivers.Driver, error) {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name()
	}
	var errs []error
	for _, l := range []struct {
		opt   string
		names []string
	}{{"driver.allowlist", allow}, {"driver.denylist", deny}} {
		for _, n := range l.names {
			if !slices.Contains(names, n) {
				errs = append(errs, fmt.Errorf("agent: option %s names %q, which is not a driver of this agent (drivers: %s)", l.opt, n, strings.Join(names, ", ")))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []drivers.Driver
	for _, d := range ds {
		if (len(allow) == 0 || slices.Contains(allow, d.Name())) && !slices.Contains(deny, d.Name()) {
			out = append(out, d)
		} else if c, ok := d.(io.Closer); ok {
			_ = c.Close()
		}
	}
	return out, nil
}

// dockerCaps turns Nomad's allow_caps spelling ("net_admin", "all") into
// the docker driver's ("NET_ADMIN", "ALL").
func dockerCaps(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_"))
	}
	return out
}

// identity reads the node's ID and secret from the data dir, making and
// storing them first on a new data dir. The agent makes its secret
// itself, as Nomad's client does, and stores it before it registers: a
// registration whose answer is lost can then be sent again with the same
// secret, where a secret the servers made would be lost with the answer.
func (a *Agent) identity() (secret string, err error) {
	if a.nodeID, err = a.db.NodeID(); err != nil {
		return "", fmt.Errorf("agent: read node ID: %w", err)
	}
	if secret, err = a.db.NodeSecret(); err != nil {
		return "", fmt.Errorf("agent: read node secret: %w", err)
	}
	if a.nodeID != "" && secret != "" {
		if err := cluster.ValidNodeSecret(secret); err != nil {
			return "", fmt.Errorf("agent: the node secret stored in %s: %w", a.cfg.DataDir, err)
		}
		return secret, nil
	}
	a.secretFresh = a.nodeID != ""
	if a.nodeID == "" {
		a.nodeID = newID()
		if a.cfg.TLSCertFile != "" {
			if a.nodeID, err = ownPKINodeID(a.cfg); err != nil {
				return "", err
			}
		}
	}
	secret = cluster.NewNodeSecret()
	if err := a.db.SetNodeIdentity(a.nodeID, secret); err != nil {
		return "", fmt.Errorf("agent: store node identity: %w", err)
	}
	return secret, nil
}

// NodeID returns the node's ID, stable across restarts of the agent.
func (a *Agent) NodeID() string { return a.nodeID }

// HTTPAddr returns where the agent's API listens.
func (a *Agent) HTTPAddr() string { return a.listener.Addr().String() }

// Node returns the node as last registered (nil before the first
// fingerprint).
func (a *Agent) Node() *cluster.Node {
	a.nodeMu.Lock()
	defer a.nodeMu.Unlock()
	return a.node.Copy()
}

// Registered is closed once the servers know the node.
func (a *Agent) Registered() <-chan struct{} { return a.registered }

// Run runs the agent until ctx ends. Tasks keep running after it returns
// unless Config.StopTasksOnShutdown is set. It may be called once.
func (a *Agent) Run(ctx context.Context) error {
	err := errors.New("agent: Run called twice")
	a.runOnce.Do(func() { err = a.run(ctx) })
	return err
}

func (a *Agent) run(ctx context.Context) error {
	defer a.db.Close()
	node := a.fingerprint(ctx)
	a.nodeMu.Lock()
	a.node = node
	a.nodeMu.Unlock()
	a.log.Info("fingerprinted node", "name", node.Name, "cpu_mhz", node.Resources.CPU, "memory_mb", node.Resources.MemoryMB,
		"drivers", healthyDrivers(node), "http_addr", node.HTTPAddr)

	// Allocation runners outlive ctx when tasks must be stopped on
	// shutdown, so they get their own context.
	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	var runners sync.WaitGroup
	a.restore(runCtx, &runners)

	var wg sync.WaitGroup
	// One slot per goroutine that may fail, so that none blocks.
	fatal := make(chan error, 2)
	wg.Go(func() {
		if err := a.httpSrv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatal <- fmt.Errorf("agent http: %w", err)
		}
	})
	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	wg.Go(func() {
		if err := a.serverLoop(loopCtx); err != nil {
			fatal <- err
		}
	})
	wg.Go(func() { a.watchLoop(loopCtx, runCtx, &runners) })
	wg.Go(func() { a.runCertRenewal(loopCtx) })
	wg.Go(func() { a.sync.run(loopCtx) })
	wg.Go(func() { a.runDisconnectStops(loopCtx) })
	wg.Go(func() { a.runMetricsListener(loopCtx) }) // metrics.go

	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	stopLoops()
	a.log.Info("agent shutting down", "stop_tasks", a.cfg.StopTasksOnShutdown)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if e := a.httpSrv.Shutdown(shutCtx); e != nil {
		_ = a.httpSrv.Close()
	}
	cancel()
	wg.Wait()
	if a.cfg.StopTasksOnShutdown {
		a.stopAll(context.WithoutCancel(ctx))
	}
	stopRunners()
	runners.Wait()
	for _, c := range a.closers {
		_ = c.Close()
	}
	return err
}

// stopAll stops every task and waits, bounded, for them. The
// allocations are not ended (see allocrunner.Runner.Suspend): the next
// agent on this data dir starts their tasks again.
func (a *Agent) stopAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	a.mu.Lock()
	rs := make([]*allocrunner.Runner, 0, len(a.runners))
	for _, r := range a.runners {
		rs = append(rs, r)
	}
	a.mu.Unlock()
	for _, r := range rs {
		r.Suspend("the agent is stopping")
	}
	for _, r := range rs {
		select {
		case <-r.Done():
			a.sync.enqueue(r.ClientAlloc())
		case <-ctx.Done():
			a.log.Warn("allocation did not stop in time", "alloc", r.ID())
		}
	}
	// Tell the servers, so that they do not wait for a heartbeat TTL to
	// learn that nothing runs here any more.
	flushCtx, cancelFlush := context.WithTimeout(ctx, 5*time.Second)
	defer cancelFlush()
	a.sync.flush(flushCtx)
}

func (a *Agent) allocDir(id string) string {
	return filepath.Join(a.cfg.DataDir, "allocs", id)
}

// runner returns the runner of an allocation, or nil.
func (a *Agent) runner(id string) *allocrunner.Runner {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runners[id]
}

// restore starts runners for the allocations in the local state: they
// re-attach to their tasks before the servers are even reachable.
func (a *Agent) restore(ctx context.Context, wg *sync.WaitGroup) {
	recs, err := a.db.Allocs()
	if err != nil {
		a.log.Error("some stored allocations could not be read", "err", err)
	}
	for _, rec := range recs {
		if rec.Job == nil {
			a.log.Warn("stored allocation has no job; dropping it", "alloc", rec.Alloc.ID)
			_ = a.db.DeleteAlloc(rec.Alloc.ID)
			continue
		}
		r, err := a.newRunner(rec.Alloc, rec.Job, rec)
		if err != nil {
			a.log.Error("restore allocation", "alloc", rec.Alloc.ID, "err", err)
			continue
		}
		a.log.Info("restoring allocation", "alloc", rec.Alloc.ID, "job", rec.Alloc.JobID)
		a.startRunner(ctx, wg, r)
	}
}

func (a *Agent) newRunner(alloc *cluster.Allocation, job *jobspec.Job, rec *localstate.AllocRecord) (*allocrunner.Runner, error) {
	return allocrunner.New(allocrunner.Config{
		Alloc: alloc, Job: job, Node: a.Node(), IP: a.cfg.NetworkIP, Dir: a.allocDir(alloc.ID),
		Drivers: a.registry, DB: a.db, Logger: a.log, OnUpdate: a.sync.enqueue, Restore: rec,
		Identities: a.fetchIdentities, // identity.go
		Live:       templateData{a},   // templatedata.go
		Metrics:    a.metrics,
	})
}

func (a *Agent) startRunner(ctx context.Context, wg *sync.WaitGroup, r *allocrunner.Runner) {
	a.mu.Lock()
	a.runners[r.ID()] = r
	a.mu.Unlock()
	wg.Go(func() { r.Run(ctx) })
}

func healthyDrivers(n *cluster.Node) []string {
	var out []string
	for name, d := range n.Drivers {
		if d.Healthy {
			out = append(out, name)
		}
	}
	return out
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
