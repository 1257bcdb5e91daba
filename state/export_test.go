package state

import (
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// OpenPlaintextForTest opens a server whose Raft transport speaks plain
// TCP instead of mutual TLS. It exists only so that BenchmarkStateApply can
// put TLS and plaintext replication side by side in one run (issue 12:
// TLS must keep at least 90 % of plaintext's throughput). Being in a
// _test.go file it is compiled into this package's tests alone: no server
// can open a plaintext Raft port. cfg must still pass Validate (TLS set);
// its TLS source is not used.
func OpenPlaintextForTest(cfg Config, logger *slog.Logger) (*Replicated, error) {
	return open(cfg, logger, newPlainStream)
}

// OpenLegacyEncodingForTest opens a server (plaintext Raft, like
// OpenPlaintextForTest) whose Apply writes commands in the format before
// the checksummed envelope: BenchmarkStateApply puts the two side by side
// (issue 14: the envelope must keep 95 % of the throughput).
func OpenLegacyEncodingForTest(cfg Config, logger *slog.Logger) (*Replicated, error) {
	r, err := open(cfg, logger, newPlainStream)
	if err != nil {
		return nil, err
	}
	r.encode = encodeLegacy
	return r, nil
}

// EncodeLegacyForTest writes a command as servers did before the
// envelope, for tests that old logs still apply.
func EncodeLegacyForTest(t MessageType, req any) ([]byte, error) { return encodeLegacy(t, req) }

// plainStream is a raft.StreamLayer over plain TCP, what raft's own
// NewTCPTransport uses.
type plainStream struct {
	ln        net.Listener
	advertise net.Addr
}

func newPlainStream(cfg Config, advertise net.Addr, _ *slog.Logger) (raft.StreamLayer, error) {
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, err
	}
	return &plainStream{ln: ln, advertise: advertise}, nil
}

func (s *plainStream) Accept() (net.Conn, error) { return s.ln.Accept() }

func (s *plainStream) Close() error { return s.ln.Close() }

func (s *plainStream) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

func (s *plainStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

// DisableEvents turns the FSM's event stream off, so that benchmarks can
// show its cost side by side (BenchmarkFSMApplyBatch/events=off).
func DisableEvents(f *FSM) { f.events = nil }
