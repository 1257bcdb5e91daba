package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// The cluster CA's key and the join tokens are replicated in Raft (the
// TLS keyring, cluster.TLSKeyring), sealed with a key-encryption key
// (KEK) that only servers hold, in <data-dir>/tls/kek (mode 0600). So
// any server can sign a joining server's or agent's certificate, renew
// one, check a join token and rotate it, and a copy of the Raft log or a
// snapshot holds no usable secret without the KEK.
//
// The server that creates the CA creates the KEK too and, once it leads,
// publishes the keyring (publishKeyring). A server that joins with the
// server join token receives the KEK with its certificate, over TLS
// pinned to the CA the token names. Agents never receive it.
//
// Until the keyring is published (or for a server without the KEK) the
// CA holder's own files (<data-dir>/tls/ca-key.pem and the token files)
// serve, and other servers forward to it (forwardToCA).

// kekFile holds the KEK in the TLS directory.
const kekFile = "kek"

// clientJoinTokFile holds the client join token, beside the server's.
const clientJoinTokFile = "client.join-token"

// Additional data of each sealed part, so that one sealed value cannot
// be passed off as another.
const (
	aadCAKey       = "drover-keyring-ca-key"
	aadServerToken = "drover-keyring-server-token"
	aadClientToken = "drover-keyring-client-token"
)

// joinTokenFile is where a server keeps the join token of role.
func joinTokenFile(dataDir string, role pki.Role) string {
	if role == pki.RoleClient {
		return filepath.Join(dataDir, clientJoinTokFile)
	}
	return filepath.Join(dataDir, serverJoinTokFile)
}

// openedKeyring is the keyring of one modify index, unsealed.
type openedKeyring struct {
	index  uint64
	ca     *pki.CA
	tokens map[pki.Role]pki.JoinToken
}

// loadKEK reads the KEK if this server has one.
func (s *Server) loadKEK(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, kekFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	kek, err := pki.ParseKEK(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("tls: %s: %w", filepath.Join(dir, kekFile), err)
	}
	s.kek.Store(&kek)
	return nil
}

// maxKEKFile bounds what loadKEKFile reads: the key's line is 56 bytes.
const maxKEKFile = 4 << 10

// loadKEKFile reads the operator's KEK (tls { kek_file }) of a cluster
// with its own PKI. Like ssh with a private key, it refuses a file that
// others may read or write: whoever reads it opens every variable.
func (s *Server) loadKEKFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tls: kek_file: %w (drover tls kek create makes one; copy the same file to every server)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tls: kek_file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("tls: kek_file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("tls: kek_file %s has mode %04o: others may read the key that opens every variable; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKEKFile+1))
	if err != nil {
		return fmt.Errorf("tls: kek_file: %w", err)
	}
	if len(b) > maxKEKFile {
		return fmt.Errorf("tls: kek_file %s is larger than %d bytes: it is not a key made by drover tls kek create", path, maxKEKFile)
	}
	kek, err := pki.ParseKEK(string(b))
	if err != nil {
		return fmt.Errorf("tls: kek_file %s: %w (drover tls kek create makes one)", path, err)
	}
	s.kek.Store(&kek)
	return nil
}

// storeKEK writes and keeps a KEK.
func (s *Server) storeKEK(kek [32]byte) error {
	dir := filepath.Join(s.cfg.DataDir, tlsDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, kekFile), []byte(pki.EncodeKEK(kek)+"\n"), 0o600); err != nil {
		return err
	}
	s.kek.Store(&kek)
	return nil
}

// keyring returns the replicated keyring, unsealed, or nil if there is
// none yet or this server has no KEK. It is unsealed once per modify
// index.
func (s *Server) keyring() *openedKeyring {
	kek := s.kek.Load()
	if kek == nil || s.raft == nil {
		return nil
	}
	kr := s.raft.Store().Snapshot().TLSKeyring()
	if kr == nil {
		return nil
	}
	if c := s.openKeyring.Load(); c != nil && c.index == kr.ModifyIndex {
		return c
	}
	opened, err := unsealKeyring(*kek, kr)
	if err != nil {
		s.logger.Error("the replicated TLS keyring does not open with this server's KEK; signing falls back to the CA holder", "err", err)
		return nil
	}
	s.openKeyring.Store(opened)
	s.refreshTokenFiles(opened)
	return opened
}

func unsealKeyring(kek [32]byte, kr *cluster.TLSKeyring) (*openedKeyring, error) {
	keyPEM, err := pki.Open(kek, kr.SealedCAKey, []byte(aadCAKey))
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	ca, err := pki.LoadCA([]byte(kr.CACert), keyPEM)
	if err != nil {
		return nil, err
	}
	out := &openedKeyring{index: kr.ModifyIndex, ca: ca, tokens: map[pki.Role]pki.JoinToken{}}
	for _, p := range []struct {
		role   pki.Role
		sealed []byte
		aad    string
	}{{pki.RoleServer, kr.SealedServerToken, aadServerToken}, {pki.RoleClient, kr.SealedClientToken, aadClientToken}} {
		if len(p.sealed) == 0 {
			continue
		}
		b, err := pki.Open(kek, p.sealed, []byte(p.aad))
		if err != nil {
			return nil, fmt.Errorf("%s join token: %w", p.role, err)
		}
		tok, err := pki.ParseJoinToken(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s join token: %w", p.role, err)
		}
		out.tokens[p.role] = tok
	}
	return out, nil
}

// refreshTokenFiles rewrites the join token files this server keeps
// when the replicated tokens changed (rotated on another server).
func (s *Server) refreshTokenFiles(kr *openedKeyring) {
	for role, tok := range kr.tokens {
		path := joinTokenFile(s.cfg.DataDir, role)
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) == tok.String() {
			continue // a server keeps only the files it has
		}
		if err := atomicfile.Write(path, []byte(tok.String()+"\n"), 0o600); err != nil {
			s.logger.Warn("could not update the join token file", "path", path, "err", err)
		}
	}
}

// signer returns the cluster CA this server can sign with: its own CA
// key, or the replicated one; nil if neither.
func (s *Server) signer() *pki.CA {
	if ca := s.ca.Load(); ca != nil {
		return ca
	}
	if kr := s.keyring(); kr != nil {
		return kr.ca
	}
	return nil
}

// joinToken returns the current join token of role, or nil if this
// server cannot tell.
func (s *Server) joinToken(role pki.Role) *pki.JoinToken {
	if kr := s.keyring(); kr != nil {
		if tok, ok := kr.tokens[role]; ok {
			return &tok
		}
	}
	return s.localToken(role).Load()
}

func (s *Server) localToken(role pki.Role) *atomicToken {
	if role == pki.RoleClient {
		return &s.clientToken
	}
	return &s.serverToken
}

// publishKeyring writes the keyring to Raft once, from the server that
// holds the CA key, when it leads. A server that created its CA before
// keyrings existed makes its KEK now.
func (s *Server) publishKeyring(ctx context.Context) error {
	ca := s.ca.Load()
	if ca == nil || s.raft.Store().Snapshot().TLSKeyring() != nil {
		return nil
	}
	kek := s.kek.Load()
	if kek == nil {
		k, err := pki.NewKEK()
		if err != nil {
			return err
		}
		if err := s.storeKEK(k); err != nil {
			return err
		}
		kek = &k
	}
	kr, err := s.sealKeyring(*kek, ca, nil)
	if err != nil {
		return err
	}
	_, err = s.raft.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: kr})
	if errors.Is(err, state.ErrCASConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish the TLS keyring: %w", err)
	}
	s.logger.Info("replicated the cluster CA and join tokens, sealed, so that every server can sign")
	return nil
}

// sealKeyring seals ca and the join tokens (this server's current ones,
// with override replacing one) into a keyring record.
func (s *Server) sealKeyring(kek [32]byte, ca *pki.CA, override *pki.JoinToken) (*cluster.TLSKeyring, error) {
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	kr := &cluster.TLSKeyring{CACert: string(ca.CertPEM())}
	if kr.SealedCAKey, err = pki.Seal(kek, keyPEM, []byte(aadCAKey)); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		role pki.Role
		dst  *[]byte
		aad  string
	}{{pki.RoleServer, &kr.SealedServerToken, aadServerToken}, {pki.RoleClient, &kr.SealedClientToken, aadClientToken}} {
		tok := s.joinToken(p.role)
		if override != nil && override.Role == p.role {
			tok = override
		}
		if tok == nil {
			continue
		}
		if *p.dst, err = pki.Seal(kek, []byte(tok.String()), []byte(p.aad)); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// HoldsCA reports whether this server keeps the cluster CA's key in its
// data dir (the server that created the cluster).
func (s *Server) HoldsCA() bool { return s.ca.Load() != nil }

// JoinTokenFile is where a server keeps the join token of role
// ("server" or "client").
func JoinTokenFile(dataDir, role string) string { return joinTokenFile(dataDir, pki.Role(role)) }
