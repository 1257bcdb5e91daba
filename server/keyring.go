package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// The root keyring encrypts variables (Nomad's keyring): AES-256-GCM
// data keys, each with a key ID, replicated in Raft with the key sealed
// by the servers' key-encryption key exactly as the TLS keyring
// (tls_keyring.go) and the workload identity key (identity.go) are. The
// leader creates the first key on first need. A variable is encrypted
// on the server that takes the write (the leader) before the Raft
// apply, with its namespace and path as additional data, so that the
// log, the state store and snapshots hold only ciphertext and a
// ciphertext cannot be moved to another path.
//
// Rotation makes a new active key. With -full the old keys become
// "rekeying" and the leader re-encrypts their variables in bounded
// batches (runRekey), then deletes each key nothing uses any more;
// reads go on meanwhile with the old keys.
//
// A server without a KEK (its own PKI: tls { cert_file ... }) cannot
// hold the keyring and refuses variables, as it refuses to sign
// workload identities (errNoKEK).

// aadRootKey binds a sealed root key to its key ID.
const aadRootKey = "drover-root-key:"

// rekeyBatch is how many variables one rekey command carries: small
// enough that a Raft entry stays well under a megabyte even for 64 KiB
// variables, large enough that 1,000 variables take a few commands.
const rekeyBatch = 64

// rekeyInterval is how often the leader looks for rekeying keys when
// nothing kicked it (a rotation on a previous leader).
const rekeyInterval = 30 * time.Second

var errNoKEKVariables = errorf(http.StatusNotImplemented,
	"variables need the servers' key-encryption key (<data-dir>/tls/kek) to seal the root keyring, and this server has none: "+
		"servers using their own PKI (tls { cert_file ... }) need tls { kek_file }, the same file on every server (drover tls kek create makes one)")

// rootKeyring caches the unsealed data keys by key ID (a key's material
// never changes) and serialises the creation of the first key and
// rotations.
type rootKeyring struct {
	mu    sync.Mutex // creation, rotation
	cache sync.Map   // key ID -> cipher.AEAD
	kick  chan struct{}
	once  sync.Once
}

func (k *rootKeyring) kickC() chan struct{} {
	k.once.Do(func() { k.kick = make(chan struct{}, 1) })
	return k.kick
}

// rootAEAD returns the cipher of root key rk, unsealing it once.
func (s *Server) rootAEAD(rk *cluster.RootKey) (cipher.AEAD, error) {
	if a, ok := s.rootKeys.cache.Load(rk.KeyID); ok {
		return a.(cipher.AEAD), nil
	}
	kek := s.kek.Load()
	if kek == nil {
		return nil, errNoKEKVariables
	}
	key, err := pki.Open(*kek, rk.SealedKey, []byte(aadRootKey+rk.KeyID))
	if err != nil {
		return nil, fmt.Errorf("root key %s does not open with this server's KEK: %w", rk.KeyID, err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", rk.KeyID, err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.rootKeys.cache.Store(rk.KeyID, a)
	return a, nil
}

// newRootKey makes a random data key sealed with kek.
func newRootKey(kek [32]byte, st string, now time.Time) (*cluster.RootKey, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	defer clear(key)
	var id [16]byte
	_, _ = rand.Read(id[:])
	kid := hex.EncodeToString(id[:4]) + "-" + hex.EncodeToString(id[4:6]) + "-" + hex.EncodeToString(id[6:8]) + "-" +
		hex.EncodeToString(id[8:10]) + "-" + hex.EncodeToString(id[10:])
	sealed, err := pki.Seal(kek, key, []byte(aadRootKey+kid))
	if err != nil {
		return nil, err
	}
	return &cluster.RootKey{KeyID: kid, Algorithm: cluster.RootKeyAlgorithm, State: st, CreateTime: now.UTC(), SealedKey: sealed}, nil
}

// activeRootKey returns the key that encrypts, creating the keyring on
// first need (on the leader: writes are forwarded to it).
func (s *Server) activeRootKey(ctx context.Context) (*cluster.RootKey, cipher.AEAD, error) {
	kek := s.kek.Load()
	if kek == nil {
		return nil, nil, errNoKEKVariables
	}
	if rk := s.raft.Store().Snapshot().ActiveRootKey(); rk != nil {
		a, err := s.rootAEAD(rk)
		return rk, a, err
	}
	s.rootKeys.mu.Lock()
	defer s.rootKeys.mu.Unlock()
	if rk := s.raft.Store().Snapshot().ActiveRootKey(); rk != nil {
		a, err := s.rootAEAD(rk)
		return rk, a, err
	}
	rk, err := newRootKey(*kek, cluster.RootKeyActive, time.Now())
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.raft.RootKeyUpsert(ctx, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rk}, Now: time.Now()}); err != nil {
		return nil, nil, fmt.Errorf("create the root keyring: %w", err)
	}
	s.logger.Info("created the root key that encrypts variables, sealed in Raft", "key_id", rk.KeyID)
	rk = s.raft.Store().Snapshot().ActiveRootKey()
	if rk == nil {
		return nil, nil, errors.New("the root keyring is not applied yet; retry")
	}
	a, err := s.rootAEAD(rk)
	return rk, a, err
}

// variableAAD binds a ciphertext to its namespace and path.
func variableAAD(ns, path string) []byte {
	return []byte("drover-variable:" + ns + "\x00" + path)
}

// sealItems encrypts items for ns/path with root key rk's cipher a
// (rk names the key; the sealed-secrets reconciler calls this too).
func sealItems(_ *cluster.RootKey, a cipher.AEAD, ns, path string, items map[string]string) (data, nonce []byte, err error) {
	plain, err := json.Marshal(items)
	if err != nil {
		return nil, nil, err
	}
	defer clear(plain)
	nonce = make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return a.Seal(nil, nonce, plain, variableAAD(ns, path)), nonce, nil
}

// openVariable decrypts a stored variable with the keys of snap.
func (s *Server) openVariable(snap *state.Snapshot, v *cluster.VariableEncrypted) (*cluster.VariableDecrypted, error) {
	rk := snap.RootKey(v.KeyID)
	if rk == nil {
		return nil, fmt.Errorf("variable %s: its root key %s is gone", v.Path, v.KeyID)
	}
	a, err := s.rootAEAD(rk)
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, v.Nonce, v.Data, variableAAD(v.Namespace, v.Path))
	if err != nil {
		// Never the ciphertext or a value: only where it failed.
		return nil, fmt.Errorf("variable %s/%s does not decrypt with root key %s (tampered or moved)", v.Namespace, v.Path, v.KeyID)
	}
	defer clear(plain)
	out := &cluster.VariableDecrypted{VariableMetadata: v.VariableMetadata, Items: map[string]string{}}
	if err := json.Unmarshal(plain, &out.Items); err != nil {
		return nil, fmt.Errorf("variable %s/%s: decrypted items do not decode", v.Namespace, v.Path)
	}
	return out, nil
}

// rotateRootKey makes a new active key; with full, every older key
// becomes rekeying and the leader re-encrypts its variables.
func (s *Server) rotateRootKey(ctx context.Context, full bool) (*cluster.RootKey, error) {
	kek := s.kek.Load()
	if kek == nil {
		return nil, errNoKEKVariables
	}
	s.rootKeys.mu.Lock()
	defer s.rootKeys.mu.Unlock()
	now := time.Now()
	nk, err := newRootKey(*kek, cluster.RootKeyActive, now)
	if err != nil {
		return nil, err
	}
	req := &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{nk}, Now: now}
	for _, k := range s.raft.Store().Snapshot().RootKeys() {
		st := k.State
		switch {
		case full:
			st = cluster.RootKeyRekeying
		case st == cluster.RootKeyActive:
			st = cluster.RootKeyInactive
		}
		if st != k.State {
			c := k.Copy()
			c.State = st
			req.Keys = append(req.Keys, c)
		}
	}
	if _, err := s.raft.RootKeyUpsert(ctx, req); err != nil {
		return nil, fmt.Errorf("rotate the root keyring: %w", err)
	}
	s.logger.Info("rotated the root keyring", "key_id", nk.KeyID, "full", full)
	if full {
		select {
		case s.rootKeys.kickC() <- struct{}{}:
		default:
		}
	}
	return s.raft.Store().Snapshot().RootKey(nk.KeyID), nil
}

// runRekey is the leader duty that re-encrypts the variables of
// rekeying keys, then deletes those keys.
func (s *Server) runRekey(ctx context.Context) {
	t := time.NewTicker(rekeyInterval)
	defer t.Stop()
	for {
		if err := s.rekeyOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("re-encrypting variables after a full rotation; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.rootKeys.kickC():
		}
	}
}

// rekeyOnce drains every rekeying key, batch by batch.
func (s *Server) rekeyOnce(ctx context.Context) error {
	for {
		snap := s.raft.Store().Snapshot()
		var old *cluster.RootKey
		for _, k := range snap.RootKeys() {
			if k.State == cluster.RootKeyRekeying {
				old = k
				break
			}
		}
		if old == nil {
			return nil
		}
		vars := snap.VariablesByKey(old.KeyID, rekeyBatch)
		if len(vars) == 0 {
			if _, err := s.raft.RootKeyUpsert(ctx, &state.RootKeyUpsertRequest{Delete: []string{old.KeyID}, Now: time.Now()}); err != nil {
				return err
			}
			s.logger.Info("re-encrypted every variable of an old root key and deleted it", "key_id", old.KeyID)
			continue
		}
		rk, a, err := s.activeRootKey(ctx)
		if err != nil {
			return err
		}
		batch := make([]*cluster.VariableEncrypted, 0, len(vars))
		for _, v := range vars {
			dv, err := s.openVariable(snap, v)
			if err != nil {
				return err
			}
			data, nonce, err := sealItems(rk, a, v.Namespace, v.Path, dv.Items)
			clear(dv.Items)
			if err != nil {
				return err
			}
			nv := v.Copy()
			nv.Data, nv.Nonce, nv.KeyID = data, nonce, rk.KeyID
			batch = append(batch, nv)
		}
		if _, _, err := s.raft.VarApply(ctx, &state.VarApplyRequest{Op: state.VarOpRekey, Rekey: batch, Now: time.Now()}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// keyringList answers GET /v1/operator/keyring/keys (Nomad's shape: the
// keys' metadata, never their material).
func (s *Server) keyringList(w http.ResponseWriter, r *http.Request) error {
	snap := s.raft.Store().Snapshot()
	out := []api.RootKeyMeta{}
	for _, k := range snap.RootKeys() {
		out = append(out, rootKeyMeta(k))
	}
	return s.reply(w, snap.Index(state.TableRootKeys), out)
}

func rootKeyMeta(k *cluster.RootKey) api.RootKeyMeta {
	return api.RootKeyMeta{KeyID: k.KeyID, State: k.State, CreateTime: k.CreateTime.UnixNano(), CreateIndex: k.CreateIndex, ModifyIndex: k.ModifyIndex}
}

// keyringRotate answers PUT /v1/operator/keyring/rotate[?full=true].
func (s *Server) keyringRotate(w http.ResponseWriter, r *http.Request) error {
	full := false
	if v := r.URL.Query().Get("full"); v != "" {
		switch v {
		case "true", "1":
			full = true
		case "false", "0":
		default:
			return errorf(http.StatusBadRequest, "full=%q: want true or false", v)
		}
	}
	if s.kek.Load() == nil {
		return errNoKEKVariables
	}
	k, err := s.rotateRootKey(r.Context(), full)
	if err != nil {
		return err
	}
	// The age identity that opens sealed files in Git rotates with the
	// keyring (issue 16): new seals go to the new identity, and the old
	// ones stay until removed, so files already committed still open.
	if _, err := s.rotateSealKey(r.Context()); err != nil {
		return fmt.Errorf("the root key rotated, but the age key for sealed files did not: %w (run 'drover operator seal rotate')", err)
	}
	return s.reply(w, k.ModifyIndex, api.KeyringRotateResponse{Key: rootKeyMeta(k)})
}
