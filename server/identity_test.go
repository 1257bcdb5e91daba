package server_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/workloadid"
)

const identityJob = `
job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      identity {
        env  = true
        file = true
      }
      identity {
        name = "vault"
        aud  = ["vault.io"]
        ttl  = "1h"
        file = true
      }
    }
  }
}
`

// fetchJWKS reads the public key set with no token, as a verifier would.
func fetchJWKS(t *testing.T, s *servertest.Server) workloadid.JWKS {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set workloadid.JWKS
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %v", resp.StatusCode, err)
	}
	return set
}

// TestWorkloadIdentity: the node an allocation runs on gets its tasks'
// signed identities, with Nomad's claims, verifiable against the public
// JWKS; another node cannot get them (the attack), nor can a request
// without the node secret; a forged token fails verification; and the
// signing key is in Raft and in snapshots only sealed.
func TestWorkloadIdentity(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	nodes := registerNodes(t, s.Client, 2)
	if set := fetchJWKS(t, s); len(set.Keys) != 0 {
		t.Fatalf("a key before any identity was asked for: %+v", set)
	}
	job := parseJob(t, identityJob)
	if len(job.Groups[0].Tasks[0].Identities) != 2 {
		t.Fatalf("identity blocks did not parse: %+v", job.Groups[0].Tasks[0].Identities)
	}
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")
	allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
	if err != nil || len(liveAllocs(allocs)) != 1 {
		t.Fatalf("allocations %v %v", allocs, err)
	}
	a := liveAllocs(allocs)[0]
	owner, other := nodes[0].ID, nodes[1].ID
	if a.NodeID != owner {
		owner, other = other, owner
	}

	// The attack: another node's secret, or none, gets nothing.
	if _, err := asNode(s.Client, other).Allocations().Identities(ctx, a.ID, nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("another node's identity request: %v, want 403", err)
	}
	if _, err := s.Client.Allocations().Identities(ctx, a.ID, nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("identity request without a node secret: %v, want 403", err)
	}

	resp, err := asNode(s.Client, owner).Allocations().Identities(ctx, a.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Identities) != 2 {
		t.Fatalf("identities %+v", resp.Identities)
	}
	set := fetchJWKS(t, s)
	if len(set.Keys) != 1 || set.Keys[0].KeyType != "OKP" || set.Keys[0].Curve != "Ed25519" || set.Keys[0].Alg != "EdDSA" {
		t.Fatalf("jwks %+v", set)
	}
	now := time.Now()
	def, named := resp.Identities[0], resp.Identities[1]
	c, err := workloadid.Verify(def.JWT, set, now, workloadid.DefaultAudience)
	if err != nil {
		t.Fatalf("default identity: %v", err)
	}
	if c.Subject != "global:default:web:web:server:default" || c.AllocationID != a.ID || c.JobID != "web" || c.TaskName != "server" ||
		c.Namespace != "default" || c.Expiry != 0 || !def.Env || !def.File {
		t.Fatalf("default identity claims %+v (%+v)", c, def)
	}
	c, err = workloadid.Verify(named.JWT, set, now, "vault.io")
	if err != nil || c.Subject != "global:default:web:web:server:vault" || c.Expiry == 0 || named.Env || !named.File {
		t.Fatalf("vault identity %+v %v", c, err)
	}
	if _, err := workloadid.Verify(named.JWT, set, now.Add(2*time.Hour), ""); !errors.Is(err, workloadid.ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	// A token signed by any other key, under the servers' kid, fails.
	_, forger, _ := ed25519.GenerateKey(nil)
	forged, _ := workloadid.Sign(set.Keys[0].KeyID, forger, c)
	if _, err := workloadid.Verify(forged, set, now, ""); !errors.Is(err, workloadid.ErrSignature) {
		t.Fatalf("forged token: %v", err)
	}

	// The private key: sealed with the KEK in the keyring, and nowhere in
	// the clear, neither in the Raft log nor in a snapshot.
	kr := s.State().Store().Snapshot().IdentityKeyring()
	kekText, err := os.ReadFile(filepath.Join(s.Config.DataDir, "tls", "kek"))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := pki.ParseKEK(string(kekText))
	if err != nil {
		t.Fatal(err)
	}
	k := kr.Active()
	seed, err := pki.Open(kek, k.SealedPrivateKey, []byte("drover-identity-key:"+k.KeyID))
	if err != nil || !ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(k.PublicKey)) {
		t.Fatalf("the sealed key does not open with the KEK to the public key: %v", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	forms := map[string][]byte{
		"raw seed": seed, "raw private key": priv,
		"base64 seed": []byte(base64.StdEncoding.EncodeToString(seed)), "base64 key": []byte(base64.StdEncoding.EncodeToString(priv)),
		"base64url seed": []byte(base64.RawURLEncoding.EncodeToString(seed)), "hex seed": []byte(hex.EncodeToString(seed)),
	}
	var snap bytes.Buffer
	if _, err := s.Client.Operator().SnapshotSave(ctx, &snap, nil); err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"snapshot": snap.Bytes()}
	_ = filepath.WalkDir(s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "kek") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			blobs[p] = b
		}
		return nil
	})
	if len(blobs) < 2 {
		t.Fatalf("found nothing to scan in %s", s.Config.DataDir)
	}
	for where, b := range blobs {
		for form, secret := range forms {
			if bytes.Contains(b, secret) {
				t.Errorf("the identity signing key (%s) is in the clear in %s", form, where)
			}
		}
	}
}
