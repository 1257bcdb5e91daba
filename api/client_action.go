package api

import (
	"context"

	"github.com/droverhq/drover/cluster"
)

// ActionRequest is the body of an agent's
// POST /v1/client/allocation/{alloc}/action: run the task's declared
// action by name (Nomad 1.7's actions).
type ActionRequest struct {
	Task   string `json:"task"`
	Action string `json:"action"`
}

// ActionResponse is the action's result. Stdout and Stderr are each
// bounded (the driver keeps the first part of each); the command's exit
// code is a result, not an error.
type ActionResponse struct {
	ExitCode int    `json:"exit_code"`
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
}

// ExecCheck asks whether the client's token may run commands in an
// allocation (the alloc-exec capability) and returns the allocation.
// Agents call it with the token an action request carries.
func (a *Allocations) ExecCheck(ctx context.Context, allocID string) (*cluster.Allocation, error) {
	var out cluster.Allocation
	if _, err := a.c.query(ctx, "/v1/allocation/"+esc(allocID)+"/exec-check", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
