package api

import (
	"context"
	"net/http"
	"time"
)

// AllocIdentityRequest is the body of POST /v1/allocation/{id}/identity.
// Tasks limits the answer to those tasks (empty: every task).
type AllocIdentityRequest struct {
	Tasks []string `json:"tasks,omitempty"`
}

// SignedIdentity is one task's signed workload identity and how the task
// receives it (its identity block's env and file).
type SignedIdentity struct {
	Task       string    `json:"task"`
	Name       string    `json:"name"`
	JWT        string    `json:"jwt"`
	Env        bool      `json:"env,omitempty"`
	File       bool      `json:"file,omitempty"`
	Expiration time.Time `json:"expiration,omitzero"`
}

// AllocIdentityResponse answers POST /v1/allocation/{id}/identity.
type AllocIdentityResponse struct {
	Identities []SignedIdentity `json:"identities"`
}

// Identities asks the servers to sign the workload identities of an
// allocation's tasks. Only the node the allocation runs on may: the
// client must carry that node's secret (WithNodeSecret).
func (a *Allocations) Identities(ctx context.Context, allocID string, tasks []string) (*AllocIdentityResponse, error) {
	var out AllocIdentityResponse
	if err := a.c.write(ctx, http.MethodPost, "/v1/allocation/"+esc(allocID)+"/identity", nil, &AllocIdentityRequest{Tasks: tasks}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
