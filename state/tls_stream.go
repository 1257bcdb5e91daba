package state

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// TLSSource returns the TLS configuration of the Raft transport, one for
// both ends of a connection: this server's certificate, the CA its peers'
// certificates must chain to, and the name they must carry. It is asked
// at every connection, so that a certificate obtained after Open (a
// server that is joining) or renewed takes effect without a restart; an
// error refuses the connection.
type TLSSource func() (*tls.Config, error)

// tlsStream is the raft.StreamLayer of every server: Raft speaks only
// mutual TLS 1.3, with a peer certificate required on both sides. A peer
// that speaks plain TCP, or presents a certificate of another CA, fails
// the handshake before raft reads a byte from it.
type tlsStream struct {
	ln        net.Listener
	advertise net.Addr
	source    TLSSource
	timeout   time.Duration // bounds a handshake
	logger    *slog.Logger
}

var _ raft.StreamLayer = (*tlsStream)(nil)

// errNotAdvertisable is raft's own refusal, kept for the same case.
var errNotAdvertisable = errors.New("state: the raft bind address is not advertisable (0.0.0.0); set an advertise address")

func newTLSStream(bind string, advertise net.Addr, source TLSSource, timeout time.Duration, logger *slog.Logger) (*tlsStream, error) {
	if source == nil {
		return nil, errors.New("state: raft needs a TLS source")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &tlsStream{ln: ln, advertise: advertise, source: source, timeout: timeout, logger: logger}
	if tcp, ok := s.Addr().(*net.TCPAddr); !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, errNotAdvertisable
	}
	return s, nil
}

// config asks the source and refuses a configuration that would let a
// peer in without a verified certificate.
func (s *tlsStream) config() (*tls.Config, error) {
	cfg, err := s.source()
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("no TLS configuration")
	}
	if cfg.MinVersion < tls.VersionTLS13 {
		return nil, errors.New("the raft TLS configuration allows versions before TLS 1.3")
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.InsecureSkipVerify || cfg.ServerName == "" {
		return nil, errors.New("the raft TLS configuration does not verify both peers' certificates")
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil {
		return nil, errors.New("the raft TLS configuration has no certificate")
	}
	return cfg, nil
}

// Accept returns the next connection, wrapped in TLS. The handshake runs
// on the connection's first read, in raft's goroutine for that connection,
// so a slow peer does not hold up the others; it is bounded by timeout.
func (s *tlsStream) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		cfg, err := s.config()
		if err != nil {
			s.logger.Warn("raft: refusing a connection", "remote", c.RemoteAddr().String(), "err", err)
			_ = c.Close()
			continue
		}
		return &handshakeConn{Conn: tls.Server(c, cfg), timeout: s.timeout, logger: s.logger}, nil
	}
}

// Dial connects to a peer and completes the handshake within timeout.
func (s *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), cfg)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	return c, nil
}

// Close stops listening.
func (s *tlsStream) Close() error { return s.ln.Close() }

// Addr is the address peers reach this server at.
func (s *tlsStream) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

// handshakeConn is an accepted TLS connection that completes its
// handshake, with a deadline, before the first read or write.
type handshakeConn struct {
	*tls.Conn
	timeout time.Duration
	logger  *slog.Logger
	once    sync.Once
	err     error
}

func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		if c.timeout > 0 {
			_ = c.SetDeadline(time.Now().Add(c.timeout))
		}
		c.err = c.Handshake()
		if c.err != nil {
			c.logger.Warn("raft: refused a peer: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", c.err)
			return
		}
		_ = c.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
