package state

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config configures a Replicated state store. Nothing in it is
// hot-reloadable: changing it means restarting the server.
type Config struct {
	// DataDir holds raft.db (the log and Raft's own metadata) and the
	// snapshots directory. It must survive restarts.
	DataDir string
	// NodeID is this server's stable Raft identity. It must not change
	// across restarts and must be unique in the cluster.
	NodeID string
	// BindAddr is the host:port Raft listens on. Port 0 picks a free
	// port (tests); Replicated.Addr reports it.
	BindAddr string
	// AdvertiseAddr is the address other servers reach this one at; empty
	// means the bound address, which must then not be unspecified
	// (0.0.0.0).
	AdvertiseAddr string
	// Bootstrap forms a new cluster with this server as its only voter
	// when DataDir holds no Raft state yet (bootstrap-expect 1). Other
	// servers join through the leader's AddVoter. It is ignored once the
	// server has state, so leaving it set on restart is harmless.
	Bootstrap bool

	// Raft timing. Defaults are hashicorp/raft's, tuned for a LAN; tests
	// shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// MaxAppendEntries caps how many log entries are written (one fsync)
	// and replicated together: the group-commit batch size.
	MaxAppendEntries int

	// SnapshotInterval is how often Raft checks whether SnapshotThreshold
	// entries were written since the last snapshot; TrailingLogs entries
	// are kept after one so that slow followers catch up from the log.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotRetain is how many snapshots are kept on disk.
	SnapshotRetain int

	// TransportMaxPool is the number of pooled connections per peer;
	// TransportTimeout bounds one transport I/O.
	TransportMaxPool int
	TransportTimeout time.Duration

	// TLS gives the transport its certificate and the cluster CA; Raft
	// speaks nothing but mutual TLS 1.3. It is required.
	TLS TLSSource
	// Observer, when set, hears the duration of every Apply and of
	// every command the FSM applies (observe.go).
	Observer Observer
}

// DefaultConfig returns the production defaults; DataDir, NodeID and
// BindAddr must still be set.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		MaxAppendEntries:   128,
		SnapshotInterval:   120 * time.Second,
		SnapshotThreshold:  8192,
		TrailingLogs:       10240,
		SnapshotRetain:     2,
		TransportMaxPool:   3,
		TransportTimeout:   10 * time.Second,
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("node ID is required"))
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("bind address %q: %w", c.BindAddr, err))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("TLS is required: raft speaks only mutual TLS"))
	}
	if c.AdvertiseAddr != "" {
		if _, err := net.ResolveTCPAddr("tcp", c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertise address %q: %w", c.AdvertiseAddr, err))
		}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"heartbeat timeout", c.HeartbeatTimeout},
		{"election timeout", c.ElectionTimeout},
		{"leader lease timeout", c.LeaderLeaseTimeout},
		{"commit timeout", c.CommitTimeout},
		{"snapshot interval", c.SnapshotInterval},
		{"transport timeout", c.TransportTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", p.name))
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, errors.New("leader lease timeout must not exceed the heartbeat timeout"))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, errors.New("election timeout must be at least the heartbeat timeout"))
	}
	if c.MaxAppendEntries <= 0 || c.MaxAppendEntries > 1024 {
		errs = append(errs, errors.New("max append entries must be in 1..1024"))
	}
	if c.SnapshotThreshold == 0 {
		errs = append(errs, errors.New("snapshot threshold must be positive"))
	}
	if c.SnapshotRetain < 1 {
		errs = append(errs, errors.New("snapshot retain must be at least 1"))
	}
	if c.TransportMaxPool < 1 {
		errs = append(errs, errors.New("transport max pool must be at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state config: %w", err)
	}
	return nil
}
