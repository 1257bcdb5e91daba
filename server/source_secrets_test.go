package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// lockedBuffer collects a server's log lines from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts a single server as servertest.Single does, but logs
// every level into the returned buffer.
func startLogged(t *testing.T, opts ...func(*server.Config)) (*api.Client, server.Config, *lockedBuffer) {
	t.Helper()
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	for _, o := range opts {
		o(&cfg)
	}
	logs := &lockedBuffer{}
	s, err := server.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	c, err := api.NewClient(api.Config{Address: s.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the server to lead", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err := c.Jobs().List(ctx, nil)
		return s.State().IsLeader() && err == nil
	})
	return c, cfg, logs
}

// TestSourceURLTokenNeverStored: a source whose URL carries a token as
// its user name (https://ghp_xxx@github.com/...), which url.Redacted
// keeps. The token authenticates the fetch, and appears in no answer of
// the API (/v1/sync, a job's provenance), no log line and no file of the
// data directory (Raft's log and snapshots, the mirror's .git/config);
// neither does a wrong token, whose failure is recorded and logged.
func TestSourceURLTokenNeverStored(t *testing.T) {
	const token, wrong = "ghp_GOODtokenAAAA1111", "ghp_BADtokenBBBB2222"
	w := gittest.New(t)
	head := w.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), token, "")
	withUser := func(user string) string {
		return strings.Replace(hs.URL, "http://", "http://"+user+"@", 1) + "/remote.git"
	}
	clean := hs.URL + "/remote.git"

	c, cfg, logs := startLogged(t, withSource("apps", withUser(token), ""), withSource("denied", withUser(wrong), ""))
	waitSync(t, c, "apps", "the first commit", applied(head))
	denied := waitSync(t, c, "denied", "the refused fetch", func(st *cluster.SyncStatus) bool { return st.Error != "" })
	if !strings.Contains(denied.Error, "authentication") || !strings.Contains(denied.Error, clean) {
		t.Errorf("the refused fetch's error does not say what and where: %q", denied.Error)
	}

	web := job(t, c, "web")
	if web.Source == nil || web.Source.Repo != clean {
		t.Errorf("web's provenance: %+v, want repo %s", web.Source, clean)
	}
	var answers []string
	for _, path := range []string{"/v1/sync", "/v1/sync/apps", "/v1/sync/denied", "/v1/job/web", "/v1/job/web/versions"} {
		resp, err := http.Get(strings.TrimRight(c.Address(), "/") + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		answers = append(answers, path+": "+string(b))
	}
	if !strings.Contains(logs.String(), clean) {
		t.Errorf("the logs never name the source's URL %s: the test checks nothing", clean)
	}
	for _, secret := range []string{token, wrong} {
		for _, a := range answers {
			if strings.Contains(a, secret) {
				t.Errorf("an API answer holds %s: %s", secret, a)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold %s:\n%s", secret, logs.String())
		}
		assertNoFileHolds(t, cfg.DataDir, secret)
	}
}

// assertNoFileHolds fails if any file under dir holds secret.
func assertNoFileHolds(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds %s", p, secret)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
