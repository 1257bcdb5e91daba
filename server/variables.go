package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// Nomad Variables over HTTP (Nomad's paths and shapes):
//
//	GET    /v1/vars?prefix=&namespace=&per_page=&next_token=
//	                                     metadata only, never items
//	GET    /v1/var/{path}                one variable with its items
//	PUT    /v1/var/{path}?cas=N          create or replace (cas=0: create only)
//	PUT    /v1/var/{path}?lock-acquire   / ?lock-release
//	DELETE /v1/var/{path}?cas=N
//
// Items are encrypted on the leader before the Raft apply (keyring.go).
// No value ever reaches a log line or an error message.

// maxVariableList bounds one list answer: the largest page.
const maxVariableList = 10000

func (s *Server) variableRoutes(mux *router) {
	mux.handle("GET /v1/vars", CapVarList, s.read(s.varList))
	mux.handle("GET /v1/var/{path...}", CapVarRead, s.read(s.varGet))
	mux.handle("PUT /v1/var/{path...}", CapVarWrite, s.write(s.varPut))
	mux.handle("DELETE /v1/var/{path...}", CapVarDestroy, s.write(s.varDelete))
	mux.handle("GET /v1/operator/keyring/keys", CapOperatorRead, s.read(s.keyringList))
	mux.handle("PUT /v1/operator/keyring/rotate", CapOperatorWrite, s.write(s.keyringRotate))
}

func varMeta(m cluster.VariableMetadata, withLockID bool) api.VariableMetadata {
	if !withLockID {
		m = m.Redacted()
	}
	out := api.VariableMetadata{Namespace: m.Namespace, Path: m.Path, CreateIndex: m.CreateIndex, ModifyIndex: m.ModifyIndex,
		CreateTime: m.CreateTime, ModifyTime: m.ModifyTime}
	if m.Lock != nil {
		out.Lock = &api.VariableLock{ID: m.Lock.ID, TTL: m.Lock.TTL.String(), LockDelay: m.Lock.LockDelay.String()}
	}
	return out
}

func apiVariable(v *cluster.VariableDecrypted, withLockID bool) *api.Variable {
	m := varMeta(v.VariableMetadata, withLockID)
	return &api.Variable{Namespace: m.Namespace, Path: m.Path, CreateIndex: m.CreateIndex, ModifyIndex: m.ModifyIndex,
		CreateTime: m.CreateTime, ModifyTime: m.ModifyTime, Lock: m.Lock, Items: v.Items}
}

// varRequestPath returns the {path} of a request, validated.
func varRequestPath(r *http.Request) (string, error) {
	p := r.PathValue("path")
	if err := cluster.ValidateVariablePath(p); err != nil {
		return "", errorf(http.StatusBadRequest, "%v", err)
	}
	return p, nil
}

func denyVariable(r *http.Request, c, ns, path string) error {
	if identityFrom(r.Context()).allowVariable(ns, path, c) {
		return nil
	}
	return errorf(http.StatusForbidden, "permission denied: variables %s on %s in namespace %s is not granted to this token (add a variables { path ... } rule)", c, path, ns)
}

// varList answers GET /v1/vars: the metadata of the variables under
// ?prefix the token may list, in (namespace, path) order, a page at a
// time (Nomad's paging): ?per_page=N (at most maxVariableList, the
// default) and ?next_token=T, the token the previous page's
// X-Nomad-NextToken header gave. The token names the first variable of
// the next page as "namespace.path" (Nomad's form; neither may contain
// a dot); a page starts at the first variable at or after it, so one
// deleted in between is simply passed.
func (s *Server) varList(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if len(prefix) > cluster.MaxVariablePathLen {
		return errorf(http.StatusBadRequest, "prefix is longer than %d characters", cluster.MaxVariablePathLen)
	}
	perPage, err := varPerPage(q.Get("per_page"))
	if err != nil {
		return err
	}
	fromNS, fromPath, err := parseVarNextToken(q.Get("next_token"), ns)
	if err != nil {
		return err
	}
	id := identityFrom(r.Context())
	return s.blocking(w, r, []string{state.TableVariables}, func(snap *state.Snapshot) (any, error) {
		out := []api.VariableMetadata{}
		next := ""
		snap.VariablesFrom(ns, prefix, fromNS, fromPath, func(v *cluster.VariableEncrypted) bool {
			if !id.allowVariable(v.Namespace, v.Path, varCapList) {
				return true
			}
			if len(out) >= perPage {
				next = v.Namespace + "." + v.Path
				return false
			}
			out = append(out, varMeta(v.VariableMetadata, false))
			return true
		})
		// fn may run again when a blocking query wakes: the header is
		// that of the answer served.
		for _, h := range []string{api.HeaderNextToken, headerNomadNextToken} {
			if next == "" {
				w.Header().Del(h)
			} else {
				w.Header().Set(h, next)
			}
		}
		return out, nil
	})
}

// headerNomadNextToken is Nomad's name of the next page's token, set
// beside Drover's for Nomad's clients.
const headerNomadNextToken = "X-Nomad-NextToken"

// varPerPage reads ?per_page: absent or 0 is the largest page.
func varPerPage(v string) (int, error) {
	if v == "" {
		return maxVariableList, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "per_page=%q: want a page size from 1 to %d (0 or none: %d)", v, maxVariableList, maxVariableList)
	}
	if n == 0 || n > maxVariableList {
		return maxVariableList, nil
	}
	return n, nil
}

// parseVarNextToken splits a next_token "namespace.path" at its last
// dot: a path has none (cluster.ValidateVariablePath), a namespace name
// might. A token without a dot is a path in namespace ns.
func parseVarNextToken(tok, ns string) (string, string, error) {
	if tok == "" {
		return "", "", nil
	}
	if len(tok) > cluster.MaxVariablePathLen+256 {
		return "", "", errorf(http.StatusBadRequest, "next_token is longer than any token a page gives: pass the X-Nomad-NextToken header of the previous page")
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return ns, tok, nil
	}
	return tok[:i], tok[i+1:], nil
}

// varGet answers GET /v1/var/{path}.
func (s *Server) varGet(w http.ResponseWriter, r *http.Request) error {
	path, err := varRequestPath(r)
	if err != nil {
		return err
	}
	ns := namespace(r)
	if err := denyVariable(r, varCapRead, ns, path); err != nil {
		return err
	}
	// A blocking query (?index=N) wakes on any variable write; the
	// template runner compares what it gets.
	return s.blocking(w, r, []string{state.TableVariables}, func(snap *state.Snapshot) (any, error) {
		v := snap.Variable(ns, path)
		if v == nil {
			return nil, errorf(http.StatusNotFound, "variable not found: %s in namespace %s", path, ns)
		}
		dv, err := s.openVariable(snap, v)
		if err != nil {
			return nil, err
		}
		return apiVariable(dv, false), nil
	})
}

// casParam reads ?cas=N.
func casParam(r *http.Request) (*uint64, error) {
	q := r.URL.Query()
	if !q.Has("cas") {
		return nil, nil
	}
	n, err := strconv.ParseUint(q.Get("cas"), 10, 64)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "cas=%q: want the variable's modify index (0: it must not exist)", q.Get("cas"))
	}
	return &n, nil
}

// varPut answers PUT /v1/var/{path}: a write, or a lock operation.
func (s *Server) varPut(w http.ResponseWriter, r *http.Request) error {
	path, err := varRequestPath(r)
	if err != nil {
		return err
	}
	var body api.Variable
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	ns := namespace(r)
	if !r.URL.Query().Has("namespace") && body.Namespace != "" {
		ns = body.Namespace
	}
	switch {
	case body.Path != "" && body.Path != path:
		return errorf(http.StatusBadRequest, "the body's Path %q is not the URL's %q", body.Path, path)
	case body.Namespace != "" && body.Namespace != ns:
		return errorf(http.StatusBadRequest, "the body's Namespace %q is not the request's %q", body.Namespace, ns)
	}
	if err := denyVariable(r, varCapWrite, ns, path); err != nil {
		return err
	}
	cas, err := casParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	op := state.VarOpSet
	switch {
	case btoi(q.Has("lock-acquire"))+btoi(q.Has("lock-release"))+btoi(q.Has("lock-renew")) > 1:
		return errorf(http.StatusBadRequest, "lock-acquire, lock-renew and lock-release are exclusive")
	case q.Has("lock-renew"):
		op = state.VarOpLockRenew
	case q.Has("lock-acquire"):
		op = state.VarOpLockAcquire
	case q.Has("lock-release"):
		op = state.VarOpLockRelease
	}
	ev := &cluster.VariableEncrypted{VariableMetadata: cluster.VariableMetadata{Namespace: ns, Path: path}}
	if body.Lock != nil {
		l, err := parseVarLock(body.Lock)
		if err != nil {
			return err
		}
		ev.Lock = l
	}
	if op == state.VarOpLockAcquire {
		if ev.Lock == nil {
			ev.Lock = &cluster.VariableLock{}
		}
		ev.Lock.ID = newID()
		if ev.Lock.TTL == 0 {
			ev.Lock.TTL = cluster.DefaultVariableLockTTL
		}
	}
	items := body.Items
	if op == state.VarOpSet || len(items) > 0 {
		if err := cluster.ValidateVariableItems(items); err != nil {
			var tl *cluster.VariableTooLargeError
			if errors.As(err, &tl) {
				return errorf(http.StatusRequestEntityTooLarge, "%v", err)
			}
			return errorf(http.StatusBadRequest, "%v", err)
		}
	}
	if op != state.VarOpLockRelease && op != state.VarOpLockRenew {
		snap := s.raft.Store().Snapshot()
		if cur := snap.Variable(ns, path); op == state.VarOpLockAcquire && len(items) == 0 && cur != nil {
			// Acquiring a lock keeps the items unless new ones are given.
			ev.Data, ev.KeyID, ev.Nonce = cur.Data, cur.KeyID, cur.Nonce
		} else {
			if items == nil {
				items = map[string]string{}
			}
			rk, a, err := s.activeRootKey(r.Context())
			if err != nil {
				return err
			}
			if ev.Data, ev.Nonce, err = sealItems(rk, a, ns, path, items); err != nil {
				return err
			}
			ev.KeyID = rk.KeyID
		}
	}
	_, resp, err := s.raft.VarApply(r.Context(), &state.VarApplyRequest{Op: op, Var: ev, CheckIndex: cas, Now: time.Now()})
	if err != nil {
		return err
	}
	if resp.Result == state.VarResultConflict {
		return s.varConflict(w, resp)
	}
	out := &api.Variable{Namespace: ns, Path: path, Items: items}
	if resp.Written != nil {
		m := varMeta(resp.Written.VariableMetadata, true)
		out.CreateIndex, out.ModifyIndex, out.CreateTime, out.ModifyTime, out.Lock = m.CreateIndex, m.ModifyIndex, m.CreateTime, m.ModifyTime, m.Lock
		if op == state.VarOpLockRelease || op == state.VarOpLockRenew {
			out.Items = nil
		}
	}
	return s.reply(w, out.ModifyIndex, out)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseVarLock(l *api.VariableLock) (*cluster.VariableLock, error) {
	out := &cluster.VariableLock{ID: l.ID}
	for _, f := range []struct {
		name string
		in   string
		dst  *time.Duration
	}{{"TTL", l.TTL, &out.TTL}, {"LockDelay", l.LockDelay, &out.LockDelay}} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil || d < 0 {
			return nil, errorf(http.StatusBadRequest, "Lock.%s %q: want a duration such as \"15s\"", f.name, f.in)
		}
		*f.dst = d
	}
	if out.TTL != 0 && (out.TTL < cluster.MinVariableLockTTL || out.TTL > cluster.MaxVariableLockTTL) {
		return nil, errorf(http.StatusBadRequest, "Lock.TTL %s: want between %s and %s", out.TTL, cluster.MinVariableLockTTL, cluster.MaxVariableLockTTL)
	}
	return out, nil
}

// varConflict answers 409 with the current variable's metadata
// (Nomad's shape; never its items), or an empty one if there is none.
func (s *Server) varConflict(w http.ResponseWriter, resp *state.VarApplyResponse) error {
	m := api.VariableMetadata{}
	if resp.Conflict != nil {
		m = varMeta(resp.Conflict.VariableMetadata, false)
	}
	s.setMeta(w, m.ModifyIndex)
	writeJSON(w, http.StatusConflict, m)
	return nil
}

// varDelete answers DELETE /v1/var/{path}?cas=N.
func (s *Server) varDelete(w http.ResponseWriter, r *http.Request) error {
	path, err := varRequestPath(r)
	if err != nil {
		return err
	}
	ns := namespace(r)
	if err := denyVariable(r, varCapDestroy, ns, path); err != nil {
		return err
	}
	cas, err := casParam(r)
	if err != nil {
		return err
	}
	ev := &cluster.VariableEncrypted{VariableMetadata: cluster.VariableMetadata{Namespace: ns, Path: path}}
	if id := strings.TrimSpace(r.URL.Query().Get("lock-id")); id != "" {
		ev.Lock = &cluster.VariableLock{ID: id}
	}
	idx, resp, err := s.raft.VarApply(r.Context(), &state.VarApplyRequest{Op: state.VarOpDelete, Var: ev, CheckIndex: cas, Now: time.Now()})
	if err != nil {
		return err
	}
	if resp.Result == state.VarResultConflict {
		return s.varConflict(w, resp)
	}
	s.setMeta(w, idx)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
