package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/workloadid"
)

// Workload identities (Nomad's): the servers sign, for each task of an
// allocation, a JWT naming its namespace, job, group, task and
// allocation, which the task receives as NOMAD_TOKEN and/or
// secrets/nomad_token when its identity block asks, and which anyone can
// verify against GET /.well-known/jwks.json.
//
// The signing key is an Ed25519 key the leader creates on first need and
// replicates in Raft (state.MsgIdentityKeySet) with its private half
// sealed by the servers' key-encryption key, exactly as the TLS keyring
// is (tls_keyring.go): a copy of the Raft log or a snapshot holds only
// public keys and ciphertext. The private key is never logged.
//
// An agent fetches its allocation's tokens with POST
// /v1/allocation/{id}/identity, authenticated by its node secret (and its
// client certificate over mutual TLS): a node gets tokens only for
// allocations placed on it. Signing happens on the leader (the route is
// forwarded), so only the leader needs the key in the clear.

// aadIdentityKey binds a sealed identity key to its key ID.
const aadIdentityKey = "drover-identity-key:"

// identityKeyCache is the leader's unsealed signing key, by keyring
// modify index.
type identityKeyCache struct {
	mu     sync.Mutex // serialises creation and unsealing
	index  uint64
	kid    string
	signer ed25519.PrivateKey
}

var errNoKEK = errors.New("workload identities need the servers' key-encryption key (<data-dir>/tls/kek) to seal the signing key, " +
	"and this server has none: servers using their own PKI (tls { cert_file ... }) need tls { kek_file }, " +
	"the same file on every server (drover tls kek create makes one)")

// identitySigner returns the key that signs workload identities,
// creating and replicating the keyring on first need (leader only).
func (s *Server) identitySigner(ctx context.Context) (string, ed25519.PrivateKey, error) {
	c := &s.idKeys
	c.mu.Lock()
	defer c.mu.Unlock()
	kek := s.kek.Load()
	if kek == nil {
		return "", nil, errNoKEK
	}
	kr := s.raft.Store().Snapshot().IdentityKeyring()
	if kr == nil {
		k, err := newIdentityKey(*kek, time.Now())
		if err != nil {
			return "", nil, err
		}
		_, err = s.raft.IdentityKeySet(ctx, &state.IdentityKeySetRequest{Keyring: &cluster.IdentityKeyring{Keys: []cluster.IdentityKey{k}}, Now: time.Now()})
		if err != nil && !errors.Is(err, state.ErrCASConflict) {
			return "", nil, fmt.Errorf("create the workload identity keyring: %w", err)
		}
		if err == nil {
			s.logger.Info("created the workload identity signing key, sealed in Raft", "kid", k.KeyID)
		}
		if kr = s.raft.Store().Snapshot().IdentityKeyring(); kr == nil {
			return "", nil, errors.New("the workload identity keyring is not applied yet; retry")
		}
	}
	if c.signer != nil && c.index == kr.ModifyIndex {
		return c.kid, c.signer, nil
	}
	active := kr.Active()
	seed, err := pki.Open(*kek, active.SealedPrivateKey, []byte(aadIdentityKey+active.KeyID))
	if err != nil {
		return "", nil, fmt.Errorf("the workload identity key %s does not open with this server's KEK: %w", active.KeyID, err)
	}
	if len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("the workload identity key %s is not an Ed25519 seed", active.KeyID)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(active.PublicKey)) {
		return "", nil, fmt.Errorf("the workload identity key %s does not match its public key", active.KeyID)
	}
	c.index, c.kid, c.signer = kr.ModifyIndex, active.KeyID, priv
	return c.kid, c.signer, nil
}

// newIdentityKey makes an Ed25519 key with its seed sealed by kek.
func newIdentityKey(kek [32]byte, now time.Time) (cluster.IdentityKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return cluster.IdentityKey{}, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	kid := hex.EncodeToString(id[:])
	sealed, err := pki.Seal(kek, priv.Seed(), []byte(aadIdentityKey+kid))
	if err != nil {
		return cluster.IdentityKey{}, err
	}
	return cluster.IdentityKey{KeyID: kid, PublicKey: pub, SealedPrivateKey: sealed, CreateTime: now}, nil
}

// jwks answers GET /.well-known/jwks.json: the public keys, on any
// server, with no token (as Nomad serves it).
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	snap := s.raft.Store().Snapshot()
	set := workloadid.JWKS{Keys: []workloadid.JWK{}}
	if kr := snap.IdentityKeyring(); kr != nil {
		for _, k := range kr.Keys {
			set.Keys = append(set.Keys, workloadid.PublicJWK(k.KeyID, k.PublicKey))
		}
	}
	w.Header().Set("Cache-Control", "max-age=60")
	return s.reply(w, snap.Index(state.TableIdentityKey), set)
}

// allocIdentity answers POST /v1/allocation/{id}/identity: the signed
// identities of the allocation's tasks, for the node that runs it.
func (s *Server) allocIdentity(w http.ResponseWriter, r *http.Request) error {
	var req api.AllocIdentityRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	snap := s.raft.Store().Snapshot()
	a := snap.Alloc(id)
	if a == nil {
		return errorf(http.StatusNotFound, "allocation %q not found", id)
	}
	if err := authAllocNode(snap, r, a); err != nil {
		return err
	}
	if a.Terminal() {
		return errorf(http.StatusBadRequest, "allocation %s is %s/%s: identities are signed only for allocations that run", id, a.DesiredStatus, a.ClientStatus)
	}
	job := snap.JobVersion(a.Namespace, a.JobID, a.JobVersion)
	if job == nil || job.Spec == nil || job.Spec.Group(a.TaskGroup) == nil {
		return errorf(http.StatusNotFound, "job %q version %d of allocation %s is gone", a.JobID, a.JobVersion, id)
	}
	kid, priv, err := s.identitySigner(r.Context())
	if err != nil {
		return err
	}
	region := job.Spec.Region
	if region == "" {
		region = s.cfg.Region
	}
	now := time.Now()
	resp := &api.AllocIdentityResponse{Identities: []api.SignedIdentity{}}
	for _, t := range job.Spec.Group(a.TaskGroup).Tasks {
		if len(req.Tasks) > 0 && !slices.Contains(req.Tasks, t.Name) {
			continue
		}
		tg := workloadid.Target{Region: region, Namespace: a.Namespace, JobID: a.JobID, Group: a.TaskGroup, Task: t.Name, AllocID: a.ID}
		for _, wi := range workloadid.TaskIdentities(t) {
			c := workloadid.ClaimsFor(tg, wi, now, newID())
			tok, err := workloadid.Sign(kid, priv, c)
			if err != nil {
				return fmt.Errorf("sign identity %s of task %s: %w", wi.Name, t.Name, err)
			}
			si := api.SignedIdentity{Task: t.Name, Name: wi.Name, JWT: tok, Env: wi.Env, File: wi.File}
			if c.Expiry != 0 {
				si.Expiration = time.Unix(c.Expiry, 0).UTC()
			}
			resp.Identities = append(resp.Identities, si)
		}
	}
	return s.reply(w, snap.Index(), resp)
}

// authAllocNode lets only the node an allocation is placed on act for
// it: the request must carry that node's secret, and a client
// certificate, when there is one, must be that node's.
func authAllocNode(snap *state.Snapshot, r *http.Request, a *cluster.Allocation) error {
	if err := checkNodePeer(r, a.NodeID); err != nil {
		return err
	}
	n := snap.Node(a.NodeID)
	secret := r.Header.Get(api.HeaderNodeSecret)
	switch {
	case n == nil:
		return errorf(http.StatusNotFound, "allocation %s: its node is gone", a.ID)
	case secret == "":
		return errorf(http.StatusForbidden, "allocation %s: this route needs the node secret of the node it runs on (header %s)", a.ID, api.HeaderNodeSecret)
	case n.SecretHash == "" || !n.SecretMatches(secret):
		return errorf(http.StatusForbidden, "allocation %s is not on the node whose secret was sent", a.ID)
	}
	return nil
}
