package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/api"
)

// Actions (Nomad 1.7's `action` blocks): the CLI asks the servers which
// node runs the allocation, then asks that node's agent to run one of the
// task's declared actions inside the task, as it reads logs there:
//
//	POST /v1/client/allocation/{alloc}/action  {"task": "...", "action": "..."}
//
// Only actions the job declares run (the request names one, never a
// command), inside the task's isolation, through the driver. With an
// agent that holds no API token of its own, the servers decide whether
// the caller's token has alloc-exec on the allocation.

// Bounds of an action request.
const (
	maxActionBody    = 4 << 10
	actionRunTimeout = 5 * time.Minute
)

func (a *Agent) action(w http.ResponseWriter, r *http.Request) {
	allocID := r.PathValue("alloc")
	if code, msg := a.authorizeExec(r, allocID); code != 0 {
		writeError(w, code, msg)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActionBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxActionBody))
		return
	}
	var req api.ActionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Task == "" || req.Action == "" {
		writeError(w, http.StatusBadRequest, `want a JSON body {"task": "...", "action": "..."}`)
		return
	}
	ar := a.runner(allocID)
	if ar == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("allocation %s is not on this node (or was garbage collected)", allocID))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), actionRunTimeout)
	defer cancel()
	res, err := ar.RunAction(ctx, req.Task, req.Action)
	switch {
	case errors.Is(err, allocrunner.ErrNoSuchAction):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, allocrunner.ErrTaskNotRunning):
		writeError(w, http.StatusConflict, err.Error())
		return
	case errors.Is(err, allocrunner.ErrCannotExec):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("the action ran longer than %v and was killed", actionRunTimeout))
		return
	case err != nil:
		a.log.Warn("action failed", "alloc", allocID, "task", req.Task, "action", req.Action, "err", err)
		writeError(w, http.StatusInternalServerError, "run action: "+err.Error())
		return
	}
	a.log.Info("action ran", "alloc", allocID, "task", req.Task, "action", req.Action, "exit_code", res.ExitCode)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(api.ActionResponse{ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr})
}

// authorizeExec is authorizeLogs for alloc-exec: over HTTPS, on an agent
// without a token of its own, the servers must let the caller's token
// run commands in the allocation. It returns 0 when the request may go
// on.
func (a *Agent) authorizeExec(r *http.Request, allocID string) (int, string) {
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
	alloc, err := c.WithToken(token).Allocations().ExecCheck(ctx, allocID)
	var se *api.StatusError
	switch {
	case err == nil && alloc.NodeID != a.Node().ID:
		return http.StatusNotFound, "allocation " + allocID + " is not on this node"
	case err == nil:
		return 0, ""
	case errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden || se.Code == http.StatusNotFound):
		return se.Code, "the servers refused: " + se.Message
	default:
		a.servers.failed(c, err)
		return http.StatusBadGateway, "could not ask the servers whether this token may run commands in the allocation: " + err.Error()
	}
}
