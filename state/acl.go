package state

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// ACL tables: policies by name; tokens by accessor ID and by the SHA-256
// of their secret, which is how a request's token is resolved.
const (
	TableACLPolicies = "acl_policies"
	TableACLTokens   = "acl_tokens"
	// aclBootstrapKey is the index-table entry that records the index of
	// the ACL bootstrap: there is at most one.
	aclBootstrapKey = "acl_bootstrap"
)

// ACLPolicyUpsertRequest creates or replaces policies.
type ACLPolicyUpsertRequest struct {
	Policies []*cluster.ACLPolicy `json:"policies"`
	Now      time.Time            `json:"now"`
}

// ACLPolicyDeleteRequest deletes policies by name. Tokens that name a
// deleted policy keep naming it and are granted nothing by it.
type ACLPolicyDeleteRequest struct {
	Names []string  `json:"names"`
	Now   time.Time `json:"now"`
}

// ACLTokenUpsertRequest creates or replaces tokens.
type ACLTokenUpsertRequest struct {
	Tokens []*cluster.ACLToken `json:"tokens"`
	Now    time.Time           `json:"now"`
}

// ACLTokenDeleteRequest revokes tokens by accessor ID.
type ACLTokenDeleteRequest struct {
	AccessorIDs []string  `json:"accessor_ids"`
	Now         time.Time `json:"now"`
}

// ACLBootstrapRequest stores the first management token. It fails with
// ErrCASConflict once the cluster has been bootstrapped.
type ACLBootstrapRequest struct {
	Token *cluster.ACLToken `json:"token"`
	Now   time.Time         `json:"now"`
}

func aclPoliciesTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableACLPolicies,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.ACLPolicy](1, func(p *cluster.ACLPolicy) []string {
				return []string{p.Name}
			})},
		},
	}
}

func aclTokensTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableACLTokens,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.ACLToken](1, func(t *cluster.ACLToken) []string {
				return []string{t.AccessorID}
			})},
			"secret": {Name: "secret", Unique: true, Indexer: keyIndex[*cluster.ACLToken](1, func(t *cluster.ACLToken) []string {
				return []string{t.SecretHash}
			})},
		},
	}
}

func (w *writer) aclPolicyUpsert(req *ACLPolicyUpsertRequest) (any, error) {
	if len(req.Policies) == 0 {
		return nil, invalid("no policies to store")
	}
	for _, p := range req.Policies {
		if p == nil || p.Name == "" {
			return nil, invalid("an ACL policy needs a name")
		}
	}
	for _, p := range req.Policies {
		cp := *p
		if prev := first[*cluster.ACLPolicy](w.txn.First(TableACLPolicies, "id", p.Name)); prev != nil {
			cp.CreateIndex = prev.CreateIndex
		} else {
			cp.CreateIndex = w.index
		}
		cp.ModifyIndex = w.index
		if err := w.insert(TableACLPolicies, &cp); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (w *writer) aclPolicyDelete(req *ACLPolicyDeleteRequest) (any, error) {
	var del []*cluster.ACLPolicy
	for _, name := range req.Names {
		p := first[*cluster.ACLPolicy](w.txn.First(TableACLPolicies, "id", name))
		if p == nil {
			return nil, notFound("ACL policy %q", name)
		}
		del = append(del, p)
	}
	for _, p := range del {
		if err := w.delete(TableACLPolicies, p); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func validToken(t *cluster.ACLToken) error {
	switch {
	case t == nil || t.AccessorID == "" || t.SecretHash == "":
		return invalid("an ACL token needs an accessor ID and a secret hash")
	case t.Type != cluster.ACLTokenClient && t.Type != cluster.ACLTokenManagement:
		return invalid("ACL token type %q: want client or management", t.Type)
	case t.Type == cluster.ACLTokenClient && len(t.Policies) == 0:
		return invalid("a client token needs at least one policy")
	}
	return nil
}

func (w *writer) aclTokenUpsert(req *ACLTokenUpsertRequest) (any, error) {
	if len(req.Tokens) == 0 {
		return nil, invalid("no tokens to store")
	}
	for _, t := range req.Tokens {
		if err := validToken(t); err != nil {
			return nil, err
		}
		if other := first[*cluster.ACLToken](w.txn.First(TableACLTokens, "secret", t.SecretHash)); other != nil && other.AccessorID != t.AccessorID {
			return nil, invalid("ACL token secret already in use")
		}
	}
	for _, t := range req.Tokens {
		if err := w.putToken(t); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (w *writer) putToken(t *cluster.ACLToken) error {
	cp := *t
	if prev := first[*cluster.ACLToken](w.txn.First(TableACLTokens, "id", t.AccessorID)); prev != nil {
		cp.CreateIndex = prev.CreateIndex
		// Replacing a token must not leave its old secret index entry.
		if err := w.delete(TableACLTokens, prev); err != nil {
			return err
		}
	} else {
		cp.CreateIndex = w.index
	}
	cp.ModifyIndex = w.index
	return w.insert(TableACLTokens, &cp)
}

func (w *writer) aclTokenDelete(req *ACLTokenDeleteRequest) (any, error) {
	var del []*cluster.ACLToken
	for _, id := range req.AccessorIDs {
		t := first[*cluster.ACLToken](w.txn.First(TableACLTokens, "id", id))
		if t == nil {
			return nil, notFound("ACL token %q", id)
		}
		del = append(del, t)
	}
	for _, t := range del {
		if err := w.delete(TableACLTokens, t); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (w *writer) aclBootstrap(req *ACLBootstrapRequest) (any, error) {
	if w.read().ACLBootstrapIndex() != 0 {
		return nil, casConflict("ACL system already bootstrapped")
	}
	if err := validToken(req.Token); err != nil {
		return nil, err
	}
	if req.Token.Type != cluster.ACLTokenManagement {
		return nil, invalid("the bootstrap token must be a management token")
	}
	if err := w.putToken(req.Token); err != nil {
		return nil, err
	}
	w.touch(aclBootstrapKey)
	return nil, nil
}

// ACLBootstrapIndex is the index at which the ACL system was bootstrapped,
// 0 when it was not.
func (s *Snapshot) ACLBootstrapIndex() uint64 {
	e := first[*indexEntry](s.txn.First(tableIndex, "id", aclBootstrapKey))
	if e == nil {
		return 0
	}
	return e.Index
}

// ACLPolicies returns every policy, by name.
func (s *Snapshot) ACLPolicies() []*cluster.ACLPolicy {
	return list[*cluster.ACLPolicy](s.txn.Get(TableACLPolicies, "id"))
}

// ACLPolicy returns one policy, or nil.
func (s *Snapshot) ACLPolicy(name string) *cluster.ACLPolicy {
	return first[*cluster.ACLPolicy](s.txn.First(TableACLPolicies, "id", name))
}

// ACLTokens returns every token, by accessor ID.
func (s *Snapshot) ACLTokens() []*cluster.ACLToken {
	return list[*cluster.ACLToken](s.txn.Get(TableACLTokens, "id"))
}

// ACLToken returns the token with an accessor ID, or nil.
func (s *Snapshot) ACLToken(accessor string) *cluster.ACLToken {
	return first[*cluster.ACLToken](s.txn.First(TableACLTokens, "id", accessor))
}

// ACLTokenBySecretHash returns the token whose secret hashes to hash, or
// nil.
func (s *Snapshot) ACLTokenBySecretHash(hash string) *cluster.ACLToken {
	return first[*cluster.ACLToken](s.txn.First(TableACLTokens, "secret", hash))
}

func casConflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCASConflict, fmt.Sprintf(format, args...))
}
