package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
)

// TestVariablesEndToEnd is issue 16's variables acceptance on the real
// binary: put/get/list/purge through the CLI, a check-and-set conflict's
// exit code, a full keyring rotation of 1,000 variables while a reader
// keeps reading without an error, and the secret in no file of the data
// dir (Raft log, snapshots) and no line of the server's log.
func TestVariablesEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	s := startServer(t)
	dir := t.TempDir()
	cli := func(args ...string) result {
		t.Helper()
		return s.cli(t, dir, args...)
	}
	const secret = "s3cr3t-e2e-b9c1d7a2"
	writeFile(t, filepath.Join(dir, "pw.txt"), secret)

	if r := cli("var", "put", "secret/db", "user=app", "password=@pw.txt"); r.code != 0 || strings.Contains(r.stdout+r.stderr, secret) {
		t.Fatalf("var put:\n%s", r)
	}
	if r := cli("var", "get", "-item", "password", "secret/db"); r.code != 0 || r.stdout != secret+"\n" {
		t.Fatalf("var get -item:\n%s", r)
	}
	r := cli("var", "get", "-out", "json", "secret/db")
	var v api.Variable
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.Items["user"] != "app" || v.ModifyIndex == 0 {
		t.Fatalf("var get -out json:\n%s", r)
	}
	if r := cli("var", "list", "secret/"); r.code != 0 || !strings.Contains(r.stdout, "secret/db") || strings.Contains(r.stdout, secret) {
		t.Fatalf("var list:\n%s", r)
	}

	// Check-and-set: create-only on an existing variable, and a stale
	// index, exit 1 naming the current index; the right index writes.
	cur := fmt.Sprint(v.ModifyIndex)
	for _, idx := range []string{"0", fmt.Sprint(v.ModifyIndex - 1)} {
		r := cli("var", "put", "-check-index", idx, "secret/db", "password=other")
		if r.code != 1 || !strings.Contains(r.stderr, "check-and-set conflict") || !strings.Contains(r.stderr, "-check-index "+cur) {
			t.Fatalf("var put -check-index %s on index %s:\n%s", idx, cur, r)
		}
	}
	if r := cli("var", "put", "-check-index", cur, "secret/db", "user=app", "password=@pw.txt"); r.code != 0 {
		t.Fatalf("var put with the current index:\n%s", r)
	}
	if r := cli("var", "put", "secret/big", "k=@"+bigFile(t, dir)); r.code != 1 || !strings.Contains(r.stderr, "64 KiB") {
		t.Fatalf("a 64 KiB+ variable:\n%s", r)
	}

	// var lock: while it holds the lock, a plain write conflicts; the
	// command's exit code comes back; the lock is released after.
	if r := cli("var", "lock", "-shell=false", "locks/a", "--", "/bin/sh", "-c", "exit 7"); r.code != 7 {
		t.Fatalf("var lock passes the exit code:\n%s", r)
	}
	if r := cli("var", "lock", "-shell=false", "locks/a", "--", droverBin, "var", "put", "locks/a", "k=v"); r.code != 1 || !strings.Contains(r.stderr, "check-and-set conflict") {
		t.Fatalf("a write inside var lock:\n%s", r)
	}
	if r := cli("var", "put", "locks/a", "k=v"); r.code != 0 {
		t.Fatalf("a write after var lock released:\n%s", r)
	}

	// 1,000 variables; a full rotation while a reader reads.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var putErrs atomic.Int64
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := s.client.Variables().Put(ctx, &api.Variable{Path: fmt.Sprintf("bulk/v%04d", i), Items: map[string]string{"n": fmt.Sprint(i)}}, nil); err != nil {
				putErrs.Add(1)
			}
		}()
	}
	wg.Wait()
	if putErrs.Load() != 0 {
		t.Fatalf("%d puts failed", putErrs.Load())
	}
	keysBefore := keyringKeys(t, cli)
	if len(keysBefore) != 1 {
		t.Fatalf("keys before rotation: %+v", keysBefore)
	}
	stop := make(chan struct{})
	var reads, readErrs atomic.Int64
	var reader sync.WaitGroup
	reader.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			got, _, err := s.client.Variables().Get(ctx, "", fmt.Sprintf("bulk/v%04d", i%n), nil)
			if err != nil || got.Items["n"] != fmt.Sprint(i%n) {
				readErrs.Add(1)
				t.Errorf("read during rotation: %v", err)
			}
			reads.Add(1)
		}
	})
	start := time.Now()
	if r := cli("operator", "root", "keyring", "rotate", "-full"); r.code != 0 || !strings.Contains(r.stdout, "is active") {
		close(stop)
		reader.Wait()
		t.Fatalf("rotate -full:\n%s", r)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		keys, err := s.client.Operator().KeyringKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 1 && keys[0].KeyID != keysBefore[0].KeyID && keys[0].State == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old key is still there after 2m: %+v", keys)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	close(stop)
	reader.Wait()
	if readErrs.Load() != 0 || reads.Load() == 0 {
		t.Fatalf("%d reads, %d errors during the rotation", reads.Load(), readErrs.Load())
	}
	t.Logf("rotate -full of %d variables: %s, %d reads meanwhile, 0 errors", n+1, took.Round(time.Millisecond), reads.Load())
	if keys := keyringKeys(t, cli); len(keys) != 1 || keys[0].State != "active" {
		t.Fatalf("keyring list after rotation: %+v", keys)
	}
	if r := cli("var", "get", "-item", "password", "secret/db"); r.code != 0 || r.stdout != secret+"\n" {
		t.Fatalf("var get after rotation:\n%s", r)
	}

	// Purge with a stale index conflicts; then it goes.
	if r := cli("var", "purge", "-check-index", "1", "secret/db"); r.code != 1 || !strings.Contains(r.stderr, "check-and-set conflict") {
		t.Fatalf("purge with a stale index:\n%s", r)
	}
	if r := cli("operator", "snapshot", "save", filepath.Join(dir, "state.snap")); r.code != 0 {
		t.Fatalf("snapshot save:\n%s", r)
	}
	if r := cli("var", "purge", "secret/db"); r.code != 0 {
		t.Fatalf("purge:\n%s", r)
	}
	if r := cli("var", "get", "secret/db"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("get after purge:\n%s", r)
	}

	// The secret is in no file of the server's data dir, no snapshot and
	// no log line.
	scanned := 0
	for _, root := range []string{s.dataDir, filepath.Join(dir, "state.snap")} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			scanned++
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the secret is in the clear in %s", p)
			}
			return nil
		})
	}
	if scanned < 3 {
		t.Fatalf("scanned only %d files", scanned)
	}
	if strings.Contains(s.out.String(), secret) {
		t.Error("the secret is in the server's log")
	}
}

func keyringKeys(t *testing.T, cli func(args ...string) result) []api.RootKeyMeta {
	t.Helper()
	r := cli("operator", "root", "keyring", "list", "-json")
	var keys []api.RootKeyMeta
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &keys) != nil {
		t.Fatalf("keyring list -json:\n%s", r)
	}
	return keys
}

func bigFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "big.txt")
	writeFile(t, p, strings.Repeat("x", 64<<10))
	return p
}
