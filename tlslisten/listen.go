// Package tlslisten serves TLS, and optionally plain TCP too, on one
// listener.
//
// Drover's servers and agents speak HTTPS to each other, always, with
// their certificates of the cluster CA. On a loopback address their APIs
// may speak plain HTTP as well, so that a local CLI, curl or browser
// needs no certificate. One port serves both: every TLS connection
// starts with a handshake record (first byte 0x16), which no HTTP
// request line does.
package tlslisten

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsRecordHandshake is the first byte of a TLS ClientHello.
const tlsRecordHandshake = 0x16

// sniffTimeout bounds how long a new connection may take to send its
// first byte before it is dropped.
const sniffTimeout = 10 * time.Second

// New wraps ln: every connection speaks TLS with cfg, except,
// when plain is true, those whose first byte is not a TLS handshake.
// With plain false, the TLS server itself answers a plain HTTP request
// ("Client sent an HTTP request to an HTTPS server").
func New(ln net.Listener, cfg *tls.Config, plain bool) net.Listener {
	if !plain {
		return tls.NewListener(ln, cfg)
	}
	l := &sniffListener{Listener: ln, cfg: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

// sniffListener accepts connections in its own goroutine and classifies
// each in another, so that a client that never sends a byte holds up no
// one; Accept hands out the classified connections.
type sniffListener struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error
}

func (l *sniffListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.Close()
			return
		}
		go l.classify(c)
	}
}

func (l *sniffListener) classify(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReaderSize(c, 512)
	first, err := br.Peek(1)
	if err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == tlsRecordHandshake {
		out = tls.Server(out, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next classified connection.
func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections being classified are closed.
func (l *sniffListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
