package api

import (
	"context"
	"net/http"
	"time"
)

// JoinTokenResponse is a join token, as the server holding the cluster CA
// keeps it.
type JoinTokenResponse struct {
	Token         string `json:"token"`
	CAFingerprint string `json:"ca_fingerprint"`
}

// ServerProof proves that a request comes from a server of the cluster:
// its current server certificate (PEM) and a signature over the request
// and Time made with the certificate's key (see package pki).
type ServerProof struct {
	Cert      string    `json:"cert"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// JoinToken returns the current join token of role ("server"). It needs
// the operator token; any server answers, asking the one holding the CA.
func (o *Operator) JoinToken(ctx context.Context, role string) (*JoinTokenResponse, error) {
	var out JoinTokenResponse
	if err := o.c.write(ctx, http.MethodGet, "/v1/operator/join-token/"+esc(role), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateJoinToken replaces the join token of role with a new one and
// returns it; the old one is refused from then on.
func (o *Operator) RotateJoinToken(ctx context.Context, role string) (*JoinTokenResponse, error) {
	var out JoinTokenResponse
	if err := o.c.write(ctx, http.MethodPost, "/v1/operator/join-token/"+esc(role)+"/rotate", nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
