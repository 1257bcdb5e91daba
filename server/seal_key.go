package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
	"github.com/droverhq/drover/state"
)

// Sealed secrets (issue 16): `drover var seal` encrypts a variable's
// items to the cluster's age X25519 recipients and writes a
// PATH.sealed.hcl file that is safe to commit; the reconciler of a Git
// source hands a commit's sealed files to the leader, which opens them
// with the cluster's age identities and writes them as variables (under
// the root keyring, as any variable) before the commit's jobs.
//
// The identities are replicated in Raft (state.MsgSealApply) sealed by
// the servers' key-encryption key, exactly as the workload identity and
// TLS keyrings are: a copy of the Raft log or of a snapshot opens no
// sealed file. The leader creates the first identity on first need (the
// first GET /v1/operator/seal/recipients or the first sealed file).
// `drover operator seal rotate` adds an identity that new seals encrypt
// to; the old ones keep opening the files already in Git until removed
// with `drover operator seal remove`.

// aadSealKey binds a sealed age identity to its recipient.
const aadSealKey = "drover-seal-key:"

var errNoKEKSeal = errors.New("sealed variables need the servers' key-encryption key (<data-dir>/tls/kek) to keep the cluster's age identities, " +
	"and this server has none: servers using their own PKI (tls { cert_file ... }) need tls { kek_file }, the same file on every server (drover tls kek create makes one)")

// sealKeyCache is the unsealed age identities, by keyring modify index.
type sealKeyCache struct {
	mu    sync.Mutex // creation, rotation, unsealing
	index uint64
	keys  repo.SealKeys
}

func (s *Server) sealCache() *sealKeyCache { return &s.ageKeys }

// newSealKey makes an age X25519 identity sealed with kek.
func newSealKey(kek [32]byte, now time.Time) (cluster.SealKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return cluster.SealKey{}, err
	}
	rcp := id.Recipient().String()
	secret := []byte(id.String())
	defer clear(secret)
	sealed, err := pki.Seal(kek, secret, []byte(aadSealKey+rcp))
	if err != nil {
		return cluster.SealKey{}, err
	}
	return cluster.SealKey{Recipient: rcp, SealedIdentity: sealed, CreateTime: now.UTC()}, nil
}

// ageKeyring returns the keyring, creating it on first need when
// create is set (on the leader: the callers are forwarded to it).
func (s *Server) ageKeyring(ctx context.Context, create bool) (*cluster.SealKeyring, error) {
	if kr := s.raft.Store().Snapshot().SealKeyring(); kr != nil || !create {
		return kr, nil
	}
	kek := s.kek.Load()
	if kek == nil {
		return nil, errNoKEKSeal
	}
	c := s.sealCache()
	c.mu.Lock()
	defer c.mu.Unlock()
	if kr := s.raft.Store().Snapshot().SealKeyring(); kr != nil {
		return kr, nil
	}
	k, err := newSealKey(*kek, time.Now())
	if err != nil {
		return nil, err
	}
	_, err = s.raft.SealKeySet(ctx, &state.SealKeySetRequest{Keyring: &cluster.SealKeyring{Keys: []cluster.SealKey{k}}, Now: time.Now()})
	if err != nil && !errors.Is(err, state.ErrCASConflict) {
		return nil, fmt.Errorf("create the seal keyring: %w", err)
	}
	if err == nil {
		s.logger.Info("created the age key of sealed variables, sealed in Raft", "fingerprint", k.Fingerprint())
	}
	kr := s.raft.Store().Snapshot().SealKeyring()
	if kr == nil {
		return nil, errors.New("the seal keyring is not applied yet; retry")
	}
	return kr, nil
}

// sealKeys returns the unsealed identities of the keyring, newest first
// (the one most files are sealed to), or none when there is no keyring.
func (s *Server) sealKeys(kr *cluster.SealKeyring) (repo.SealKeys, error) {
	if kr == nil {
		return repo.SealKeys{}, nil
	}
	c := s.sealCache()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index == kr.ModifyIndex && len(c.keys.Identities) > 0 {
		return c.keys, nil
	}
	kek := s.kek.Load()
	if kek == nil {
		return repo.SealKeys{}, errNoKEKSeal
	}
	var out repo.SealKeys
	for i := len(kr.Keys) - 1; i >= 0; i-- {
		k := kr.Keys[i]
		secret, err := pki.Open(*kek, k.SealedIdentity, []byte(aadSealKey+k.Recipient))
		if err != nil {
			return repo.SealKeys{}, fmt.Errorf("the age key %s does not open with this server's KEK: %w", k.Fingerprint(), err)
		}
		id, err := age.ParseX25519Identity(string(secret))
		clear(secret)
		if err != nil {
			return repo.SealKeys{}, fmt.Errorf("the age key %s is not an X25519 identity", k.Fingerprint())
		}
		if subtle.ConstantTimeCompare([]byte(id.Recipient().String()), []byte(k.Recipient)) != 1 {
			return repo.SealKeys{}, fmt.Errorf("the age key %s does not match its recipient", k.Fingerprint())
		}
		out.Identities = append(out.Identities, id)
		out.Fingerprints = append(out.Fingerprints, k.Fingerprint())
	}
	c.index, c.keys = kr.ModifyIndex, out
	return out, nil
}

// rotateSealKey adds a new identity that new seals encrypt to.
func (s *Server) rotateSealKey(ctx context.Context) (*cluster.SealKeyring, error) {
	kek := s.kek.Load()
	if kek == nil {
		return nil, errNoKEKSeal
	}
	kr, err := s.ageKeyring(ctx, false)
	if err != nil {
		return nil, err
	}
	k, err := newSealKey(*kek, time.Now())
	if err != nil {
		return nil, err
	}
	next := &cluster.SealKeyring{Keys: []cluster.SealKey{k}}
	var cas uint64
	if kr != nil {
		if len(kr.Keys) >= state.MaxSealKeys {
			return nil, errorf(http.StatusConflict, "the seal keyring holds %d keys, the most it can: remove an old one first (drover operator seal remove FINGERPRINT)", len(kr.Keys))
		}
		next = kr.Copy()
		next.Keys = append(next.Keys, k)
		cas = kr.ModifyIndex
	}
	if _, err := s.raft.SealKeySet(ctx, &state.SealKeySetRequest{Keyring: next, CASIndex: cas, Now: time.Now()}); err != nil {
		return nil, err
	}
	s.logger.Info("rotated the age key of sealed variables", "fingerprint", k.Fingerprint())
	return s.raft.Store().Snapshot().SealKeyring(), nil
}

// removeSealKey removes an old identity; the active one stays.
func (s *Server) removeSealKey(ctx context.Context, fp string) (*cluster.SealKeyring, error) {
	kr := s.raft.Store().Snapshot().SealKeyring()
	if kr == nil {
		return nil, errorf(http.StatusNotFound, "the cluster has no age key yet")
	}
	i := slices.IndexFunc(kr.Keys, func(k cluster.SealKey) bool { return k.Fingerprint() == fp })
	switch {
	case i < 0:
		return nil, errorf(http.StatusNotFound, "no age key %s; the cluster has %s", fp, strings.Join(kr.Fingerprints(), ", "))
	case i == len(kr.Keys)-1:
		return nil, errorf(http.StatusConflict, "age key %s is the active one: rotate first (drover operator seal rotate)", fp)
	}
	next := kr.Copy()
	next.Keys = slices.Delete(next.Keys, i, i+1)
	if _, err := s.raft.SealKeySet(ctx, &state.SealKeySetRequest{Keyring: next, CASIndex: kr.ModifyIndex, Now: time.Now()}); err != nil {
		return nil, err
	}
	s.logger.Info("removed an age key of sealed variables: files sealed only to it no longer open", "fingerprint", fp)
	return s.raft.Store().Snapshot().SealKeyring(), nil
}

func sealRecipients(kr *cluster.SealKeyring) api.SealRecipientsResponse {
	out := api.SealRecipientsResponse{Recipients: []api.SealRecipient{}}
	if kr == nil {
		return out
	}
	for i, k := range kr.Keys {
		out.Recipients = append(out.Recipients, api.SealRecipient{
			Recipient: k.Recipient, Fingerprint: k.Fingerprint(), Active: i == len(kr.Keys)-1, CreateTime: k.CreateTime.UnixNano(),
		})
	}
	out.Index = kr.ModifyIndex
	return out
}

// sealRoutes registers the seal key routes. The recipients are public
// keys, but the route creates the first key, so it is served by the
// leader and asks for a valid token (any) when ACLs are on.
func (s *Server) sealRoutes(mux *router) {
	mux.handle("GET /v1/operator/seal/recipients", CapAnyToken, s.write(s.sealRecipientsGet))
	mux.handle("PUT /v1/operator/seal/rotate", CapOperatorWrite, s.write(s.sealRotate))
	mux.handle("POST /v1/operator/seal/rotate", CapOperatorWrite, s.write(s.sealRotate))
	mux.handle("DELETE /v1/operator/seal/key/{fingerprint}", CapOperatorWrite, s.write(s.sealRemove))
}

func (s *Server) sealRecipientsGet(w http.ResponseWriter, r *http.Request) error {
	kr, err := s.ageKeyring(r.Context(), true)
	if err != nil {
		return err
	}
	return s.reply(w, kr.ModifyIndex, sealRecipients(kr))
}

func (s *Server) sealRotate(w http.ResponseWriter, r *http.Request) error {
	kr, err := s.rotateSealKey(r.Context())
	if err != nil {
		return err
	}
	return s.reply(w, kr.ModifyIndex, sealRecipients(kr))
}

func (s *Server) sealRemove(w http.ResponseWriter, r *http.Request) error {
	fp := r.PathValue("fingerprint")
	if len(fp) > 64 {
		return errorf(http.StatusBadRequest, "fingerprint too long")
	}
	kr, err := s.removeSealKey(r.Context(), fp)
	if err != nil {
		return err
	}
	return s.reply(w, kr.ModifyIndex, sealRecipients(kr))
}

var _ reconciler.SealedStore = (*raftCluster)(nil)

// ApplySealed opens a commit's sealed files and writes what changed in
// one Raft command (reconciler.SealedStore). It runs on the leader (the
// reconciler is a leader duty).
func (c *raftCluster) ApplySealed(ctx context.Context, in reconciler.SealedInput) (reconciler.SealedResult, hcl.Diagnostics, error) {
	res, req, diags, err := c.s.planSealed(ctx, in, true)
	if err != nil || diags.HasErrors() || req == nil {
		return res, diags, err
	}
	if _, err := c.s.raft.SealedVarsApply(ctx, req); err != nil {
		return reconciler.SealedResult{}, nil, conflict(err)
	}
	return res, nil, nil
}

// previewSealed is the sealed variables' part of a pull request's plan
// (github_preview.go): what the commit would change, compared with the
// stored variables after decryption; nothing is written. A file that
// does not open is a diagnostic of the comment.
func (s *Server) previewSealed(ctx context.Context, name string, r *repo.Repo) ([]render.SealedNote, hcl.Diagnostics) {
	var managed []string
	if st := s.raft.Store().Snapshot().SyncStatus(name); st != nil {
		managed = st.SealedVariables
	}
	res, _, diags, err := s.planSealed(ctx, reconciler.SealedInput{Source: name, Vars: r.Sealed, Managed: managed, Prune: r.Config.Prune}, false)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Sealed variables not compared", Detail: err.Error()}}
	}
	return res.Notes, diags
}

// planSealed opens in.Vars and compares them with the stored variables.
// With write it also encrypts what changed under the root keyring and
// returns the Raft command (nil when nothing changed).
func (s *Server) planSealed(ctx context.Context, in reconciler.SealedInput, write bool) (reconciler.SealedResult, *state.SealedVarsRequest, hcl.Diagnostics, error) {
	var res reconciler.SealedResult
	var keys repo.SealKeys
	if len(in.Vars) > 0 {
		// A cluster that has never been asked for its recipients has no
		// key yet: no file can be sealed to it, and the error says so.
		kr, err := s.ageKeyring(ctx, false)
		if err != nil {
			return res, nil, nil, err
		}
		if keys, err = s.sealKeys(kr); err != nil {
			return res, nil, nil, err
		}
	}
	var diags hcl.Diagnostics
	opened := make([]map[string]string, len(in.Vars))
	for i, v := range in.Vars {
		items, d := v.Open(keys)
		diags = append(diags, d...)
		opened[i] = items
	}
	defer func() {
		for _, items := range opened {
			clear(items)
		}
	}()
	if diags.HasErrors() {
		return res, nil, diags, nil
	}
	snap := s.raft.Store().Snapshot()
	req := &state.SealedVarsRequest{Source: in.Source, Commit: in.Commit, Now: time.Now()}
	seen := map[string]bool{}
	for i, v := range in.Vars {
		id := v.Namespace + "/" + v.Path
		seen[id] = true
		res.Managed = append(res.Managed, id)
		note := render.SealedNote{Namespace: v.Namespace, Path: v.Path}
		if cur := snap.Variable(v.Namespace, v.Path); cur != nil {
			dec, err := s.openVariable(snap, cur)
			if err != nil {
				return res, nil, nil, err
			}
			note.Changed = changedItems(dec.Items, opened[i])
			clear(dec.Items)
			if note.Changed == 0 {
				continue
			}
		} else {
			note.Created, note.Changed = true, len(opened[i])
		}
		res.Notes = append(res.Notes, note)
		if !write {
			continue
		}
		rk, aead, err := s.activeRootKey(ctx)
		if err != nil {
			return res, nil, nil, err
		}
		data, nonce, err := sealItems(rk, aead, v.Namespace, v.Path, opened[i])
		if err != nil {
			return res, nil, nil, err
		}
		req.Set = append(req.Set, &cluster.VariableEncrypted{
			VariableMetadata: cluster.VariableMetadata{Namespace: v.Namespace, Path: v.Path},
			Data:             data, KeyID: rk.KeyID, Nonce: nonce,
		})
	}
	if in.Prune {
		for _, id := range in.Managed {
			ns, p, ok := strings.Cut(id, "/")
			if !ok || seen[id] || snap.Variable(ns, p) == nil {
				continue
			}
			req.Delete = append(req.Delete, &cluster.VariableEncrypted{VariableMetadata: cluster.VariableMetadata{Namespace: ns, Path: p}})
			res.Notes = append(res.Notes, render.SealedNote{Namespace: ns, Path: p, Deleted: true})
		}
	}
	slices.Sort(res.Managed)
	if !write || len(req.Set)+len(req.Delete) == 0 {
		return res, nil, nil, nil
	}
	return res, req, nil, nil
}

// changedItems counts the items added, removed or changed between two
// versions, comparing values in constant time.
func changedItems(old, cur map[string]string) int {
	n := 0
	for k, v := range cur {
		if o, ok := old[k]; !ok || subtle.ConstantTimeCompare([]byte(o), []byte(v)) != 1 {
			n++
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			n++
		}
	}
	return n
}
