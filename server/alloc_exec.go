package server

import (
	"net/http"
)

// allocExecCheck answers GET /v1/allocation/{id}/exec-check: the
// allocation, if the token may run commands inside it (alloc-exec in its
// namespace). Agents ask it with the token of an action request
// (`drover action`) before running anything: the servers hold the ACLs,
// and a revoked token is refused at once. The ID must be exact.
func (s *Server) allocExecCheck(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	snap := s.raft.Store().Snapshot()
	a := snap.Alloc(id)
	if a == nil {
		return errorf(http.StatusNotFound, "allocation %q not found", id)
	}
	if err := allowNamespace(r, CapAllocExec, a.Namespace); err != nil {
		return err
	}
	return s.reply(w, a.ModifyIndex, a)
}
