package workloadid

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/jobspec"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKey(t *testing.T, seed byte) (ed25519.PrivateKey, JWK) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	priv := ed25519.NewKeyFromSeed(s)
	return priv, PublicJWK("k"+string(rune('a'+seed)), priv.Public().(ed25519.PublicKey))
}

func part(s string, i int) string { return strings.Split(s, ".")[i] }

func TestSignVerify(t *testing.T) {
	priv, jwk := testKey(t, 1)
	other, otherJWK := testKey(t, 2)
	keys := JWKS{Keys: []JWK{jwk}}
	wi := jobspec.WorkloadIdentity{Name: "vault", Audience: []string{"vault.io"}, TTL: time.Hour}
	tg := Target{Region: "global", Namespace: "default", JobID: "web", Group: "g", Task: "server", AllocID: "a1"}
	good, err := Sign(jwk.KeyID, priv, ClaimsFor(tg, wi, t0, "j1"))
	if err != nil {
		t.Fatal(err)
	}
	noTTL, _ := Sign(jwk.KeyID, priv, ClaimsFor(tg, jobspec.WorkloadIdentity{}, t0, "j2"))
	byOther, _ := Sign(jwk.KeyID, other, ClaimsFor(tg, wi, t0, "j3")) // another key claiming kid a
	underOtherKid, _ := Sign(otherJWK.KeyID, other, ClaimsFor(tg, wi, t0, "j4"))
	noneHeader := b64.EncodeToString([]byte(`{"alg":"none","kid":"` + jwk.KeyID + `","typ":"JWT"}`))
	evil := ClaimsFor(tg, wi, t0, "j5")
	evil.JobID = "admin"
	evilPayload, _ := json.Marshal(evil)

	for _, tc := range []struct {
		name  string
		token string
		now   time.Time
		aud   string
		want  error
	}{
		{"valid", good, t0.Add(time.Minute), "vault.io", nil},
		{"valid without audience check", good, t0, "", nil},
		{"default identity has no exp", noTTL, t0.Add(1000 * time.Hour), DefaultAudience, nil},
		{"expired", good, t0.Add(time.Hour), "", ErrExpired},
		{"not yet valid", good, t0.Add(-time.Minute), "", ErrNotYet},
		{"wrong audience", good, t0, "consul.io", ErrAudience},
		{"signed by another key under our kid", byOther, t0, "", ErrSignature},
		{"unknown kid", underOtherKid, t0, "", ErrSignature},
		{"alg none", noneHeader + "." + part(good, 1) + ".", t0, "", ErrSignature},
		{"alg none with our signature", noneHeader + "." + part(good, 1) + "." + part(good, 2), t0, "", ErrSignature},
		{"payload swapped", part(good, 0) + "." + b64.EncodeToString(evilPayload) + "." + part(good, 2), t0, "", ErrSignature},
		{"two parts", part(good, 0) + "." + part(good, 1), t0, "", ErrMalformed},
		{"huge", strings.Repeat("a", MaxTokenBytes+1), t0, "", ErrMalformed},
		{"garbage", "a.b.c", t0, "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.token, keys, tc.now, tc.aud)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil && (c.JobID != "web" || c.AllocationID != "a1" || c.TaskName != "server") {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestClaimsFor(t *testing.T) {
	tg := Target{Region: "eu", Namespace: "prod", JobID: "web", Group: "frontend", Task: "server", AllocID: "a1"}
	for _, tc := range []struct {
		name    string
		wi      jobspec.WorkloadIdentity
		sub     string
		aud     []string
		exp     int64
		env, fn string
	}{
		{"implicit default", jobspec.WorkloadIdentity{}, "eu:prod:web:frontend:server:default", []string{DefaultAudience}, 0, "NOMAD_TOKEN", "nomad_token"},
		{"default with aud and ttl", jobspec.WorkloadIdentity{Name: "default", Audience: []string{"x"}, TTL: time.Hour}, "eu:prod:web:frontend:server:default", []string{"x"}, t0.Add(time.Hour).Unix(), "NOMAD_TOKEN", "nomad_token"},
		{"named", jobspec.WorkloadIdentity{Name: "vault", Audience: []string{"vault.io"}}, "eu:prod:web:frontend:server:vault", []string{"vault.io"}, 0, "NOMAD_TOKEN_vault", "nomad_vault.jwt"},
		{"named without aud", jobspec.WorkloadIdentity{Name: "s3"}, "eu:prod:web:frontend:server:s3", nil, 0, "NOMAD_TOKEN_s3", "nomad_s3.jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ClaimsFor(tg, tc.wi, t0, "j")
			if c.Subject != tc.sub || strings.Join(c.Audience, ",") != strings.Join(tc.aud, ",") || c.Expiry != tc.exp ||
				c.IssuedAt != t0.Unix() || c.NotBefore != t0.Unix() || c.Namespace != "prod" || c.Issuer != "" {
				t.Fatalf("claims %+v", c)
			}
			if EnvName(tc.wi.Name) != tc.env || FileName(tc.wi.Name) != tc.fn {
				t.Fatalf("env %s file %s", EnvName(tc.wi.Name), FileName(tc.wi.Name))
			}
		})
	}
	ids := TaskIdentities(&jobspec.Task{Identities: []jobspec.WorkloadIdentity{{Name: "vault"}, {Env: true}}})
	if len(ids) != 2 || ids[0].Name != DefaultName || !ids[0].Env || ids[1].Name != "vault" {
		t.Fatalf("TaskIdentities %+v", ids)
	}
	if ids := TaskIdentities(&jobspec.Task{}); len(ids) != 1 || ids[0].Env || ids[0].File {
		t.Fatalf("implicit identity %+v must not be exposed", ids)
	}
}

// FuzzVerify: no input makes Verify panic or accept a token the key did
// not sign.
func FuzzVerify(f *testing.F) {
	s := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(s)
	keys := JWKS{Keys: []JWK{PublicJWK("k", priv.Public().(ed25519.PublicKey))}}
	good, _ := Sign("k", priv, &Claims{JobID: "web", NotBefore: t0.Unix()})
	f.Add(good)
	f.Add("a.b.c")
	f.Add(`eyJhbGciOiJub25lIn0.e30.`)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, keys, t0, "")
		if err == nil && tok != good && c.JobID != "web" {
			t.Fatalf("accepted %q", tok)
		}
	})
}
