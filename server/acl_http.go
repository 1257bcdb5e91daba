package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// aclRoutes registers the ACL endpoints (Nomad's paths). Administering
// policies and tokens takes a management token; any valid token may
// read itself; the bootstrap takes none and works once.
func (s *Server) aclRoutes(mux *router) {
	mux.handle("POST /v1/acl/bootstrap", CapPublic, s.write(s.aclBootstrap))
	mux.handle("PUT /v1/acl/bootstrap", CapPublic, s.write(s.aclBootstrap))
	mux.handle("GET /v1/acl/policies", CapManagement, s.read(s.aclPolicyList))
	mux.handle("GET /v1/acl/policy/{name}", CapManagement, s.read(s.aclPolicyGet))
	mux.handle("POST /v1/acl/policy/{name}", CapManagement, s.write(s.aclPolicyApply))
	mux.handle("PUT /v1/acl/policy/{name}", CapManagement, s.write(s.aclPolicyApply))
	mux.handle("DELETE /v1/acl/policy/{name}", CapManagement, s.write(s.aclPolicyDelete))
	mux.handle("GET /v1/acl/tokens", CapManagement, s.read(s.aclTokenList))
	mux.handle("POST /v1/acl/token", CapManagement, s.write(s.aclTokenCreate))
	mux.handle("PUT /v1/acl/token", CapManagement, s.write(s.aclTokenCreate))
	mux.handle("GET /v1/acl/token/self", CapAnyToken, s.local(s.aclTokenSelf))
	mux.handle("GET /v1/acl/token/self/capabilities", CapAnyToken, s.local(s.aclCapabilities(mux))) // acl_capabilities.go
	mux.handle("GET /v1/acl/token/{accessor}", CapManagement, s.read(s.aclTokenGet))
	mux.handle("DELETE /v1/acl/token/{accessor}", CapManagement, s.write(s.aclTokenRevoke))
	mux.handle("GET /v1/agent/routes", CapAgentRead, s.local(s.agentRoutes))
}

func (s *Server) requireACL() error {
	if !s.cfg.ACL {
		return errorf(http.StatusBadRequest, "ACLs are off on this server: start it with -acl")
	}
	return nil
}

// tokenView is what the API shows of a token: never its hash.
func tokenView(snap *state.Snapshot, t *cluster.ACLToken) *api.ACLToken {
	v := &api.ACLToken{
		AccessorID: t.AccessorID, Name: t.Name, Type: t.Type, Policies: t.Policies,
		CreateTime: t.CreateTime, ExpirationTime: t.ExpirationTime,
		CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex,
	}
	for _, p := range t.Policies {
		if snap.ACLPolicy(p) == nil {
			v.MissingPolicies = append(v.MissingPolicies, p)
		}
	}
	return v
}

func policyView(p *cluster.ACLPolicy) *api.ACLPolicy {
	return &api.ACLPolicy{Name: p.Name, Description: p.Description, Rules: p.Rules, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex}
}

// newManagementToken makes a management token and its secret.
func newManagementToken(name string, now time.Time) (*cluster.ACLToken, string) {
	secret := cluster.NewACLSecret()
	return &cluster.ACLToken{
		AccessorID: cluster.NewACLAccessor(), SecretHash: cluster.HashACLSecret(secret),
		Name: name, Type: cluster.ACLTokenManagement, CreateTime: now.UTC(),
	}, secret
}

func (s *Server) aclBootstrap(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	now := time.Now()
	tok, secret := newManagementToken("Bootstrap Token", now)
	idx, _, err := s.raft.Apply(r.Context(), state.MsgACLBootstrap, &state.ACLBootstrapRequest{Token: tok, Now: now})
	if errors.Is(err, state.ErrCASConflict) {
		return errorf(http.StatusConflict, "ACLs are already bootstrapped: use the management token (with -acl-bootstrap=auto it is in <data-dir>/management.token on the first server)")
	}
	if err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	v := tokenView(snap, snap.ACLToken(tok.AccessorID))
	v.SecretID = secret
	return s.reply(w, idx, v)
}

// ManagementTokenFile is where the server that bootstrapped the ACLs
// wrote the management token.
func ManagementTokenFile(dataDir string) string {
	return filepath.Join(dataDir, "management.token")
}

// autoBootstrapACL creates the management token once, on the leader, when
// ACLs are on in auto mode and nobody bootstrapped them yet, and writes
// it to <data-dir>/management.token (mode 0600).
func (s *Server) autoBootstrapACL(ctx context.Context) error {
	if !s.cfg.ACL || s.cfg.ACLBootstrap == ACLBootstrapManual {
		return nil
	}
	if s.raft.Store().Snapshot().ACLBootstrapIndex() != 0 {
		return nil
	}
	tok, secret := newManagementToken("Bootstrap Token", time.Now())
	path := ManagementTokenFile(s.cfg.DataDir)
	// Write first: a token in Raft that nobody can read would lock the
	// operator out.
	if err := os.WriteFile(path+".tmp", []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write management token: %w", err)
	}
	if _, _, err := s.raft.Apply(ctx, state.MsgACLBootstrap, &state.ACLBootstrapRequest{Token: tok, Now: tok.CreateTime}); err != nil {
		_ = os.Remove(path + ".tmp")
		if errors.Is(err, state.ErrCASConflict) {
			return nil
		}
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("write management token: %w", err)
	}
	s.logger.Info("ACLs bootstrapped; the management token is in "+path+": export DROVER_TOKEN=$(cat "+path+")", "accessor", tok.AccessorID)
	return nil
}

func (s *Server) aclPolicyList(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	return s.blocking(w, r, []string{state.TableACLPolicies}, func(snap *state.Snapshot) (any, error) {
		out := []*api.ACLPolicy{}
		for _, p := range snap.ACLPolicies() {
			out = append(out, policyView(p))
		}
		return out, nil
	})
}

func (s *Server) aclPolicyGet(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	name := r.PathValue("name")
	return s.blocking(w, r, []string{state.TableACLPolicies}, func(snap *state.Snapshot) (any, error) {
		p := snap.ACLPolicy(name)
		if p == nil {
			return nil, errorf(http.StatusNotFound, "ACL policy %q not found", name)
		}
		return policyView(p), nil
	})
}

func (s *Server) aclPolicyApply(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	var req api.ACLPolicy
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := validACLName(name); err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return errorf(http.StatusBadRequest, "policy name %q in the body differs from %q in the path", req.Name, name)
	}
	if _, err := ParseACLPolicy(name+".hcl", []byte(req.Rules)); err != nil {
		return errorf(http.StatusBadRequest, "policy %s: %v", name, err)
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgACLPolicyUpsert, &state.ACLPolicyUpsertRequest{
		Policies: []*cluster.ACLPolicy{{Name: name, Description: req.Description, Rules: req.Rules}}, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	return s.reply(w, idx, struct{}{})
}

func (s *Server) aclPolicyDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgACLPolicyDelete, &state.ACLPolicyDeleteRequest{Names: []string{r.PathValue("name")}, Now: time.Now()})
	if err != nil {
		return err
	}
	return s.reply(w, idx, struct{}{})
}

func (s *Server) aclTokenList(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	return s.blocking(w, r, []string{state.TableACLTokens, state.TableACLPolicies}, func(snap *state.Snapshot) (any, error) {
		out := []*api.ACLToken{}
		for _, t := range snap.ACLTokens() {
			out = append(out, tokenView(snap, t))
		}
		return out, nil
	})
}

func (s *Server) aclTokenGet(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	id := r.PathValue("accessor")
	return s.blocking(w, r, []string{state.TableACLTokens, state.TableACLPolicies}, func(snap *state.Snapshot) (any, error) {
		t := snap.ACLToken(id)
		if t == nil {
			return nil, errorf(http.StatusNotFound, "ACL token %q not found", id)
		}
		return tokenView(snap, t), nil
	})
}

func (s *Server) aclTokenSelf(w http.ResponseWriter, r *http.Request) error {
	id := identityFrom(r.Context())
	snap := s.raft.Store().Snapshot()
	switch {
	case id == nil:
		return errorf(http.StatusBadRequest, "this server checks no tokens (no -acl, no -token-file)")
	case id.token == nil:
		return s.reply(w, snap.Index(), &api.ACLToken{Name: "token_file", Type: cluster.ACLTokenManagement})
	}
	return s.reply(w, snap.Index(), tokenView(snap, id.token))
}

func (s *Server) aclTokenCreate(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	var req api.ACLTokenCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	now := time.Now().UTC()
	typ := req.Type
	if typ == "" {
		typ = cluster.ACLTokenClient
	}
	switch typ {
	case cluster.ACLTokenClient:
		if len(req.Policies) == 0 {
			return errorf(http.StatusBadRequest, "a client token needs at least one policy (-policy NAME)")
		}
	case cluster.ACLTokenManagement:
		if len(req.Policies) > 0 {
			return errorf(http.StatusBadRequest, "a management token takes no policies: it may do everything")
		}
	default:
		return errorf(http.StatusBadRequest, "token type %q: want client or management", req.Type)
	}
	snap := s.raft.Store().Snapshot()
	for _, p := range req.Policies {
		if snap.ACLPolicy(p) == nil {
			return errorf(http.StatusBadRequest, "ACL policy %q does not exist: apply it first (drover acl policy apply %s FILE)", p, p)
		}
	}
	secret := cluster.NewACLSecret()
	tok := &cluster.ACLToken{
		AccessorID: cluster.NewACLAccessor(), SecretHash: cluster.HashACLSecret(secret), Name: req.Name,
		Type: typ, Policies: slices.Compact(slices.Sorted(slices.Values(req.Policies))), CreateTime: now,
	}
	if req.TTL != "" {
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil || ttl <= 0 {
			return errorf(http.StatusBadRequest, "ttl %q: want a positive duration such as 1h", req.TTL)
		}
		exp := now.Add(ttl)
		tok.ExpirationTime = &exp
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgACLTokenUpsert, &state.ACLTokenUpsertRequest{Tokens: []*cluster.ACLToken{tok}, Now: now})
	if err != nil {
		return err
	}
	snap = s.raft.Store().Snapshot()
	v := tokenView(snap, tok)
	v.CreateIndex, v.ModifyIndex = idx, idx
	v.SecretID = secret
	return s.reply(w, idx, v)
}

func (s *Server) aclTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgACLTokenDelete, &state.ACLTokenDeleteRequest{AccessorIDs: []string{r.PathValue("accessor")}, Now: time.Now()})
	if err != nil {
		return err
	}
	return s.reply(w, idx, struct{}{})
}

func (s *Server) agentRoutes(w http.ResponseWriter, _ *http.Request) error {
	return s.reply(w, s.raft.Store().Snapshot().Index(), s.Routes())
}

// validACLName checks a policy name: letters, digits, - and _, at most
// 128 characters.
func validACLName(name string) error {
	if name == "" || len(name) > 128 {
		return errorf(http.StatusBadRequest, "policy name %q: want 1 to 128 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errorf(http.StatusBadRequest, "policy name %q: only letters, digits, - and _", name)
		}
	}
	return nil
}
