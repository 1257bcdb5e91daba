package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// tlsCluster is three servers and two agents of the real binary, formed
// with join tokens only: no certificate made by hand.
type tlsCluster struct {
	dataDirs  []string // servers'
	httpAddrs []string
	raftAddrs []string
	agentDirs []string
	mgmt      string
	caFile    string
	cliCert   string
	cliKey    string
}

// cliEnv is the environment of a CLI that talks HTTPS to server i with
// the CA, a CLI certificate and the management token.
func (c *tlsCluster) cliEnv(i int) []string {
	return append(hermeticEnv(), "DROVER_ADDR=https://"+c.httpAddrs[i], "DROVER_TOKEN="+c.mgmt,
		"DROVER_CACERT="+c.caFile, "DROVER_CLIENT_CERT="+c.cliCert, "DROVER_CLIENT_KEY="+c.cliKey)
}

func (c *tlsCluster) client(t *testing.T, i int) *api.Client {
	t.Helper()
	cl, err := api.NewClient(api.Config{Address: "https://" + c.httpAddrs[i], Token: c.mgmt,
		TLS: api.TLSConfig{CACert: c.caFile, ClientCert: c.cliCert, ClientKey: c.cliKey}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitFile waits for a file a server writes once it is ready.
func waitFile(t *testing.T, path string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 30s\n%s", path, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitErr(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startTLSCluster(t *testing.T, lifetime time.Duration) *tlsCluster {
	t.Helper()
	c := &tlsCluster{}
	env := hermeticEnv()
	for range 3 {
		c.dataDirs = append(c.dataDirs, t.TempDir())
		c.httpAddrs = append(c.httpAddrs, freeAddr(t))
		c.raftAddrs = append(c.raftAddrs, freeAddr(t))
	}
	first := c.dataDirs[0]
	var procs []*proc
	for i := range 3 {
		args := []string{"server", "-data-dir", c.dataDirs[i], "-http-addr", c.httpAddrs[i], "-raft-addr", c.raftAddrs[i],
			"-node-name", fmt.Sprintf("s%d", i+1), "-tls-http", "-tls-cert-lifetime", lifetime.String(), "-log-level", "warn"}
		if i == 0 {
			args = append(args, "-bootstrap-expect", "1")
		} else {
			args = append(args, "-join", c.httpAddrs[0], "-join-token-file", filepath.Join(first, "server.join-token"))
		}
		procs = append(procs, startProc(t, fmt.Sprintf("server s%d", i+1), env, args...))
		if i == 0 {
			waitFile(t, filepath.Join(first, "management.token"), procs[0])
			waitFile(t, filepath.Join(first, "client.join-token"), procs[0])
		}
	}
	b, _ := os.ReadFile(filepath.Join(first, "management.token"))
	c.mgmt = strings.TrimSpace(string(b))
	c.caFile = filepath.Join(first, "tls", "ca.pem")

	// The CLI's certificate, from the CA's files on the first server.
	cliDir := t.TempDir()
	r := runDrover(t, cliDir, env, "tls", "cert", "create", "-cli", "-ca", c.caFile, "-key", filepath.Join(first, "tls", "ca-key.pem"), "-out-dir", cliDir)
	if r.code != 0 {
		t.Fatalf("drover tls cert create -cli: %s", r)
	}
	c.cliCert, c.cliKey = filepath.Join(cliDir, "global-cli-drover.pem"), filepath.Join(cliDir, "global-cli-drover-key.pem")

	cl := c.client(t, 0)
	waitErr(t, "three servers with a leader", 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		peers, err := cl.Status().Peers(ctx)
		if err != nil {
			return err
		}
		if len(peers) != 3 {
			return fmt.Errorf("%d peers", len(peers))
		}
		return nil
	})

	servers := strings.Join(c.httpAddrs, ",")
	for i := range 2 {
		dir := t.TempDir()
		c.agentDirs = append(c.agentDirs, dir)
		startProc(t, fmt.Sprintf("agent a%d", i+1), env, "agent", "-servers", servers, "-data-dir", dir,
			"-node-name", fmt.Sprintf("a%d", i+1), "-join-token-file", filepath.Join(first, "client.join-token"), "-log-level", "warn")
	}
	waitErr(t, "two ready nodes", 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nodes, _, err := cl.Nodes().List(ctx, nil)
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == cluster.NodeStatusReady {
				ready++
			}
		}
		if ready != 2 {
			return fmt.Errorf("%d of %d nodes ready", ready, len(nodes))
		}
		return nil
	})
	return c
}

// certSerial reads a certificate file's serial number.
func certSerial(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert(b)
	if err != nil {
		t.Fatal(err)
	}
	return cert.SerialNumber.String()
}

// TestE2ETLSClusterByJoinTokens is issue 12's acceptance on the real
// binary: three servers and two agents form a TLS cluster from join
// tokens alone; a job runs; the API and the Raft port refuse a client
// without a certificate; Raft refuses a forged AppendEntries over plain
// TCP and over TLS with a self-made CA; a node's certificate cannot act
// for another node; and with a one-minute certificate lifetime every
// certificate renews while the cluster keeps working.
func TestE2ETLSClusterByJoinTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes and waits for certificate renewal")
	}
	c := startTLSCluster(t, time.Minute)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hello.nomad.hcl"), `job "hello" {
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo up; sleep 600"]
      }
    }
  }
}`)
	// Through a follower: it forwards to the leader over HTTPS.
	r := runDrover(t, dir, c.cliEnv(2), "job", "run", "hello.nomad.hcl")
	if r.code != 0 {
		t.Fatalf("drover job run over HTTPS with the CLI certificate: %s", r)
	}
	cl := c.client(t, 1)
	// Registered after the agents, so it runs first: tasks outlive a
	// stopped agent, and their shims would outlive the test.
	t.Cleanup(func() {
		if r := runDrover(t, dir, c.cliEnv(2), "job", "stop", "hello"); r.code != 0 {
			t.Logf("cleanup: job stop hello: %s", r)
			return
		}
		waitErr(t, "the job's tasks to stop", 30*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			allocs, _, err := cl.Jobs().Allocations(ctx, "hello", nil)
			if err != nil {
				return err
			}
			if clientLive(allocs) {
				return errors.New("an allocation still runs")
			}
			return nil
		})
	})
	running := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		allocs, _, err := cl.Jobs().Allocations(ctx, "hello", nil)
		if err != nil {
			return err
		}
		n := 0
		for _, a := range allocs {
			if a.ClientStatus == cluster.AllocClientRunning {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d of %d allocations running", n, len(allocs))
		}
		return nil
	}
	waitErr(t, "the job to run on the agents", 60*time.Second, running)

	t.Run("API refuses a client without a certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		caPEM, _ := os.ReadFile(c.caFile)
		pool.AppendCertsFromPEM(caPEM)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "server.global.drover"}}}
		req, _ := http.NewRequest(http.MethodGet, "https://"+c.httpAddrs[0]+"/v1/jobs", nil)
		req.Header.Set("Authorization", "Bearer "+c.mgmt)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "client certificate") {
			t.Fatalf("HTTPS without a client certificate, even with the management token: %d %s; want 401 naming the client certificate", resp.StatusCode, body)
		}
		// Plain HTTP is not spoken at all with -tls-http.
		resp, err = http.Get("http://" + c.httpAddrs[0] + "/v1/jobs")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain HTTP to an HTTPS-only API: %d %s", resp.StatusCode, body)
			}
		}
		if _, err := exec.LookPath("openssl"); err == nil {
			out, _ := exec.Command("sh", "-c", "printf 'GET /v1/jobs HTTP/1.0\\r\\nHost: "+c.httpAddrs[0]+"\\r\\nAuthorization: Bearer "+c.mgmt+"\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -connect "+c.httpAddrs[0]+" 2>&1").CombinedOutput()
			if !strings.Contains(string(out), "401") || !strings.Contains(string(out), "client certificate") {
				t.Fatalf("openssl s_client without a certificate to the API:\n%s", out)
			}
		} else {
			t.Log("openssl not installed: the API was probed with Go's TLS client only")
		}
	})

	t.Run("Raft refuses a client without a certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", c.raftAddrs[0], &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Write([]byte{0})
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("TLS to the Raft port without a certificate: %v, want the certificate-required alert", err)
		}
		if _, err := exec.LookPath("openssl"); err == nil {
			out, _ := exec.Command("sh", "-c", "echo x | timeout 10 openssl s_client -quiet -connect "+c.raftAddrs[0]+" 2>&1").CombinedOutput()
			if !strings.Contains(string(out), "certificate required") {
				t.Fatalf("openssl s_client without a certificate to the Raft port:\n%s", out)
			}
		}
	})

	t.Run("Raft refuses forged entries", func(t *testing.T) {
		data, err := state.Encode(state.MsgJobRegister, &state.JobRegisterRequest{Job: &cluster.Job{Namespace: "default", ID: "evil"}})
		if err != nil {
			t.Fatal(err)
		}
		other, err := pki.NewCA("global", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := other.IssueCert(pki.CertRoleServer, "global", "", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		selfMade, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		for name, stream := range map[string]raft.StreamLayer{
			"plain TCP":           newRaftAttackStream(t, nil),
			"TLS, self-made CA":   newRaftAttackStream(t, &tls.Config{Certificates: []tls.Certificate{selfMade}, InsecureSkipVerify: true}),
			"TLS, no certificate": newRaftAttackStream(t, &tls.Config{InsecureSkipVerify: true}),
		} {
			tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: 1, Timeout: 3 * time.Second, Logger: hclog.NewNullLogger()})
			req := &raft.AppendEntriesRequest{
				RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte("127.0.0.1:1")},
				Term:              1 << 20,
				PrevLogEntry:      1 << 20,
				PrevLogTerm:       1 << 20,
				LeaderCommitIndex: 1<<20 + 1,
				Entries:           []*raft.Log{{Index: 1<<20 + 1, Term: 1 << 20, Type: raft.LogCommand, Data: data}},
			}
			var resp raft.AppendEntriesResponse
			err := tr.AppendEntries("victim", raft.ServerAddress(c.raftAddrs[0]), req, &resp)
			_ = tr.Close()
			if err == nil {
				t.Fatalf("%s: the forged AppendEntries was answered: %+v", name, resp)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, _, err := cl.Jobs().Info(ctx, "evil", nil); !api.IsNotFound(err) {
			t.Fatalf("the forged job: %v, want not found", err)
		}
	})

	t.Run("a node's certificate acts only for its node", func(t *testing.T) {
		a1 := nodeClient(t, c, 0)
		ids := map[string]string{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		nodes, _, err := cl.Nodes().List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			ids[n.Name] = n.ID
		}
		if _, err := a1.Nodes().Heartbeat(ctx, ids["a2"]); statusOf(err) != http.StatusForbidden {
			t.Fatalf("a1's certificate heartbeating a2: %v, want 403", err)
		}
		if _, err := a1.Nodes().UpdateAllocs(ctx, ids["a2"], nil); statusOf(err) != http.StatusForbidden {
			t.Fatalf("a1's certificate updating a2's allocations: %v, want 403", err)
		}
		if _, err := a1.Nodes().Register(ctx, &cluster.Node{ID: ids["a2"], Name: "a2", Datacenter: "dc1", Status: cluster.NodeStatusReady}); statusOf(err) != http.StatusForbidden {
			t.Fatalf("a1's certificate re-registering a2's ID: %v, want 403", err)
		}
		if _, _, err := a1.Jobs().List(ctx, nil); statusOf(err) != http.StatusUnauthorized {
			t.Fatalf("a node's certificate listing jobs without a token: %v, want 401", err)
		}
	})

	t.Run("task logs over HTTPS, authorized by the servers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		allocs, _, err := cl.Jobs().Allocations(ctx, "hello", nil)
		if err != nil || len(allocs) == 0 {
			t.Fatalf("allocations: %v", err)
		}
		id := allocs[0].ID
		// The agent serves HTTPS with its client certificate; the CLI
		// checks it is an agent of the CA, and the agent asks the
		// servers whether the caller's token may read the allocation.
		r := runDrover(t, dir, c.cliEnv(0), "alloc", "logs", id)
		if r.code != 0 || !strings.Contains(r.stdout, "up") {
			t.Fatalf("drover alloc logs over HTTPS: %s", r)
		}
		env := append(c.cliEnv(0), "DROVER_TOKEN=") // the server refuses first without a token
		if r := runDrover(t, dir, env, "alloc", "logs", id); r.code == 0 {
			t.Fatalf("drover alloc logs without a token: %s", r)
		}
		// Straight to the agent with a made-up token: the servers refuse it.
		node, _, err := cl.Nodes().Info(ctx, allocs[0].NodeID, nil)
		if err != nil || !strings.HasPrefix(node.HTTPAddr, "https://") {
			t.Fatalf("node %+v (%v): want an https:// log address", node, err)
		}
		tr, err := api.TLSConfig{CACert: c.caFile, ClientCert: c.cliCert, ClientKey: c.cliKey, PeerRole: "client"}.Transport()
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, node.HTTPAddr+"/v1/client/fs/logs/"+id+"/t", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "up\n") {
			t.Fatalf("agent logs with a made-up token: %d %s, want 403 and no log", resp.StatusCode, body)
		}
	})

	t.Run("certificates renew and the cluster keeps working", func(t *testing.T) {
		serverCert := filepath.Join(c.dataDirs[1], "tls", "server.pem")
		agentCert := filepath.Join(c.agentDirs[0], "tls", "client.pem")
		s0, a0 := certSerial(t, serverCert), certSerial(t, agentCert)
		// Renewal is due at two thirds of the minute; allow for retries.
		waitErr(t, "the server and agent certificates to renew", 90*time.Second, func() error {
			if certSerial(t, serverCert) == s0 {
				return errors.New("server certificate not renewed yet")
			}
			if certSerial(t, agentCert) == a0 {
				return errors.New("agent certificate not renewed yet")
			}
			return nil
		})
		// New connections use the new certificates; the old ones are
		// past their lifetime soon, so working calls prove renewal.
		time.Sleep(25 * time.Second)
		if err := running(); err != nil {
			t.Fatalf("after renewal: %v", err)
		}
		r := runDrover(t, dir, c.cliEnv(1), "node", "status")
		if r.code != 0 || strings.Count(r.stdout, "ready") != 2 {
			t.Fatalf("drover node status after renewal: %s", r)
		}
	})
}

// nodeClient is an API client with agent i's client certificate.
func nodeClient(t *testing.T, c *tlsCluster, i int) *api.Client {
	t.Helper()
	dir := filepath.Join(c.agentDirs[i], "tls")
	cl, err := api.NewClient(api.Config{Address: "https://" + c.httpAddrs[0],
		TLS: api.TLSConfig{CACert: filepath.Join(dir, "ca.pem"), ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func statusOf(err error) int {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// raftAttackStream dials a Raft port as an attacker would: plain TCP, or
// TLS with whatever certificate it has, trusting any server.
type raftAttackStream struct {
	net.Listener // raft's transport listens too; nothing dials it
	tls          *tls.Config
}

func newRaftAttackStream(t *testing.T, cfg *tls.Config) *raftAttackStream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &raftAttackStream{Listener: ln, tls: cfg}
}

func (s *raftAttackStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if s.tls == nil {
		return d.Dial("tcp", string(addr))
	}
	conn, err := tls.DialWithDialer(d, "tcp", string(addr), s.tls)
	if err != nil {
		return nil, err
	}
	return conn, nil
}
