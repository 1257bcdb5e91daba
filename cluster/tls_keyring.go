package cluster

import "bytes"

// TLSKeyring is the cluster CA and the join tokens, replicated so that any
// server can sign certificates and check join tokens. Only the CA
// certificate is in the clear: the CA key and the tokens are sealed by the
// servers (package pki, AES-GCM under a key-encryption key that only
// servers hold) before the record is written, and the state store keeps
// the sealed bytes as they are. A copy of the Raft state therefore holds
// no usable secret without that key.
//
// There is at most one keyring. The CA certificate never changes once
// set; the sealed parts change when the servers rotate them.
type TLSKeyring struct {
	CACert            string `json:"ca_cert"`             // PEM, public
	SealedCAKey       []byte `json:"sealed_ca_key"`       // CA private key, sealed
	SealedServerToken []byte `json:"sealed_server_token"` // server join token, sealed
	SealedClientToken []byte `json:"sealed_client_token"` // client join token, sealed

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Copy returns a deep copy, for writers that must not touch a record that
// readers of an older snapshot may still hold.
func (k *TLSKeyring) Copy() *TLSKeyring {
	if k == nil {
		return nil
	}
	c := *k
	c.SealedCAKey = bytes.Clone(k.SealedCAKey)
	c.SealedServerToken = bytes.Clone(k.SealedServerToken)
	c.SealedClientToken = bytes.Clone(k.SealedClientToken)
	return &c
}
