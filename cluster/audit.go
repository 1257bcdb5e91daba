package cluster

import "time"

// AuditEntry records one API write: who made it, through which route,
// on which object, and how it ended. It never holds a secret: Who is a
// token's accessor ID, a node ID, a server name or a fixed label.
type AuditEntry struct {
	// Seq orders entries; the FSM assigns it.
	Seq uint64 `json:"seq"`
	// Who is the ACL token's accessor ID, "management token (token_file)",
	// "node <id>", "server <name>", "webhook" or
	// "anonymous (loopback, no ACL)".
	Who string `json:"who"`
	// Method and Route are the HTTP method and the route pattern.
	Method string `json:"method"`
	Route  string `json:"route"`
	// Object is the job, node, deployment or source the write named.
	Object string    `json:"object,omitempty"`
	Status int       `json:"status"`
	Time   time.Time `json:"time"`
}

// Refused reports whether the write was refused for want of a
// credential or a capability.
func (e *AuditEntry) Refused() bool { return e.Status == 401 || e.Status == 403 }
