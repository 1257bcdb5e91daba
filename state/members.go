package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// TableMembers maps each server's Raft ID to the addresses other servers
// and clients reach it at. Raft's configuration knows only Raft addresses;
// a follower that forwards an HTTP request to the leader needs the
// leader's HTTP address, and every server must agree on it, so it is
// replicated like any other record.
const TableMembers = "server_members"

// Member is one server of the cluster as the servers advertise it.
type Member struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// MemberUpsertRequest creates or replaces a server member record. The
// leader writes its own when it takes office and each server's when it
// joins.
type MemberUpsertRequest struct {
	Member *Member   `json:"member"`
	Now    time.Time `json:"now"`
}

func membersTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableMembers,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*Member](1, func(m *Member) []string {
				return []string{m.ID}
			})},
		},
	}
}

func (w *writer) memberUpsert(req *MemberUpsertRequest) (any, error) {
	m := req.Member
	if m == nil || m.ID == "" || m.RaftAddr == "" {
		return nil, invalid("server member needs an ID and a raft address")
	}
	if prev := first[*Member](w.txn.First(TableMembers, "id", m.ID)); prev != nil {
		m.CreateIndex = prev.CreateIndex
	} else {
		m.CreateIndex = w.index
	}
	m.ModifyIndex = w.index
	return nil, w.insert(TableMembers, m)
}

// Members returns every server member record, by ID.
func (s *Snapshot) Members() []*Member {
	return list[*Member](s.txn.Get(TableMembers, "id"))
}

// Member returns the record of one server, or nil.
func (s *Snapshot) Member(id string) *Member {
	return first[*Member](s.txn.First(TableMembers, "id", id))
}

// HasState reports whether this server has Raft state: it bootstrapped,
// joined, or restarted on a data dir that did. A server with state must
// never bootstrap again.
func (r *Replicated) HasState() bool {
	return r.raft.LastIndex() > 0
}

// ErrAlreadyBootstrapped is returned by BootstrapCluster on a server that
// already has Raft state.
var ErrAlreadyBootstrapped = errors.New("state: raft state exists; not bootstrapping")

// BootstrapCluster forms a new cluster whose first configuration is the
// given voters, sorted by ID. Every server of a bootstrap_expect group
// calls it with the same set, so that they all write the same first log
// entry, as Consul's bootstrap_expect does; a server that has state
// refuses.
func (r *Replicated) BootstrapCluster(ctx context.Context, voters []Server) error {
	if r.HasState() {
		return ErrAlreadyBootstrapped
	}
	servers := slices.Clone(voters)
	slices.SortFunc(servers, func(a, b Server) int { return strings.Compare(a.ID, b.ID) })
	var conf raft.Configuration
	for _, s := range servers {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Addr),
		})
	}
	if err := r.wait(ctx, r.raft.BootstrapCluster(conf)); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return ErrAlreadyBootstrapped
		}
		return r.mapErr(ctx, "bootstrap", err)
	}
	r.logger.Info("bootstrapped a new raft cluster", "servers", len(servers))
	return nil
}

// LastContact returns how long ago this follower heard from the leader:
// 0 on the leader, -1 when it never did.
func (r *Replicated) LastContact() time.Duration {
	if r.raft.State() == raft.Leader {
		return 0
	}
	t := r.raft.LastContact()
	if t.IsZero() {
		return -1
	}
	return time.Since(t)
}

func (m *Member) String() string {
	return fmt.Sprintf("%s (raft %s, http %s)", m.ID, m.RaftAddr, m.HTTPAddr)
}
