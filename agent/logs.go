package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/httpguard"
	"github.com/droverhq/drover/logrotate"
)

// The agent's own API is small: health, and task logs. Logs are read
// where they are written (the node's disk), so the CLI asks the servers
// which node runs an allocation and then fetches from that node's agent
// (Node.HTTPAddr) directly, with the same token as the servers. A
// browser cannot reach an agent (another origin, the cluster's CA), so
// the servers also proxy this route for the web UI (server/alloc_logs.go,
// Nomad's GET /v1/client/fs/logs/{alloc}?task=T): whichever server the
// browser asks relays the bytes with the caller's token, and the agent
// still decides. The CLI keeps going direct, so followed logs do not all
// pass through one server.
//
//	GET /v1/agent/health
//	GET /v1/client/fs/logs/{alloc}/{task}?type=stdout|stderr&follow=true&lines=N
//
// lines=N starts N lines from the end (default: the whole retained log);
// follow=true keeps the response open and streams new output until the
// task is dead for good or the client goes away.
//
// Logs are as private as anything a task prints (tokens, customer data),
// and on loopback the API may go without a token, so a web page the
// developer visits must not read them through DNS rebinding: the
// browser guard (package httpguard) refuses a Host that is not the
// agent's, as the servers' API does.

// followPoll is how often a followed log is checked for growth. Log files
// are written by the task's shim, a separate process; polling their size
// is what `tail -F` does too.
const followPoll = 200 * time.Millisecond

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/agent/health", a.health)
	mux.HandleFunc("GET /v1/client/fs/logs/{alloc}/{task}", a.logs)
	mux.HandleFunc("POST /v1/client/allocation/{alloc}/action", a.action) // action.go
	mux.HandleFunc("GET /v1/metrics", a.metricsGet)                       // metrics.go
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	cfg := guardConfig(a.cfg, a.HTTPAddr())
	cfg.Logger = a.log
	cfg.Refuse = func(w http.ResponseWriter, _ *http.Request, err *httpguard.Error) {
		writeError(w, err.Code, err.Msg)
	}
	return httpguard.New(cfg).Wrap(a.withAuth(mux))
}

// guardConfig decides the browser guard of an agent configured by cfg
// whose API listens on addr: a Host of localhost, a loopback IP or the
// bound address. An agent bound beyond loopback requires a token, which
// a browser does not have (Config.Validate), and answers whatever name
// its network gives it, as a server does without http_allowed_hosts; the
// agent has no such setting yet.
func guardConfig(cfg Config, addr string) httpguard.Config {
	gc := httpguard.Config{Addr: addr, Hosts: []string{cfg.HTTPAddr}}
	if !httpguard.IsLoopback(cfg.HTTPAddr) {
		gc.Hosts = append(gc.Hosts, httpguard.AnyHost)
	}
	return gc
}

func (a *Agent) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Token != "" && r.URL.Path != "/v1/agent/health" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) != 1 {
				writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <token>")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorizeLogs decides, for an agent that holds no API token of its own
// (it joined with a client join token), whether the caller may read an
// allocation's logs: over HTTPS the caller must present a certificate of
// the cluster CA, and the servers must let the caller's token read the
// allocation (GET /v1/allocation/{id} with that token, over the agent's
// mutual TLS). So the logs are exactly as private as the allocation,
// under the servers' ACLs, and a revoked token is refused at once. It
// returns 0 when the request may go on.
func (a *Agent) authorizeLogs(r *http.Request, allocID string) (int, string) {
	if a.cfg.Token != "" || !a.usesTLS() {
		return 0, "" // withAuth checked the agent's own token, or none is needed (loopback, ACLs off)
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) == 0 {
		return http.StatusUnauthorized, "this agent's API requires a client certificate of the cluster CA over HTTPS: set DROVER_CACERT, DROVER_CLIENT_CERT and DROVER_CLIENT_KEY ('drover tls cert create -cli')"
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = r.Header.Get("X-Nomad-Token")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	c := a.servers.client()
	alloc, _, err := c.WithToken(token).Allocations().Info(ctx, allocID, nil)
	var se *api.StatusError
	switch {
	case err == nil && alloc.ID != allocID:
		return http.StatusNotFound, "allocation " + allocID + " is not on this node"
	case err == nil:
		return 0, ""
	case errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden || se.Code == http.StatusNotFound):
		return se.Code, "the servers refused: " + se.Message
	default:
		a.servers.failed(c, err)
		return http.StatusBadGateway, "could not ask the servers whether this token may read the allocation: " + err.Error()
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.Error{Error: msg})
}

func (a *Agent) health(w http.ResponseWriter, r *http.Request) {
	st := &api.HealthStatus{OK: true, Message: "ok"}
	code := http.StatusOK
	select {
	case <-a.registered:
	default:
		st = &api.HealthStatus{OK: false, Message: "not registered with a server yet"}
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.HealthResponse{Client: st})
}

func (a *Agent) logs(w http.ResponseWriter, r *http.Request) {
	allocID, task := r.PathValue("alloc"), r.PathValue("task")
	if code, msg := a.authorizeLogs(r, allocID); code != 0 {
		writeError(w, code, msg)
		return
	}
	q := r.URL.Query()
	typ := q.Get("type")
	if typ == "" {
		typ = "stdout"
	}
	if typ != "stdout" && typ != "stderr" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("type %q: want stdout or stderr", typ))
		return
	}
	follow := q.Get("follow") == "true"
	lines := -1
	if s := q.Get("lines"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("lines %q: want a number ≥ 0", s))
			return
		}
		lines = n
	}
	ar := a.runner(allocID)
	if ar == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("allocation %s is not on this node (or was garbage collected)", allocID))
		return
	}
	if !ar.HasTask(task) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("allocation %s has no task %q (tasks: %s)", allocID, task, strings.Join(ar.TaskNames(), ", ")))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	lw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		lw.f = f
	}
	t := &logTail{dir: ar.LogDir(), name: task + "." + typ}
	if err := t.start(lines); err != nil {
		fmt.Fprintf(lw, "\n[drover: cannot read logs: %v]\n", err)
		return
	}
	done := func() bool { return ar.TaskDead(task) }
	if err := t.stream(r.Context(), lw, follow, done); err != nil && !errors.Is(err, context.Canceled) {
		a.log.Debug("stream logs", "alloc", allocID, "task", task, "err", err)
	}
}

type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

// logTail reads a task's rotated log files in order, from a starting
// position, and follows them as they grow and rotate.
type logTail struct {
	dir, name string
	index     int   // current file index
	offset    int64 // read position in it
}

// start positions the tail at the beginning of the last `lines` lines
// (lines < 0: the oldest retained byte).
func (t *logTail) start(lines int) error {
	files, err := logrotate.Files(t.dir, t.name)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	t.index, t.offset = files[0].Index, 0
	if lines < 0 {
		return nil
	}
	if lines == 0 {
		last := files[len(files)-1]
		t.index, t.offset = last.Index, last.Size
		return nil
	}
	// Walk back from the end counting newlines. A final newline ends
	// the last line rather than starting a new one.
	need := lines + 1
	first := true
	buf := make([]byte, 32<<10)
	for i := len(files) - 1; i >= 0; i-- {
		f, err := openLog(files[i].Path)
		if err != nil {
			continue // rotated away meanwhile, or not a regular file
		}
		pos := files[i].Size
		for pos > 0 {
			n := int64(len(buf))
			if pos < n {
				n = pos
			}
			pos -= n
			if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
				f.Close()
				return err
			}
			for j := n - 1; j >= 0; j-- {
				if buf[j] != '\n' {
					first = false
					continue
				}
				if first {
					first = false
					continue
				}
				need--
				if need == 1 {
					f.Close()
					t.index, t.offset = files[i].Index, pos+j+1
					return nil
				}
			}
		}
		f.Close()
	}
	return nil // fewer lines than asked for: all of them
}

// stream copies from the position to w; with follow it keeps going until
// done() holds and nothing new arrived, or ctx ends.
func (t *logTail) stream(ctx context.Context, w io.Writer, follow bool, done func() bool) error {
	ticker := time.NewTicker(followPoll)
	defer ticker.Stop()
	for {
		// done is read before copying, so output written before the
		// task died is always sent.
		finished := done()
		progressed, err := t.copyAvailable(w)
		if err != nil {
			return err
		}
		if !follow || (finished && !progressed) {
			return nil
		}
		if progressed {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// copyAvailable copies everything there is now, moving to newer files.
func (t *logTail) copyAvailable(w io.Writer) (bool, error) {
	files, err := logrotate.Files(t.dir, t.name)
	if err != nil || len(files) == 0 {
		return false, err
	}
	progressed := false
	for _, f := range files {
		if f.Index < t.index {
			continue
		}
		if f.Index > t.index {
			t.index, t.offset = f.Index, 0
		}
		n, err := copyFrom(w, f.Path, t.offset)
		t.offset += n
		if n > 0 {
			progressed = true
		}
		if err != nil {
			return progressed, err
		}
	}
	if t.index < files[0].Index {
		// Everything we were reading was rotated away; start at the
		// oldest retained file.
		t.index, t.offset = files[0].Index, 0
	}
	return progressed, nil
}

// openLog opens a log file for reading without following a symbolic
// link: a task that can write its log directory must not make the agent
// (root) serve a host file as its log.
func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

func copyFrom(w io.Writer, path string, off int64) (int64, error) {
	f, err := openLog(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, f)
}
