package server_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

func withACL(c *server.Config) {
	c.ACL = true
	c.Token = testMgmtToken
}

func saveSnapshot(t *testing.T, c *api.Client) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := c.Operator().SnapshotSave(ctxT(t), &buf, nil)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("snapshot save: %d bytes, %v", n, err)
	}
	return buf.Bytes()
}

func jobIDsOf(t *testing.T, c *api.Client, q *api.QueryOptions) []string {
	t.Helper()
	jobs, _, err := c.Jobs().List(ctxT(t), q)
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestSnapshotSaveAndRestoreOntoAnotherCluster saves cluster A through
// the API and restores it on a fresh three-server cluster B through a
// follower: every server of B then has A's jobs and allocations, A's ACL
// tokens work on B and B's own no longer do, and B keeps its servers.
func TestSnapshotSaveAndRestoreOntoAnotherCluster(t *testing.T) {
	a := servertest.Single(t, withACL, noHeartbeats)
	registerNodes(t, a.Client, 2)
	for _, id := range []string{"web", "api"} {
		if _, err := a.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob(id, 2, ""))}); err != nil {
			t.Fatal(err)
		}
		waitEvals(t, a.Client, id)
	}
	aToken := mustToken(t, a.Client, "reader", `namespace "default" { policy = "read" }`)
	data := saveSnapshot(t, a.Client)
	info, err := state.InspectSnapshot(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the saved file does not check: %v", err)
	}
	if info.Tables[state.TableJobs] != 2 || info.Tables[state.TableAllocs] != 4 {
		t.Fatalf("saved tables = %v", info.Tables)
	}
	wantJobs := jobIDsOf(t, a.Client, nil)

	b := servertest.Cluster(t, 3, withACL, noHeartbeats)
	leader := servertest.Leader(b)
	bToken := mustToken(t, leader.Client, "b-reader", `namespace "default" { policy = "read" }`)
	follower := followers(b, leader)[0]

	// A damaged file is refused with what is wrong, and changes nothing.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	if _, err := follower.Client.Operator().SnapshotRestore(ctxT(t), bytes.NewReader(bad), int64(len(bad))); statusCode(err) != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("restore of a damaged file: %v, want 400 naming the checksum", err)
	}
	// Neither save nor restore is for a token without management rights.
	reader := clientFor(t, follower, bToken)
	if _, err := reader.Operator().SnapshotSave(ctxT(t), &bytes.Buffer{}, nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("save with a read token: %v, want 403", err)
	}
	if _, err := reader.Operator().SnapshotRestore(ctxT(t), bytes.NewReader(data), int64(len(data))); statusCode(err) != http.StatusForbidden {
		t.Fatalf("restore with a read token: %v, want 403", err)
	}
	if ids := jobIDsOf(t, leader.Client, nil); len(ids) != 0 {
		t.Fatalf("B has jobs before the restore: %v", ids)
	}

	// Through a follower, which forwards the body to the leader.
	resp, err := follower.Client.Operator().SnapshotRestore(ctxT(t), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if resp.SnapshotIndex != info.Meta.Index || resp.Index <= resp.SnapshotIndex || resp.Tables[state.TableJobs] != 2 {
		t.Fatalf("restore response = %+v", resp)
	}
	for _, s := range b {
		servertest.WaitFor(t, s.Name()+" to have A's jobs", func() bool {
			return slices.Equal(jobIDsOf(t, s.Client, &api.QueryOptions{Stale: true}), wantJobs)
		})
		allocs, _, err := s.Client.Allocations().List(ctxT(t), &api.QueryOptions{Stale: true})
		if err != nil || len(allocs) != 4 {
			t.Fatalf("%s: %d allocations, %v", s.Name(), len(allocs), err)
		}
	}
	// B keeps its own servers and keeps forwarding.
	peers, err := follower.Client.Status().Peers(ctxT(t))
	if err != nil || len(peers) != 3 {
		t.Fatalf("peers after the restore: %v, %v", peers, err)
	}
	for _, p := range peers {
		if !slices.ContainsFunc(b, func(s *servertest.Server) bool { return s.HTTPAddr() == p.HTTPAddr }) {
			t.Fatalf("peer %s at %s is not a server of B", p.ID, p.HTTPAddr)
		}
	}
	// The tokens are A's now.
	if ids := jobIDsOf(t, clientFor(t, follower, aToken), nil); !slices.Equal(ids, wantJobs) {
		t.Fatalf("A's token on B: %v", ids)
	}
	if _, _, err := clientFor(t, follower, bToken).Jobs().List(ctxT(t), nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("B's own token after the restore: %v, want 403", err)
	}
	// B goes on writing.
	if _, err := leader.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("after", 1, ""))}); err != nil {
		t.Fatalf("register after the restore: %v", err)
	}
	waitEvals(t, leader.Client, "after")
}

// TestSnapshotRestoreBodyLimit: a restore may be larger than the API's
// body limit, up to its own; beyond, 413 before anything is read.
func TestSnapshotRestoreBodyLimit(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) {
		c.MaxBodyBytes = 256
		c.SnapshotRestoreMaxBytes = 1 << 20
	})
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}); statusCode(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("a job larger than MaxBodyBytes: %v, want 413", err)
	}
	data := saveSnapshot(t, s.Client)
	if len(data) <= 256 {
		t.Fatalf("snapshot of %d bytes proves nothing", len(data))
	}
	if _, err := s.Client.Operator().SnapshotRestore(ctxT(t), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("restore above MaxBodyBytes: %v", err)
	}
	big := make([]byte, 2<<20)
	if _, err := s.Client.Operator().SnapshotRestore(ctxT(t), bytes.NewReader(big), int64(len(big))); statusCode(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("restore above SnapshotRestoreMaxBytes: %v, want 413", err)
	}
	// The restore route alone takes a non-JSON body.
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+"/v1/jobs", strings.NewReader("{}"))
	req.Header.Set("Content-Type", api.SnapshotContentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("octet-stream to /v1/jobs: %d, want 415", res.StatusCode)
	}
}

// TestSnapshotAutomatic: the leader writes snapshot files at the interval
// into <data-dir>/snapshots, mode 0600, keeps the newest few, and each
// file checks.
func TestSnapshotAutomatic(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) {
		c.SnapshotInterval = time.Second
		c.SnapshotRetain = 2
	})
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.DataDir(), "snapshots")
	var files []string
	seen := map[string]bool{}
	servertest.WaitFor(t, "three automatic snapshots, the newest two kept", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "drover-*.snap"))
		for _, f := range files {
			seen[f] = true
		}
		return len(files) == 2 && len(seen) >= 3
	})
	checked := 0
	for _, f := range files {
		// The next one may prune the oldest meanwhile.
		fh, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, err := fh.Stat()
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", f, fi, err)
		}
		info, err := state.InspectSnapshot(fh)
		fh.Close()
		if err != nil || info.Tables[state.TableJobs] != 1 {
			t.Fatalf("%s: %+v, %v", f, info, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no snapshot file left to check")
	}
}
