package tlslisten

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve answers "plain" or "tls" by how the request arrived.
func serve(t *testing.T, plain bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}, plain)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			io.WriteString(w, "tls")
			return
		}
		io.WriteString(w, "plain")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One port serves TLS and, when allowed, plain HTTP, told apart by the
// first byte; r.TLS is set on the TLS ones.
func TestOnePortBothProtocols(t *testing.T) {
	addr := serve(t, true)
	if _, body := get(t, "https://"+addr); body != "tls" {
		t.Fatalf("HTTPS answered %q", body)
	}
	if _, body := get(t, "http://"+addr); body != "plain" {
		t.Fatalf("HTTP answered %q", body)
	}
}

// Without plain, a plain HTTP request gets the TLS server's 400.
func TestTLSOnlyRefusesPlain(t *testing.T) {
	addr := serve(t, false)
	if _, body := get(t, "https://"+addr); body != "tls" {
		t.Fatalf("HTTPS answered %q", body)
	}
	code, body := get(t, "http://"+addr)
	if code != http.StatusBadRequest || !strings.Contains(body, "HTTPS") {
		t.Fatalf("plain HTTP to a TLS-only port: %d %q", code, body)
	}
}

// A client that connects and sends nothing holds up no one: others are
// served meanwhile.
func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	addr := serve(t, true)
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	done := make(chan string, 1)
	go func() { _, body := get(t, "http://"+addr); done <- body }()
	select {
	case body := <-done:
		if body != "plain" {
			t.Fatalf("answered %q", body)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a silent connection blocked the next one")
	}
}

// Close ends Accept with net.ErrClosed.
func TestCloseEndsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, &tls.Config{}, true)
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	l.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Accept returned no error after Close")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
