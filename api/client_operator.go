package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Snapshot and Raft operations: Nomad's /v1/operator/snapshot and
// /v1/operator/raft routes.

// SnapshotContentType is the media type of a snapshot file, in both
// directions. Like application/json, a web page cannot send it to
// another origin without a CORS preflight, which the servers never grant.
const SnapshotContentType = "application/octet-stream"

// QuorumMath is what a Raft configuration can lose: of Voters voters,
// Healthy answer the leader; Quorum must agree on every write; the
// cluster survives FailureTolerance more failures.
type QuorumMath struct {
	Voters           int `json:"voters"`
	Healthy          int `json:"healthy"`
	Quorum           int `json:"quorum"`
	FailureTolerance int `json:"failure_tolerance"`
}

// RaftServer is one server of the Raft configuration as the leader sees
// it.
type RaftServer struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Address  string `json:"address"` // Raft
	HTTPAddr string `json:"http_addr,omitempty"`
	Leader   bool   `json:"leader"`
	Voter    bool   `json:"voter"`
	// Healthy is false while the leader's heartbeats to it fail;
	// LastContactMS is then how long ago it last answered.
	Healthy       bool  `json:"healthy"`
	LastContactMS int64 `json:"last_contact_ms,omitempty"`
}

// RaftConfiguration answers GET /v1/operator/raft/configuration.
type RaftConfiguration struct {
	Servers []RaftServer `json:"servers"`
	Quorum  QuorumMath   `json:"quorum"`
	// Autopilot is the dead server cleanup's configuration on the leader.
	Autopilot AutopilotSettings `json:"autopilot"`
	Index     uint64            `json:"index"`
}

// AutopilotSettings is the leader's autopilot block.
type AutopilotSettings struct {
	CleanupDeadServers bool   `json:"cleanup_dead_servers"`
	DeadServerGrace    string `json:"dead_server_grace"`
	MinQuorum          int    `json:"min_quorum"`
}

// RaftRemovePeerResponse answers DELETE /v1/operator/raft/peer: the
// removed server and the quorum math before and after.
type RaftRemovePeerResponse struct {
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	Before QuorumMath `json:"before"`
	After  QuorumMath `json:"after"`
	// WasHealthy says the server still answered the leader: if it keeps
	// running it asks to be added back (as in Consul, remove-peer is for
	// servers that are gone).
	WasHealthy bool   `json:"was_healthy"`
	Index      uint64 `json:"index"`
}

// SnapshotRestoreResponse answers PUT /v1/operator/snapshot.
type SnapshotRestoreResponse struct {
	// SnapshotIndex and SnapshotServer are the restored file's; Index is
	// the cluster's Raft index after the restore.
	SnapshotIndex  uint64         `json:"snapshot_index"`
	SnapshotServer string         `json:"snapshot_server"`
	SnapshotTime   string         `json:"snapshot_time"`
	Index          uint64         `json:"index"`
	Tables         map[string]int `json:"tables"`
}

// SnapshotSave streams a snapshot file of the cluster state into w and
// returns its size. The leader takes it; with q.Stale the answering
// server takes its own. The caller should check the file (state's
// InspectSnapshot): a stream cut short fails its checksum. It needs a
// management token.
func (o *Operator) SnapshotSave(ctx context.Context, w io.Writer, q *QueryOptions) (int64, error) {
	target := o.c.base.String() + "/v1/operator/snapshot"
	if v := q.values(); len(v) > 0 {
		target += "?" + v.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, fmt.Errorf("api: snapshot save: %w", err)
	}
	req.Header.Set("Accept", SnapshotContentType)
	resp, err := o.c.send(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp, nil)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("api: snapshot save: after %d bytes: %w", n, err)
	}
	return n, nil
}

// SnapshotRestore uploads a snapshot file of size bytes and makes the
// cluster's state the file's. The servers verify it whole before they
// change anything. It needs a management token; afterwards the cluster's
// ACL tokens are the snapshot's.
func (o *Operator) SnapshotRestore(ctx context.Context, r io.Reader, size int64) (*SnapshotRestoreResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, o.c.base.String()+"/v1/operator/snapshot", r)
	if err != nil {
		return nil, fmt.Errorf("api: snapshot restore: %w", err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", SnapshotContentType)
	req.Header.Set("Accept", "application/json")
	resp, err := o.c.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp, nil)
	}
	var out SnapshotRestoreResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("api: decode answer of snapshot restore: %w", err)
	}
	return &out, nil
}

// RaftConfiguration returns the servers of the Raft configuration with
// the leader's view of their health and the quorum math. It needs the
// operator:read capability.
func (o *Operator) RaftConfiguration(ctx context.Context, q *QueryOptions) (*RaftConfiguration, error) {
	var out RaftConfiguration
	if _, err := o.c.query(ctx, "/v1/operator/raft/configuration", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RaftRemovePeer removes a server from the Raft configuration by ID, or
// by Raft address when id is empty. It needs the operator:write
// capability.
func (o *Operator) RaftRemovePeer(ctx context.Context, id, address string) (*RaftRemovePeerResponse, error) {
	params := url.Values{}
	if id != "" {
		params.Set("id", id)
	}
	if address != "" {
		params.Set("address", address)
	}
	var out RaftRemovePeerResponse
	if err := o.c.write(ctx, http.MethodDelete, "/v1/operator/raft/peer", params, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// send adds the token and makes the request; the caller closes the body.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	return resp, nil
}
