package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
)

// CapReadLogs lets a token read the logs of a namespace's allocations
// (Nomad's read-logs; the write policy grants it).
const CapReadLogs Capability = "namespace:read-logs"

// Task logs stay on the node that ran the task, served by its agent
// (agent/logs.go). A browser at /ui/ cannot reach an agent (another
// origin, the cluster CA), so, as Nomad does, the servers proxy
//
//	GET /v1/client/fs/logs/{alloc}?task=T&type=stdout|stderr&follow=true&lines=N
//	GET /v1/client/fs/logs/{alloc}/{task}?... (the agent's own route)
//
// to the agent that holds the allocation. The server reaches the agent
// with its own certificate (which only proves the caller is a cluster
// member) and forwards the caller's token, so the agent's own check
// (the servers must let that token read the allocation) still decides;
// the server never lends its privileges. Nomad's origin/offset are
// accepted only as origin=end&offset=0 (= lines=0) and the default; the
// agent counts lines, not bytes. plain=true is the only format.
func (s *Server) allocLogsRoutes(mux *router) {
	mux.handle("GET /v1/client/fs/logs/{alloc}", CapReadLogs, s.local(s.allocLogsProxy))
	mux.handle("GET /v1/client/fs/logs/{alloc}/{task}", CapReadLogs, s.local(s.allocLogsProxy))
}

// logsErrorBody bounds how much of an agent's error answer is relayed.
const logsErrorBody = 64 << 10

// logsParams checks the query and returns the agent's.
func logsParams(q url.Values) (url.Values, error) {
	out := url.Values{}
	switch t := q.Get("type"); t {
	case "", "stdout", "stderr":
		if t != "" {
			out.Set("type", t)
		}
	default:
		return nil, fmt.Errorf("type %q: want stdout or stderr", t)
	}
	switch f := q.Get("follow"); f {
	case "", "false":
	case "true":
		out.Set("follow", "true")
	default:
		return nil, fmt.Errorf("follow %q: want true or false", f)
	}
	if l := q.Get("lines"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 1<<30 {
			return nil, fmt.Errorf("lines %q: want a number ≥ 0", l)
		}
		out.Set("lines", strconv.Itoa(n))
	}
	origin, offset := q.Get("origin"), q.Get("offset")
	switch {
	case (origin == "" || origin == "start") && (offset == "" || offset == "0"):
	case origin == "end" && (offset == "" || offset == "0"):
		if out.Get("lines") == "" {
			out.Set("lines", "0")
		}
	default:
		return nil, fmt.Errorf("origin %q offset %q: byte offsets are not supported; use lines=N for the last N lines, or origin=end&offset=0 for new output only", origin, offset)
	}
	if p := q.Get("plain"); p != "" && p != "true" {
		return nil, fmt.Errorf("plain %q: only plain=true (text) is served", p)
	}
	return out, nil
}

func (s *Server) allocLogsProxy(w http.ResponseWriter, r *http.Request) error {
	params, err := logsParams(r.URL.Query())
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	id := r.PathValue("alloc")
	snap := s.raft.Store().Snapshot()
	a := snap.Alloc(id)
	if a == nil {
		return errorf(http.StatusNotFound, "allocation %q not found (give the full ID: 'drover alloc status' shows it)", id)
	}
	if err := allowNamespace(r, CapReadLogs, a.Namespace); err != nil {
		return err
	}
	task, err := logsTask(a, r.PathValue("task"), r.URL.Query().Get("task"))
	if err != nil {
		return err
	}
	node := snap.Node(a.NodeID)
	if node == nil || node.HTTPAddr == "" {
		return errorf(http.StatusBadGateway, "node %s of allocation %s registered no HTTP address, so its logs cannot be read", a.NodeID, a.ID)
	}
	base, hc, err := s.agentClient(node)
	if err != nil {
		return errorf(http.StatusBadGateway, "%v", err)
	}
	defer hc.CloseIdleConnections()
	target := base + "/v1/client/fs/logs/" + url.PathEscape(a.ID) + "/" + url.PathEscape(task) + "?" + params.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
	if err != nil {
		return errorf(http.StatusBadGateway, "%v", err)
	}
	// The caller's token, and nothing else of the caller's request: the
	// agent decides with it.
	if v := r.Header.Get("Authorization"); v != "" {
		req.Header.Set("Authorization", v)
	}
	if v := r.Header.Get("X-Nomad-Token"); v != "" {
		req.Header.Set("X-Nomad-Token", v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			return nil // the caller went away
		}
		return errorf(http.StatusBadGateway, "read logs from node %s at %s: %v", node.Name, node.HTTPAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, logsErrorBody))
		var e api.Error
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return errorf(resp.StatusCode, "node %s: %s", node.Name, msg)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	// Copy what the agent sends as it comes, a bounded buffer at a
	// time, flushing each: a followed log reaches the browser at once.
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && r.Context().Err() == nil {
				s.logger.Debug("proxy logs", "alloc", a.ID, "task", task, "err", rerr)
			}
			return nil
		}
	}
}

// logsTask picks the task: the path's, the query's, or the only one.
func logsTask(a *cluster.Allocation, fromPath, fromQuery string) (string, error) {
	tasks := []string{}
	for name := range a.Resources.Tasks {
		tasks = append(tasks, name)
	}
	for name := range a.TaskStates {
		if !slices.Contains(tasks, name) {
			tasks = append(tasks, name)
		}
	}
	slices.Sort(tasks)
	task := fromPath
	if task == "" {
		task = fromQuery
	}
	switch {
	case task == "" && len(tasks) == 1:
		return tasks[0], nil
	case task == "":
		return "", errorf(http.StatusBadRequest, "allocation %s has several tasks; name one with ?task=: %s", a.ID, strings.Join(tasks, ", "))
	case len(tasks) > 0 && !slices.Contains(tasks, task):
		return "", errorf(http.StatusNotFound, "allocation %s has no task %q; its tasks: %s", a.ID, task, strings.Join(tasks, ", "))
	}
	return task, nil
}

// agentClient returns the base URL of a node's agent API and a client
// for it. An agent with a certificate registers an https:// address: the
// server then presents its own certificate and accepts only a client
// certificate of this cluster's CA naming that very node, so a log
// request cannot be steered to another listener. The transport lives for
// one request (the caller closes its idle connections): log reads are
// rare and long, and a server holds no per-agent state.
func (s *Server) agentClient(node *cluster.Node) (string, *http.Client, error) {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout:  30 * time.Second, // the agent asks the servers first
		MaxResponseHeaderBytes: 64 << 10,
	}
	hc := &http.Client{
		Transport: tr,
		// An agent never redirects; a redirect would leak the token.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	addr := node.HTTPAddr
	rest, isTLS := strings.CutPrefix(addr, "https://")
	if !isTLS {
		rest, _ = strings.CutPrefix(addr, "http://")
		return "http://" + rest, hc, nil
	}
	if s.ident.Load() == nil {
		return "", nil, fmt.Errorf("node %s serves its logs over HTTPS, but this server has no certificate to reach it with", node.Name)
	}
	cfg := s.peerTLSConfig()
	nodeID := node.ID
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		id := s.ident.Load()
		if id == nil {
			return errors.New("drover: this server has no certificate yet to check its peer with")
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("drover: the agent sent no certificate")
		}
		pool := x509.NewCertPool()
		pool.AddCert(id.CA)
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Errorf("drover: the agent's certificate is not of this cluster's CA: %w", err)
		}
		p, err := pki.PeerOf(leaf, s.cfg.Region)
		if err != nil {
			return err
		}
		if p.Role != pki.CertRoleClient || p.NodeID != nodeID {
			return fmt.Errorf("drover: the peer's certificate is a %s certificate of node %q, not of node %s", p.Role, p.NodeID, nodeID)
		}
		return nil
	}
	tr.TLSClientConfig = cfg
	return "https://" + rest, hc, nil
}
