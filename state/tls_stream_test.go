package state

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// newIdentity makes a CA and one server identity of region signed by it.
func newIdentity(t *testing.T, region string) *pki.ServerIdentity {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA(region, now)
	if err != nil {
		t.Fatal(err)
	}
	return signIdentity(t, ca, region)
}

func signIdentity(t *testing.T, ca *pki.CA, region string) *pki.ServerIdentity {
	t.Helper()
	now := time.Now()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewServerCSR(key, region)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignServer(csr, region, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.LoadServerIdentity(region, ca.CertPEM(), certPEM, keyPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sourceOf(id *pki.ServerIdentity) TLSSource {
	return func() (*tls.Config, error) { return id.TLSConfig(), nil }
}

// TestRaftRefusesUnauthenticatedPeers is the attack of issue 12 written
// as a test: a hand-made AppendEntries with a high term and a JobRegister
// entry, sent to a leader's Raft port over plain TCP, over TLS with a
// self-made CA, and over TLS with a certificate of the right CA for
// another name. Each is refused: the leader does not step down, its log
// does not grow and no job appears. The same request with a real server
// certificate reaches raft, which proves the attack client speaks the
// protocol.
func TestRaftRefusesUnauthenticatedPeers(t *testing.T) {
	caNow := time.Now()
	ca, err := pki.NewCA(pki.DefaultRegion, caNow)
	if err != nil {
		t.Fatal(err)
	}
	serverID := signIdentity(t, ca, pki.DefaultRegion)

	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.NodeID = "victim"
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Bootstrap = true
	cfg.HeartbeatTimeout = 500 * time.Millisecond
	cfg.ElectionTimeout = 500 * time.Millisecond
	cfg.LeaderLeaseTimeout = 500 * time.Millisecond
	cfg.TransportTimeout = 2 * time.Second
	cfg.TLS = sourceOf(serverID)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := Open(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown() })
	deadline := time.Now().Add(15 * time.Second)
	for !r.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A new leader appends its own no-op entry; wait until it is
	// applied, so that the log only grows if the attack gets through.
	if err := r.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	lastIndex := r.raft.LastIndex()
	term := r.raft.CurrentTerm()

	data, err := Encode(MsgJobRegister, &JobRegisterRequest{Job: &cluster.Job{Namespace: "default", ID: "evil"}})
	if err != nil {
		t.Fatal(err)
	}
	attack := func(tr *raft.NetworkTransport) (*raft.AppendEntriesResponse, error) {
		req := &raft.AppendEntriesRequest{
			RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte(tr.LocalAddr())},
			Term:              term + 100,
			PrevLogEntry:      lastIndex,
			PrevLogTerm:       term,
			LeaderCommitIndex: lastIndex + 1,
			Entries:           []*raft.Log{{Index: lastIndex + 1, Term: term + 100, Type: raft.LogCommand, Data: data}},
		}
		var resp raft.AppendEntriesResponse
		err := tr.AppendEntries("victim", raft.ServerAddress(r.Addr()), req, &resp)
		return &resp, err
	}
	hlog := hclog.NewNullLogger()
	// The attacker presents id's certificate but trusts any server: only
	// the victim's checks stand in the way.
	tlsTransport := func(t *testing.T, id *pki.ServerIdentity) *raft.NetworkTransport {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		stream := &attackerStream{Listener: ln, cfg: &tls.Config{
			MinVersion:         tls.VersionTLS13,
			Certificates:       []tls.Certificate{id.Cert},
			InsecureSkipVerify: true,
		}}
		tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: 1, Timeout: 2 * time.Second, Logger: hlog})
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}

	tests := []struct {
		name      string
		transport func(t *testing.T) *raft.NetworkTransport
	}{
		{"plain TCP", func(t *testing.T) *raft.NetworkTransport {
			tr, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 1, 2*time.Second, hlog)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tr.Close() })
			return tr
		}},
		{"TLS with a self-made CA", func(t *testing.T) *raft.NetworkTransport {
			return tlsTransport(t, newIdentity(t, pki.DefaultRegion))
		}},
		{"TLS with a certificate of the cluster CA for another name", func(t *testing.T) *raft.NetworkTransport {
			return tlsTransport(t, signIdentity(t, ca, "elsewhere"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := attack(tt.transport(t))
			if err == nil {
				t.Fatalf("AppendEntries was answered: %+v", resp)
			}
			t.Logf("refused: %v", err)
		})
	}

	// Give raft time to act on anything that got through.
	time.Sleep(300 * time.Millisecond)
	if got := r.raft.LastIndex(); got != lastIndex {
		t.Errorf("last index = %d, want %d: an entry was appended", got, lastIndex)
	}
	if got := r.raft.CurrentTerm(); got != term {
		t.Errorf("term = %d, want %d: the attacker's term reached raft", got, term)
	}
	if !r.IsLeader() {
		t.Error("the server stepped down")
	}
	if jobs := r.Store().Snapshot().Jobs(); len(jobs) != 0 {
		t.Errorf("jobs = %v, want none", jobs)
	}

	// Control: a real server certificate reaches raft (which then steps
	// down for the higher term), so the refusals above were TLS's doing.
	t.Run("control: a server certificate of the cluster CA", func(t *testing.T) {
		resp, err := attack(tlsTransport(t, signIdentity(t, ca, pki.DefaultRegion)))
		if err != nil {
			t.Fatalf("a real peer was refused: %v", err)
		}
		if resp.Term < term+100 {
			t.Errorf("response term = %d, want raft to have taken the request's", resp.Term)
		}
	})
}

// A stream whose source has no identity yet (a joining server) refuses
// connections instead of accepting them in the clear.
func TestTLSStreamWithoutIdentityRefuses(t *testing.T) {
	none := func() (*tls.Config, error) { return nil, errNoIdentityForTest }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := newTLSStream("127.0.0.1:0", nil, none, time.Second, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Dial(raft.ServerAddress(s.Addr().String()), time.Second); err == nil || !strings.Contains(err.Error(), "no identity") {
		t.Errorf("Dial = %v, want the source's error", err)
	}
	weak := func() (*tls.Config, error) { return &tls.Config{MinVersion: tls.VersionTLS12}, nil }
	s.source = weak
	if _, err := s.config(); err == nil {
		t.Error("a configuration without TLS 1.3 and client verification was accepted")
	}
}

// attackerStream dials TLS with a configuration of its own choosing.
type attackerStream struct {
	net.Listener
	cfg *tls.Config
}

func (a *attackerStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), a.cfg)
}

var errNoIdentityForTest = errors.New("no identity yet")
