package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
)

// Adding a Raft voter needs a server identity, not an API token: a
// JoinRequest carries a proof (pki.Proof) made with the joining server's
// certificate key over its ID and addresses, and the server that adds
// the voter checks it against the cluster CA. The API token still
// guards the route as well; the proof is what an API token holder
// without a server certificate cannot make.

// raftJoinProofBody is what a Raft join proof signs.
func raftJoinProofBody(req *api.JoinRequest) []byte {
	return []byte(req.ID + "\x00" + req.RaftAddr + "\x00" + req.HTTPAddr)
}

// proveRaftJoin signs req with this server's certificate key.
func (s *Server) proveRaftJoin(req *api.JoinRequest, now time.Time) error {
	id := s.ident.Load()
	if id == nil {
		return errors.New("this server has no certificate yet: it cannot join Raft before it obtained one with the join token")
	}
	p, err := id.Prove(pki.ProofRaftJoin, raftJoinProofBody(req), now)
	if err != nil {
		return err
	}
	req.Proof = &api.ServerProof{Cert: p.Cert, Time: p.Time, Signature: p.Signature}
	return nil
}

// checkRaftJoinProof refuses a join request without a valid proof of a
// server certificate of this cluster's CA.
func (s *Server) checkRaftJoinProof(req *api.JoinRequest, now time.Time) error {
	id := s.ident.Load()
	if id == nil {
		return errorf(http.StatusServiceUnavailable, "join: this server has no certificate yet; ask another server")
	}
	if req.Proof == nil {
		return errorf(http.StatusForbidden, "join: adding a Raft voter needs the joining server's certificate, not only an API token: "+
			"start the server with -join ADDR -join-token-file FILE, and it obtains a certificate and proves it")
	}
	p := &pki.Proof{Cert: req.Proof.Cert, Time: req.Proof.Time, Signature: req.Proof.Signature}
	if _, err := pki.VerifyProof(p, id.CA, s.cfg.Region, pki.ProofRaftJoin, raftJoinProofBody(req), now); err != nil {
		return errorf(http.StatusForbidden, "join: %v", err)
	}
	return nil
}
