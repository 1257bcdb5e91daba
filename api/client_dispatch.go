package api

import (
	"context"
	"net/http"
	"net/url"
)

// DispatchPayloadMaxBytes is the largest payload a dispatch carries:
// Nomad's 16 KiB. The payload is stored in every replica's state with
// the child job, so it stays small; larger inputs belong in a file the
// task fetches.
const DispatchPayloadMaxBytes = 16 << 10

// JobDispatchRequest is POST /v1/job/{id}/dispatch. Its JSON names are
// Nomad's (the rest of Drover's API is snake_case): a script that
// dispatches against Nomad's HTTP API dispatches against Drover's
// unchanged.
type JobDispatchRequest struct {
	// JobID, when given, must be the job of the URL (Nomad's client
	// sends it).
	JobID string `json:"JobID,omitempty"`
	// Payload is the dispatched job's input, base64 in JSON; at most
	// DispatchPayloadMaxBytes.
	Payload []byte `json:"Payload,omitempty"`
	// Meta is merged into the child job's meta; its keys must be among
	// the parameterized block's meta_required and meta_optional.
	Meta map[string]string `json:"Meta,omitempty"`
	// IdPrefixTemplate goes into the child's ID:
	// <job>/dispatch-<template>-<unix>-<8 hex>.
	IdPrefixTemplate string `json:"IdPrefixTemplate,omitempty"`
	// Priority, when not 0, replaces the job's priority in the child
	// (Nomad 1.6's dispatch -priority).
	Priority int `json:"Priority,omitempty"`
	// IdempotencyToken, when set, makes a retried dispatch return the
	// child the same token made, while it has not finished, instead of
	// making another. It travels as the idempotency_token query
	// parameter, as Nomad's client sends it.
	IdempotencyToken string `json:"-"`
}

// JobDispatchResponse answers a dispatch, in Nomad's shape.
type JobDispatchResponse struct {
	DispatchedJobID string `json:"DispatchedJobID"`
	// EvalID is the child's evaluation; empty for the child of a
	// periodic parameterized job, which the leader launches on schedule
	// instead.
	EvalID          string `json:"EvalID"`
	EvalCreateIndex uint64 `json:"EvalCreateIndex"`
	JobCreateIndex  uint64 `json:"JobCreateIndex"`
	Index           uint64 `json:"Index"`
}

// Dispatch creates a child of the parameterized job id in namespace ns
// ("" for the default), as `nomad job dispatch` does. A refusal is a
// *StatusError: 400 for a payload or meta the job does not accept, 404
// for an unknown job, 429 when the job has too many unfinished children.
// With an idempotency token that made an unfinished child already, the
// answer is that child, with no EvalID.
func (j *Jobs) Dispatch(ctx context.Context, id, ns string, req *JobDispatchRequest) (*JobDispatchResponse, error) {
	if req == nil {
		req = &JobDispatchRequest{}
	}
	params := url.Values{}
	if ns != "" {
		params.Set("namespace", ns)
	}
	if req.IdempotencyToken != "" {
		params.Set("idempotency_token", req.IdempotencyToken)
	}
	var out JobDispatchResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/job/"+esc(id)+"/dispatch", params, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
