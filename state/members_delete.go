package state

import (
	"time"
)

// MemberDeleteRequest removes a server's member record. The leader writes
// it after it removed the server from the Raft configuration (operator
// raft remove-peer, or autopilot's dead server cleanup), so that followers
// stop offering the gone server's HTTP address.
type MemberDeleteRequest struct {
	ID  string    `json:"id"`
	Now time.Time `json:"now"`
}

// memberDelete removes one member record. A record that is already gone
// is no error: the leader that removed the server may have lost office
// before the delete, and its successor repeats it.
func (w *writer) memberDelete(req *MemberDeleteRequest) (any, error) {
	if req.ID == "" {
		return nil, invalid("member delete needs a server ID")
	}
	m := first[*Member](w.txn.First(TableMembers, "id", req.ID))
	if m == nil {
		return nil, nil
	}
	return nil, w.delete(TableMembers, m)
}
