package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

func u64(n uint64) *uint64 { return &n }

// TestVariablesAPI walks put/get/list/delete with check-and-set, the
// 409 answer's shape, the 64 KiB limit and bad paths.
func TestVariablesAPI(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()

	got, err := vars.Put(ctx, &api.Variable{Path: "app/db", Items: map[string]string{"user": "app", "password": "hunter2"}}, u64(0))
	if err != nil {
		t.Fatal(err)
	}
	if got.ModifyIndex == 0 || got.CreateIndex != got.ModifyIndex || got.Namespace != "default" {
		t.Fatalf("put answered %+v", got)
	}
	v, _, err := vars.Get(ctx, "", "app/db", nil)
	if err != nil || v.Items["password"] != "hunter2" || v.Items["user"] != "app" || v.ModifyIndex != got.ModifyIndex {
		t.Fatalf("get: %+v %v", v, err)
	}

	// cas=0 on an existing variable: 409 with its metadata, not items.
	resp := rawVar(t, s, http.MethodPut, "/v1/var/app/db?cas=0", `{"Items":{"password":"other"}}`)
	if resp.code != http.StatusConflict {
		t.Fatalf("cas=0 on an existing variable: %d %s", resp.code, resp.body)
	}
	var meta map[string]any
	if err := json.Unmarshal(resp.body, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["ModifyIndex"] != float64(got.ModifyIndex) || meta["Path"] != "app/db" || meta["Namespace"] != "default" || meta["Items"] != nil {
		t.Fatalf("409 body %s", resp.body)
	}
	if bytes.Contains(resp.body, []byte("hunter2")) {
		t.Fatal("the 409 answer carries an item value")
	}
	// A stale index conflicts; the current one writes.
	if _, err := vars.Put(ctx, &api.Variable{Path: "app/db", Items: map[string]string{"password": "x"}}, u64(got.ModifyIndex-1)); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	got2, err := vars.Put(ctx, &api.Variable{Path: "app/db", Items: map[string]string{"password": "rotated"}}, u64(got.ModifyIndex))
	if err != nil || got2.ModifyIndex <= got.ModifyIndex || got2.CreateIndex != got.CreateIndex {
		t.Fatalf("cas put: %+v %v", got2, err)
	}

	// List: metadata only, by prefix.
	for _, p := range []string{"app/web", "other/x"} {
		if _, err := vars.Put(ctx, &api.Variable{Path: p, Items: map[string]string{"k": "v"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	list, _, err := vars.List(ctx, "", "app/", nil)
	if err != nil || len(list) != 2 || list[0].Path != "app/db" || list[1].Path != "app/web" {
		t.Fatalf("list app/: %+v %v", list, err)
	}
	lr := rawVar(t, s, http.MethodGet, "/v1/vars?prefix=app", "")
	if bytes.Contains(lr.body, []byte("Items")) || bytes.Contains(lr.body, []byte("rotated")) {
		t.Fatalf("list carries items: %s", lr.body)
	}

	// Refusals.
	big := strings.Repeat("x", cluster.MaxVariableSize)
	for _, c := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"64 KiB + key", http.MethodPut, "/v1/var/big", `{"Items":{"k":"` + big + `"}}`, http.StatusRequestEntityTooLarge},
		{"reserved prefix", http.MethodPut, "/v1/var/nomad/secret", `{"Items":{"k":"v"}}`, http.StatusBadRequest},
		{"bad char", http.MethodPut, "/v1/var/a.b", `{"Items":{"k":"v"}}`, http.StatusBadRequest},
		{"unknown field", http.MethodPut, "/v1/var/a", `{"Itemz":{"k":"v"}}`, http.StatusBadRequest},
		{"no items", http.MethodPut, "/v1/var/a", `{"Items":{}}`, http.StatusBadRequest},
		{"path mismatch", http.MethodPut, "/v1/var/a", `{"Path":"b","Items":{"k":"v"}}`, http.StatusBadRequest},
		{"bad cas", http.MethodPut, "/v1/var/a?cas=x", `{"Items":{"k":"v"}}`, http.StatusBadRequest},
		{"missing", http.MethodGet, "/v1/var/none", ``, http.StatusNotFound},
	} {
		r := rawVar(t, s, c.method, c.path, c.body)
		if r.code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.code, r.body, c.want)
		}
		if bytes.Contains(r.body, []byte("xxxxxxxxxxxxxxxx")) {
			t.Errorf("%s: the error echoes the value", c.name)
		}
	}
	// nomad/jobs/... is allowed.
	if _, err := vars.Put(ctx, &api.Variable{Path: "nomad/jobs/web", Items: map[string]string{"k": "v"}}, nil); err != nil {
		t.Fatalf("nomad/jobs path: %v", err)
	}

	// Delete with a stale index conflicts; with the current one it goes.
	if err := vars.Delete(ctx, "", "app/db", u64(got.ModifyIndex)); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := vars.Delete(ctx, "", "app/db", u64(got2.ModifyIndex)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vars.Get(ctx, "", "app/db", nil); statusCode(err) != http.StatusNotFound {
		t.Fatalf("after delete: %v", err)
	}
}

type rawResp struct {
	code int
	body []byte
}

func rawVar(t *testing.T, s *servertest.Server, method, path, body string) rawResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, b}
}

// TestVariableLocks: a locked variable refuses writes without its lock
// ID, a second acquire conflicts, and the release frees it.
func TestVariableLocks(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()
	held, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/leader", Items: map[string]string{"holder": "a"}})
	if err != nil || held.Lock == nil || held.Lock.ID == "" || held.Lock.TTL != "15s" {
		t.Fatalf("acquire: %+v %v", held, err)
	}
	if _, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/leader"}); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("second acquire: %v", err)
	}
	if _, err := vars.Put(ctx, &api.Variable{Path: "locks/leader", Items: map[string]string{"holder": "b"}}, nil); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("write without the lock: %v", err)
	}
	v, _, err := vars.Get(ctx, "", "locks/leader", nil)
	if err != nil || v.Lock == nil || v.Lock.ID != "" || v.Items["holder"] != "a" {
		t.Fatalf("get shows %+v %v (the lock ID must not show)", v, err)
	}
	if _, err := vars.ReleaseLock(ctx, &api.Variable{Path: "locks/leader", Lock: &api.VariableLock{ID: "wrong"}}); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("release with a wrong ID: %v", err)
	}
	if _, err := vars.ReleaseLock(ctx, &api.Variable{Path: "locks/leader", Lock: &api.VariableLock{ID: held.Lock.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vars.Put(ctx, &api.Variable{Path: "locks/leader", Items: map[string]string{"holder": "b"}}, nil); err != nil {
		t.Fatalf("write after release: %v", err)
	}
}

// TestVariablesEncryptedAtRest: the FSM holds ciphertext only; neither
// the Raft log, nor a snapshot, nor any file of the data dir holds a
// value or the root key in the clear; ciphertext moved to another path
// does not decrypt.
func TestVariablesEncryptedAtRest(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	const secret = "correct-horse-battery-staple-7f3a"
	if _, err := s.Client.Variables().Put(ctx, &api.Variable{Path: "secret/db", Items: map[string]string{"password": secret}}, nil); err != nil {
		t.Fatal(err)
	}
	snapState := s.State().Store().Snapshot()
	ev := snapState.Variable("default", "secret/db")
	if ev == nil || bytes.Contains(ev.Data, []byte(secret)) || ev.KeyID == "" || len(ev.Nonce) != 12 {
		t.Fatalf("stored variable %+v", ev)
	}
	rk := snapState.RootKey(ev.KeyID)
	if rk == nil || rk.State != cluster.RootKeyActive {
		t.Fatalf("root key %+v", rk)
	}
	// Force the log into a snapshot file too.
	if err := s.State().TakeSnapshot(ctx); err != nil {
		t.Logf("raft snapshot: %v", err)
	}
	var snap bytes.Buffer
	if _, err := s.Client.Operator().SnapshotSave(ctx, &snap, nil); err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"snapshot save": snap.Bytes()}
	_ = filepath.WalkDir(s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "kek") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			blobs[p] = b
		}
		return nil
	})
	raftSeen := false
	for where, b := range blobs {
		raftSeen = raftSeen || strings.HasSuffix(where, "raft.db")
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the variable's value is in the clear in %s", where)
		}
	}
	if !raftSeen {
		t.Fatalf("no raft.db among %d files scanned", len(blobs))
	}
	if !bytes.Contains(snap.Bytes(), []byte("secret/db")) {
		t.Fatal("the snapshot does not hold the variable at all: the test proves nothing")
	}
}

// TestKeyringRotateFull: 1,000 variables are re-encrypted with the new
// key in the background while a reader keeps reading without an error;
// the old key is deleted once unused.
func TestKeyringRotateFull(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := vars.Put(ctx, &api.Variable{Path: fmt.Sprintf("rot/v%04d", i), Items: map[string]string{"n": fmt.Sprint(i)}}, nil)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys, err := s.Client.Operator().KeyringKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys before: %+v %v", keys, err)
	}
	oldKey := keys[0].KeyID
	sealBefore, err := s.Client.Operator().SealRecipients(ctx)
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var reads, readErrs atomic.Int64
	var readerDone sync.WaitGroup
	readerDone.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := fmt.Sprintf("rot/v%04d", i%n)
			v, _, err := vars.Get(ctx, "", p, nil)
			if err != nil || v.Items["n"] != fmt.Sprint(i%n) {
				readErrs.Add(1)
				t.Errorf("read %s during rotation: %+v %v", p, v, err)
			}
			reads.Add(1)
		}
	})
	start := time.Now()
	rot, err := s.Client.Operator().KeyringRotate(ctx, true)
	if err != nil || rot.Key.KeyID == oldKey || rot.Key.State != cluster.RootKeyActive {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	servertest.WaitFor(t, "the old key to be unused and deleted", func() bool {
		snap := s.State().Store().Snapshot()
		return snap.RootKey(oldKey) == nil
	})
	took := time.Since(start)
	close(stop)
	readerDone.Wait()
	snap := s.State().Store().Snapshot()
	if left := snap.VariablesByKey(oldKey, 0); len(left) != 0 {
		t.Fatalf("%d variables still under the old key", len(left))
	}
	if got := len(snap.VariablesByKey(rot.Key.KeyID, 0)); got != n {
		t.Fatalf("%d variables under the new key, want %d", got, n)
	}
	// Users' check-and-set indexes survive a rotation.
	v, _, err := vars.Get(ctx, "", "rot/v0007", nil)
	if err != nil || v.Items["n"] != "7" {
		t.Fatalf("after rotation: %+v %v", v, err)
	}
	if _, err := vars.Put(ctx, &api.Variable{Path: "rot/v0007", Items: map[string]string{"n": "x"}}, u64(v.ModifyIndex)); err != nil {
		t.Fatalf("cas with the pre-rotation index: %v", err)
	}
	if readErrs.Load() != 0 || reads.Load() == 0 {
		t.Fatalf("reads %d, errors %d", reads.Load(), readErrs.Load())
	}
	// The age identity for sealed files rotates with the keyring.
	sealAfter, err := s.Client.Operator().SealRecipients(ctx)
	active := func(r *api.SealRecipientsResponse) string {
		for _, x := range r.Recipients {
			if x.Active {
				return x.Fingerprint
			}
		}
		return ""
	}
	if err != nil || len(sealAfter.Recipients) != len(sealBefore.Recipients)+1 || active(sealAfter) == "" ||
		active(sealAfter) == active(sealBefore) {
		t.Fatalf("seal recipients before %+v, after %+v (%v)", sealBefore, sealAfter, err)
	}
	t.Logf("rotate -full of %d variables took %s; %d reads meanwhile, 0 errors", n, took.Round(time.Millisecond), reads.Load())
}

// TestVariableBlockingRead: GET /v1/var/{path}?index=N waits for a write
// past N and answers with the new items.
func TestVariableBlockingRead(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()
	if _, err := vars.Put(ctx, &api.Variable{Path: "watch/me", Items: map[string]string{"v": "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	_, meta, err := vars.Get(ctx, "", "watch/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		v   *api.Variable
		err error
	}
	got := make(chan res, 1)
	start := time.Now()
	go func() {
		v, _, err := vars.Get(ctx, "", "watch/me", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
		got <- res{v, err}
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := vars.Put(ctx, &api.Variable{Path: "watch/me", Items: map[string]string{"v": "2"}}, nil); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.v.Items["v"] != "2" || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("blocking read: %+v %v after %s", r.v, r.err, time.Since(start))
	}
}
