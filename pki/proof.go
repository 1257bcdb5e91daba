package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"
)

// A server proves that it holds a server certificate of the cluster CA,
// over plain HTTP, by signing its request with the certificate's key:
//
//	signature = ECDSA-P256-SHA256(key, purpose 0 RFC 3339 time 0 SHA-256(body))
//
// and sending its certificate, the time and the signature with the body.
// The receiver checks the certificate against the CA (chain, validity,
// the name server.<region>.drover), that the time is within
// MaxProofSkew of its own clock, and the signature. The purpose keeps a
// signature made for one route from being accepted by another.
//
// A proof can be replayed within MaxProofSkew, so it only authenticates
// requests whose replay gains nothing: a renewal signs a CSR whose key
// only the requester holds, and a Raft join names the joiner's own ID
// and addresses (adding the same voter again changes nothing).

// Proof purposes.
const (
	ProofRenew    = "drover-renew-v1"
	ProofRaftJoin = "drover-raft-join-v1"
)

// MaxProofSkew is how far a proof's time may be from the receiver's
// clock.
const MaxProofSkew = 5 * time.Minute

// Proof is a server's signature over a request.
type Proof struct {
	// Cert is the signer's current server certificate (PEM).
	Cert string `json:"cert"`
	// Time is when the proof was made.
	Time time.Time `json:"time"`
	// Signature is ASN.1 ECDSA over proofDigest.
	Signature []byte `json:"signature"`
}

func proofDigest(purpose string, t time.Time, body []byte) []byte {
	b := sha256.Sum256(body)
	h := sha256.New()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(t.UTC().Format(time.RFC3339Nano)))
	h.Write([]byte{0})
	h.Write(b[:])
	return h.Sum(nil)
}

// Prove signs body for purpose at now with the identity's key.
func (id *ServerIdentity) Prove(purpose string, body []byte, now time.Time) (*Proof, error) {
	key, ok := id.Cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: the server key is a %T, not ECDSA", id.Cert.PrivateKey)
	}
	now = now.UTC().Truncate(time.Millisecond)
	sig, err := ecdsa.SignASN1(rand.Reader, key, proofDigest(purpose, now, body))
	if err != nil {
		return nil, fmt.Errorf("pki: sign proof: %w", err)
	}
	return &Proof{Cert: string(EncodeCert(id.Cert.Leaf)), Time: now, Signature: sig}, nil
}

// VerifyProof checks that p proves, at now, that a server of region
// whose certificate ca signed made body for purpose. It returns the
// signer's certificate. Errors wrap ErrInvalid and say what to do.
func VerifyProof(p *Proof, ca *x509.Certificate, region, purpose string, body []byte, now time.Time) (*x509.Certificate, error) {
	if p == nil || p.Cert == "" || len(p.Signature) == 0 {
		return nil, fmt.Errorf("%w: no server certificate proof: the request must carry the server's certificate and a signature made with its key", ErrInvalid)
	}
	cert, err := ParseCert([]byte(p.Cert))
	if err != nil {
		return nil, err
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("%w: the server certificate expired at %s: a server whose certificate expired must re-join with the server join token",
			ErrInvalid, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := VerifyServer(cert, ca, region, now); err != nil {
		return nil, fmt.Errorf("%w (is it a certificate of this cluster's CA %s, for region %q?)", err, FingerprintString(Fingerprint(ca)), region)
	}
	if d := now.Sub(p.Time); d > MaxProofSkew || d < -MaxProofSkew {
		return nil, fmt.Errorf("%w: the proof was made at %s, %s away from this server's clock (at most %s): synchronise the servers' clocks",
			ErrInvalid, p.Time.UTC().Format(time.RFC3339), d.Round(time.Second), MaxProofSkew)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the certificate's key is a %T, not ECDSA", ErrInvalid, cert.PublicKey)
	}
	if !ecdsa.VerifyASN1(pub, proofDigest(purpose, p.Time, body), p.Signature) {
		return nil, fmt.Errorf("%w: the proof's signature does not verify with the certificate's key for this request", ErrInvalid)
	}
	return cert, nil
}

// RenewAt is when a certificate should be renewed: after two thirds of
// its lifetime, counted from when it was issued (NotBefore is backdated
// by the clock skew allowance).
func RenewAt(cert *x509.Certificate) time.Time {
	issued := cert.NotBefore.Add(clockSkew)
	if issued.After(cert.NotAfter) {
		issued = cert.NotBefore
	}
	return issued.Add(cert.NotAfter.Sub(issued) * 2 / 3)
}
