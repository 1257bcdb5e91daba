package api

import (
	"context"
	"net/http"
	"net/url"
)

// SealRecipient is one of the cluster's age public keys, which
// `drover var seal` encrypts sealed variable files to. It is public.
type SealRecipient struct {
	// Recipient is the key in age's form, "age1...".
	Recipient string `json:"Recipient"`
	// Fingerprint is the short name sealed files and errors use,
	// "age:" and 16 hex digits.
	Fingerprint string `json:"Fingerprint"`
	// Active is the key new seals encrypt to; the others only open
	// files sealed before a rotation.
	Active     bool  `json:"Active"`
	CreateTime int64 `json:"CreateTime"` // Unix nanoseconds
}

// SealRecipientsResponse answers GET /v1/operator/seal/recipients and
// PUT /v1/operator/seal/rotate.
type SealRecipientsResponse struct {
	Recipients []SealRecipient `json:"Recipients"`
	Index      uint64          `json:"Index"`
}

// SealRecipients returns the cluster's age recipients, creating the
// first key if there is none yet.
func (o *Operator) SealRecipients(ctx context.Context) (*SealRecipientsResponse, error) {
	var out SealRecipientsResponse
	if _, err := o.c.query(ctx, "/v1/operator/seal/recipients", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SealRotate makes a new age key that new seals encrypt to; the old
// ones keep opening the files sealed to them until removed.
func (o *Operator) SealRotate(ctx context.Context) (*SealRecipientsResponse, error) {
	var out SealRecipientsResponse
	if err := o.c.write(ctx, http.MethodPut, "/v1/operator/seal/rotate", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SealRemove removes an old age key by fingerprint: files sealed only
// to it no longer open.
func (o *Operator) SealRemove(ctx context.Context, fingerprint string) (*SealRecipientsResponse, error) {
	var out SealRecipientsResponse
	if err := o.c.write(ctx, http.MethodDelete, "/v1/operator/seal/key/"+url.PathEscape(fingerprint), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
