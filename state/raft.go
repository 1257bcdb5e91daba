package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// Replicated is the state store running on a Raft node: writes go through
// the Raft log (Apply), reads come from the local Store.
//
// A read on a follower, or on a leader that was just elected, may lag the
// cluster; call Barrier first when a read must reflect every write
// acknowledged before it.
type Replicated struct {
	cfg    Config
	logger *slog.Logger

	store     *Store
	fsm       *FSM
	raft      *raft.Raft
	transport *raft.NetworkTransport
	bolt      *raftboltdb.BoltStore

	// life guards closed and wg.Add, so that no waiter goroutine starts
	// once Shutdown waits for them.
	life   sync.RWMutex
	closed bool
	wg     sync.WaitGroup
	stopC  chan struct{}

	// encode is Encode; only OpenLegacyEncodingForTest (export_test.go)
	// sets the pre-envelope format, to measure the envelope side by side.
	encode func(MessageType, any) ([]byte, error)

	leaderMu sync.Mutex
	isLeader bool
	leaderC  chan struct{} // closed and replaced on every change
}

// Server is one member of the Raft configuration.
type Server struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
}

// Open starts a Raft node on cfg.DataDir: it loads the latest snapshot and
// the log after it, and joins elections. The state catches up as the
// leader commits; a caller that needs it current waits for a leader and
// calls Barrier.
func Open(cfg Config, logger *slog.Logger) (*Replicated, error) {
	return open(cfg, logger, newTLSStreamLayer)
}

// streamLayerFunc makes the connections Raft's transport runs on.
//
// It is a parameter of open only so that a benchmark can measure what TLS
// costs against plain TCP in the same run (OpenPlaintextForTest, in
// export_test.go, which production code cannot reach). Open always passes
// newTLSStreamLayer.
type streamLayerFunc func(cfg Config, advertise net.Addr, logger *slog.Logger) (raft.StreamLayer, error)

// newTLSStreamLayer is the stream layer of every server: mutual TLS.
func newTLSStreamLayer(cfg Config, advertise net.Addr, logger *slog.Logger) (raft.StreamLayer, error) {
	s, err := newTLSStream(cfg.BindAddr, advertise, cfg.TLS, cfg.TransportTimeout, logger)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func open(cfg Config, logger *slog.Logger, newStream streamLayerFunc) (_ *Replicated, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger = logger.With("raft_id", cfg.NodeID)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("state: data dir: %w", err)
	}
	r := &Replicated{
		cfg:     cfg,
		logger:  logger,
		store:   NewStore(),
		stopC:   make(chan struct{}),
		leaderC: make(chan struct{}),
		encode:  Encode,
	}
	r.fsm = NewFSM(r.store, logger)
	r.fsm.observer = cfg.Observer
	hlog := newHCLog(logger, "raft")

	// closers undoes what was opened if a later step fails.
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	dbPath := filepath.Join(cfg.DataDir, raftDBFile)
	// A damaged store is refused here, not found by a panic in bbolt at
	// the first write after the election.
	if err := checkRaftDB(dbPath); err != nil {
		return nil, err
	}
	r.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path: dbPath,
		// A second server on the same directory must fail, not hang on
		// the file lock.
		BoltOptions: &bolt.Options{Timeout: 5 * time.Second},
		NoSync:      false,
	})
	if err != nil {
		return nil, fmt.Errorf("state: open raft.db: %w", err)
	}
	closers = append(closers, r.bolt.Close)
	// The cache serves recent entries to followers and the FSM without a
	// bbolt read transaction each.
	logs, err := raft.NewLogCache(512, r.bolt)
	if err != nil {
		return nil, fmt.Errorf("state: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hlog.Named("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("state: snapshot store: %w", err)
	}

	var advertise net.Addr
	if cfg.AdvertiseAddr != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr); err != nil {
			return nil, fmt.Errorf("state: advertise address: %w", err)
		}
	}
	// Raft speaks only mutual TLS, even for one server on loopback: a
	// peer without a server certificate of the cluster CA is refused
	// before raft reads anything from it.
	stream, err := newStream(cfg, advertise, logger)
	if err != nil {
		return nil, fmt.Errorf("state: raft transport: %w", err)
	}
	r.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: cfg.TransportMaxPool,
		Timeout: cfg.TransportTimeout,
		Logger:  hlog.Named("transport"),
	})
	closers = append(closers, r.transport.Close)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	// With a buffered apply channel the leader drains up to
	// MaxAppendEntries waiting commands per loop and writes them with one
	// fsync: concurrent Apply calls group-commit instead of queueing
	// behind each other's disk flush.
	rc.BatchApplyCh = true
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	notifyC := make(chan bool, 8)
	rc.NotifyCh = notifyC

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, r.bolt, snaps)
		if err != nil {
			return nil, fmt.Errorf("state: inspect raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter,
				ID:       rc.LocalID,
				Address:  r.transport.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(rc, logs, r.bolt, snaps, r.transport, conf); err != nil {
				return nil, fmt.Errorf("state: bootstrap: %w", err)
			}
			logger.Info("bootstrapped a new raft cluster", "addr", r.transport.LocalAddr())
		}
	}

	r.raft, err = raft.NewRaft(rc, r.fsm, logs, r.bolt, snaps, r.transport)
	if err != nil {
		return nil, fmt.Errorf("state: start raft: %w", err)
	}
	r.wg.Add(1)
	go r.watchLeadership(notifyC)
	return r, nil
}

// watchLeadership turns raft's leadership notifications into the state
// LeaderWatch hands out. raft blocks on NotifyCh, so this loop does
// nothing else.
func (r *Replicated) watchLeadership(notifyC <-chan bool) {
	defer r.wg.Done()
	for {
		select {
		case v := <-notifyC:
			r.leaderMu.Lock()
			if r.isLeader != v {
				r.isLeader = v
				close(r.leaderC)
				r.leaderC = make(chan struct{})
			}
			r.leaderMu.Unlock()
			r.logger.Info("raft leadership changed", "leader", v)
		case <-r.stopC:
			return
		}
	}
}

// Store returns the local state store.
func (r *Replicated) Store() *Store { return r.store }

// ID returns this server's Raft ID.
func (r *Replicated) ID() string { return r.cfg.NodeID }

// Addr returns the address this server's Raft transport is reachable at.
func (r *Replicated) Addr() string { return string(r.transport.LocalAddr()) }

// IsLeader reports whether this server is the Raft leader now.
func (r *Replicated) IsLeader() bool { return r.raft.State() == raft.Leader }

// Leader returns the Raft address and ID of the current leader, both
// empty when none is known.
func (r *Replicated) Leader() (addr, id string) {
	a, i := r.raft.LeaderWithID()
	return string(a), string(i)
}

// LeaderWatch returns whether this server leads and a channel closed at
// the next change. Leader-only work (the reconciler, the scheduler's
// workers) runs while it leads and stops when the channel closes.
func (r *Replicated) LeaderWatch() (bool, <-chan struct{}) {
	r.leaderMu.Lock()
	defer r.leaderMu.Unlock()
	return r.isLeader, r.leaderC
}

// AppliedIndex returns the index of the last entry applied to the Store:
// a read of the Store sees every write at or below it.
func (r *Replicated) AppliedIndex() uint64 { return r.fsm.AppliedIndex() }

// Halted is closed when this server met a corrupt log entry and stopped
// applying (FSM.Halted); HaltErr then names the entry. The server must
// stop: its state no longer follows the log.
func (r *Replicated) Halted() <-chan struct{} { return r.fsm.Halted() }

// HaltErr returns the *CorruptEntryError the FSM stopped at, or nil.
func (r *Replicated) HaltErr() error { return r.fsm.HaltErr() }

// Stats returns raft's counters, for diagnostics.
func (r *Replicated) Stats() map[string]string { return r.raft.Stats() }

// Apply commits a command through Raft and returns its log index and the
// FSM's response. A command the FSM rejected (ErrCASConflict, ErrNotFound,
// ErrInvalid) comes back as err, with the index it was committed at.
//
// On a follower Apply fails fast with ErrNotLeader. Once the leader
// accepted the command, an error of ErrLeadershipLost or a ctx that ends
// first leaves its outcome unknown: it may still commit.
func (r *Replicated) Apply(ctx context.Context, t MessageType, req any) (uint64, any, error) {
	data, err := r.encode(t, req)
	if err != nil {
		return 0, nil, err
	}
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return 0, nil, err
	}
	if o := r.cfg.Observer; o != nil {
		start := time.Now()
		defer func() { o.RaftApply(t.String(), time.Since(start)) }()
	}
	f := r.raft.Apply(data, timeout)
	if err := r.wait(ctx, f); err != nil {
		return 0, nil, r.mapErr(ctx, fmt.Sprintf("apply %s", t), err)
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return f.Index(), nil, err
	}
	return f.Index(), resp, nil
}

// Barrier waits until every entry committed before it is applied to the
// local Store. A new leader calls it before serving consistent reads or
// scheduling.
func (r *Replicated) Barrier(ctx context.Context) error {
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return err
	}
	if err := r.wait(ctx, r.raft.Barrier(timeout)); err != nil {
		return r.mapErr(ctx, "barrier", err)
	}
	return nil
}

// AddVoter adds a server to the cluster as a voter, or updates its
// address. Only the leader can.
func (r *Replicated) AddVoter(ctx context.Context, id, addr string) error {
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return err
	}
	f := r.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	if err := r.wait(ctx, f); err != nil {
		return r.mapErr(ctx, fmt.Sprintf("add voter %s", id), err)
	}
	return nil
}

// RemoveServer removes a server from the cluster. Only the leader can.
func (r *Replicated) RemoveServer(ctx context.Context, id string) error {
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return err
	}
	if err := r.wait(ctx, r.raft.RemoveServer(raft.ServerID(id), 0, timeout)); err != nil {
		return r.mapErr(ctx, fmt.Sprintf("remove server %s", id), err)
	}
	return nil
}

// Servers returns the latest Raft configuration this server knows.
func (r *Replicated) Servers(ctx context.Context) ([]Server, error) {
	f := r.raft.GetConfiguration()
	if err := r.wait(ctx, f); err != nil {
		return nil, r.mapErr(ctx, "raft configuration", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// TakeSnapshot makes Raft snapshot the state now and compact its log,
// instead of waiting for SnapshotThreshold.
func (r *Replicated) TakeSnapshot(ctx context.Context) error {
	if err := r.wait(ctx, r.raft.Snapshot()); err != nil {
		return r.mapErr(ctx, "snapshot", err)
	}
	return nil
}

// Shutdown stops the Raft node and closes its files. It waits for every
// goroutine the Replicated started. Calling it again is a no-op.
func (r *Replicated) Shutdown() error {
	r.life.Lock()
	if r.closed {
		r.life.Unlock()
		return nil
	}
	r.closed = true
	r.life.Unlock()

	// raft's shutdown fails every pending future, which ends the waiter
	// goroutines.
	err := r.raft.Shutdown().Error()
	close(r.stopC)
	r.wg.Wait()
	return errors.Join(err, r.transport.Close(), r.bolt.Close())
}

// wait waits for a raft future, or for ctx. raft futures cannot be
// selected on, so when ctx can end a goroutine waits for the future; it is
// counted in wg and ends at the latest when Shutdown fails the future.
func (r *Replicated) wait(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return f.Error()
	}
	r.life.RLock()
	if r.closed {
		r.life.RUnlock()
		return ErrShutdown
	}
	done := make(chan error, 1)
	r.wg.Add(1)
	r.life.RUnlock()
	go func() {
		defer r.wg.Done()
		// With BatchApplyCh, a command raft accepted into its buffered
		// apply channel just as its leader loop stopped is never
		// answered, not even by Shutdown. So stop waiting at shutdown;
		// the inner goroutine then ends only if raft ever answers.
		res := make(chan error, 1)
		go func() { res <- f.Error() }()
		select {
		case err := <-res:
			done <- err
		case <-r.stopC:
			done <- ErrShutdown
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueueTimeout turns ctx's deadline into the timeout raft takes for
// handing a command to its leader loop (0: wait as long as needed).
func enqueueTimeout(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return 0, context.DeadlineExceeded
	}
	return d, nil
}

// mapErr translates raft's errors into the package's.
func (r *Replicated) mapErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		addr, id := r.Leader()
		return fmt.Errorf("%s: %w (leader %q at %q)", op, ErrNotLeader, id, addr)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", op, ErrShutdown)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return fmt.Errorf("%s: %w", op, context.DeadlineExceeded)
	}
	return fmt.Errorf("%s: %w", op, err)
}
