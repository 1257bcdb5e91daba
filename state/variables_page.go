package state

import (
	"strings"

	"github.com/droverhq/drover/cluster"
)

// VariablesFrom calls fn on the variables of namespace ns ("*": every
// namespace) whose path starts with prefix, in (namespace, path) order,
// starting at the first at or after (fromNS, fromPath), until fn returns
// false. It reads only from the start position on, so that a list
// answered in pages (GET /v1/vars?next_token=) costs each page, not the
// whole table. The start need not exist: a variable deleted since the
// last page was read is simply passed.
func (s *Snapshot) VariablesFrom(ns, prefix, fromNS, fromPath string, fn func(*cluster.VariableEncrypted) bool) {
	startNS, startPath := fromNS, fromPath
	if ns != "*" {
		switch {
		case fromNS == "" || fromNS < ns || (fromNS == ns && fromPath < prefix):
			startNS, startPath = ns, prefix
		case fromNS > ns:
			return
		}
	}
	// The id index's key is namespace NUL path NUL: its byte order is
	// (namespace, path) order, as Go compares strings.
	it, err := s.txn.LowerBound(TableVariables, "id", startNS, startPath)
	if err != nil {
		panic("state: query variables: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		v := raw.(*cluster.VariableEncrypted)
		if ns != "*" {
			if v.Namespace != ns || (!strings.HasPrefix(v.Path, prefix) && v.Path > prefix) {
				return // past the namespace's paths under prefix
			}
		}
		if !strings.HasPrefix(v.Path, prefix) {
			continue
		}
		if !fn(v) {
			return
		}
	}
}
