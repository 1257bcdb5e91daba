package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/droverhq/drover/api"
)

// TestOperatorSnapshotAndRaftWire checks what the snapshot and Raft peer
// methods send: the routes, the token, the snapshot's own content type
// and length, and that errors come back as *StatusError. The server
// package tests them against real servers.
func TestOperatorSnapshotAndRaftWire(t *testing.T) {
	file := []byte("drover-snapshot v1\n{}\nnot really a snapshot")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/operator/snapshot", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Has("stale") != (r.URL.RawQuery != "") {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", api.SnapshotContentType)
		_, _ = w.Write(file)
	})
	mux.HandleFunc("PUT /v1/operator/snapshot", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != api.SnapshotContentType || r.ContentLength != int64(len(file)) || !bytes.Equal(body, file) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "checksum mismatch"})
			return
		}
		_ = json.NewEncoder(w).Encode(api.SnapshotRestoreResponse{SnapshotIndex: 7, Index: 9})
	})
	mux.HandleFunc("GET /v1/operator/raft/configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.RaftConfiguration{Servers: []api.RaftServer{{ID: "a", Leader: true, Voter: true, Healthy: true}},
			Quorum: api.QuorumMath{Voters: 1, Healthy: 1, Quorum: 1}})
	})
	mux.HandleFunc("DELETE /v1/operator/raft/peer", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("address") != "10.0.0.3:4647" || r.URL.Query().Has("id") {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "no such server"})
			return
		}
		_ = json.NewEncoder(w).Encode(api.RaftRemovePeerResponse{ID: "c", After: api.QuorumMath{Voters: 2, Healthy: 2, Quorum: 2}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := api.NewClient(api.Config{Address: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var buf bytes.Buffer
	if n, err := c.Operator().SnapshotSave(ctx, &buf, nil); err != nil || n != int64(len(file)) || !bytes.Equal(buf.Bytes(), file) {
		t.Fatalf("save = %d, %v", n, err)
	}
	if _, err := c.Operator().SnapshotSave(ctx, io.Discard, &api.QueryOptions{Stale: true}); err != nil {
		t.Fatalf("stale save: %v", err)
	}
	resp, err := c.Operator().SnapshotRestore(ctx, bytes.NewReader(file), int64(len(file)))
	if err != nil || resp.SnapshotIndex != 7 || resp.Index != 9 {
		t.Fatalf("restore = %+v, %v", resp, err)
	}
	_, err = c.Operator().SnapshotRestore(ctx, bytes.NewReader(file[:5]), 5)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || se.Message != "checksum mismatch" {
		t.Fatalf("restore of a bad file: %v", err)
	}
	conf, err := c.Operator().RaftConfiguration(ctx, nil)
	if err != nil || len(conf.Servers) != 1 || conf.Quorum.Quorum != 1 {
		t.Fatalf("configuration = %+v, %v", conf, err)
	}
	rm, err := c.Operator().RaftRemovePeer(ctx, "", "10.0.0.3:4647")
	if err != nil || rm.ID != "c" || rm.After.Voters != 2 {
		t.Fatalf("remove = %+v, %v", rm, err)
	}
	if _, err := c.Operator().RaftRemovePeer(ctx, "x", ""); !api.IsNotFound(err) {
		t.Fatalf("remove unknown: %v", err)
	}
}
