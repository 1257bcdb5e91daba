package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

func (s *Server) nodeList(w http.ResponseWriter, r *http.Request) error {
	prefix := r.URL.Query().Get("prefix")
	return s.blocking(w, r, []string{state.TableNodes, state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		out := []*api.NodeListStub{}
		for _, n := range snap.Nodes() {
			if strings.HasPrefix(n.ID, prefix) {
				out = append(out, nodeStub(snap, n))
			}
		}
		return out, nil
	})
}

func nodeStub(snap *state.Snapshot, n *cluster.Node) *api.NodeListStub {
	st := &api.NodeListStub{
		ID: n.ID, Name: n.Name, Datacenter: n.Datacenter, NodeClass: n.NodeClass, Status: n.Status,
		SchedulingEligibility: n.SchedulingEligibility, Drain: n.Drain, Total: n.Resources, ModifyIndex: n.ModifyIndex,
	}
	st.NodePool = cluster.NodePoolOf(n)
	for name, d := range n.Drivers {
		if d.Healthy {
			st.Drivers = append(st.Drivers, name)
		}
	}
	sortStrings(st.Drivers)
	for _, a := range snap.AllocsByNode(n.ID) {
		if a.Terminal() {
			continue
		}
		st.Allocated.CPU += a.Resources.CPU()
		st.Allocated.MemoryMB += a.Resources.MemoryMB()
		st.Allocated.DiskMB += a.Resources.DiskMB
		if a.ClientStatus == cluster.AllocClientRunning {
			st.RunningAllocs++
		}
	}
	return st
}

func (s *Server) nodeGet(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("id")
	return s.blocking(w, r, []string{state.TableNodes}, func(snap *state.Snapshot) (any, error) {
		n, err := findNode(snap, key)
		if err != nil {
			return nil, err
		}
		// The hash of the node's secret stays in the servers.
		out := *n
		out.SecretHash = ""
		return &out, nil
	})
}

// findNode finds a node by ID or unique ID prefix, for the operator's
// routes. A node's own routes use authNode.
func findNode(snap *state.Snapshot, key string) (*cluster.Node, error) {
	if n := snap.Node(key); n != nil {
		return n, nil
	}
	return byPrefix("node", key, snap.Nodes(), func(n *cluster.Node) string { return n.ID })
}

// validNode checks what the servers rely on in a registration and fills
// defaults. A registering node is alive: without a status it is ready.
func validNode(n *cluster.Node) error {
	if n == nil {
		return errorf(http.StatusBadRequest, `request has no "node"`)
	}
	var problems []string
	if n.ID == "" {
		problems = append(problems, "node.id is required")
	} else if len(n.ID) > 128 || strings.ContainsAny(n.ID, "/ \t\r\n") {
		problems = append(problems, "node.id must be at most 128 bytes without whitespace or '/'")
	}
	switch n.Status {
	case "":
		n.Status = cluster.NodeStatusReady
	case cluster.NodeStatusInit, cluster.NodeStatusReady, cluster.NodeStatusDown:
	default:
		problems = append(problems, fmt.Sprintf("node.status %q is not initializing, ready or down", n.Status))
	}
	switch n.SchedulingEligibility {
	case "", cluster.NodeEligible, cluster.NodeIneligible:
	default:
		problems = append(problems, fmt.Sprintf("node.scheduling_eligibility %q is not eligible or ineligible", n.SchedulingEligibility))
	}
	r := n.Resources
	if r.CPU < 0 || r.MemoryMB < 0 || r.DiskMB < 0 || r.Cores < 0 {
		problems = append(problems, "node.resources must not be negative")
	}
	if n.Reserved.CPU < 0 || n.Reserved.MemoryMB < 0 || n.Reserved.DiskMB < 0 {
		problems = append(problems, "node.reserved must not be negative")
	}
	if n.MinDynamicPort == 0 && n.MaxDynamicPort == 0 {
		n.MinDynamicPort, n.MaxDynamicPort = cluster.DefaultMinDynamicPort, cluster.DefaultMaxDynamicPort
	}
	if n.MinDynamicPort < 1 || n.MaxDynamicPort > 65535 || n.MinDynamicPort > n.MaxDynamicPort {
		problems = append(problems, fmt.Sprintf("node dynamic port range %d-%d is invalid", n.MinDynamicPort, n.MaxDynamicPort))
	}
	if n.Name == "" {
		n.Name = n.ID
	}
	// Nomad's rule and words; "" is the default pool (node_pools.go).
	if err := cluster.ValidateNodeNodePool(n.NodePool); err != nil {
		problems = append(problems, err.Error())
	} else if n.NodePool == "" {
		n.NodePool = cluster.NodePoolDefault
	}
	if len(problems) > 0 {
		return errorf(http.StatusBadRequest, "invalid node: %s", strings.Join(problems, "; "))
	}
	return nil
}

// authNode finds the node a node's own route names and checks that the
// request carries that node's secret (api.HeaderNodeSecret), as Nomad
// checks a node's SecretID: the operator token alone does not let its
// holder speak for a node. The ID must match exactly: a prefix would let
// a request reach a node its sender did not name.
func authNode(snap *state.Snapshot, r *http.Request) (*cluster.Node, error) {
	id := r.PathValue("id")
	if err := checkNodePeer(r, id); err != nil {
		return nil, err
	}
	n := snap.Node(id)
	if n == nil {
		return nil, errorf(http.StatusNotFound, "node %q not found", id)
	}
	secret := r.Header.Get(api.HeaderNodeSecret)
	switch {
	case n.SecretHash == "":
		return nil, errorf(http.StatusForbidden, "node %s has no node secret yet (it registered before nodes had one); its agent must register again", id)
	case secret == "":
		return nil, errorf(http.StatusForbidden, "node %s: this route needs the node's own node secret (header %s)", id, api.HeaderNodeSecret)
	case !n.SecretMatches(secret):
		return nil, errorf(http.StatusForbidden, "node %s: the node secret sent is not this node's", id)
	}
	return n, nil
}

// checkNodePeer refuses a request from an agent's client certificate
// for any node but the certificate's own: a node speaks only for itself.
func checkNodePeer(r *http.Request, nodeID string) error {
	p := peerFrom(r.Context())
	if p == nil || p.Role != pki.CertRoleClient || p.NodeID == nodeID {
		return nil
	}
	return errorf(http.StatusForbidden, "this client certificate is node %s's; it cannot act for node %s", p.NodeID, nodeID)
}

// nodeSecret decides the secret a registration gives the node: a known
// node must bring its own; a new one (or one registered before nodes had
// secrets) may bring one, else the servers make it, and only then is it
// answered (issued).
func nodeSecret(prev *cluster.Node, r *http.Request) (secret, issued string, err error) {
	secret = r.Header.Get(api.HeaderNodeSecret)
	switch {
	case prev != nil && prev.SecretHash != "":
		if secret == "" {
			return "", "", errorf(http.StatusForbidden, "node %s is registered; re-registering it needs its node secret", prev.ID)
		}
		if !prev.SecretMatches(secret) {
			return "", "", errorf(http.StatusForbidden, "node %s is registered; re-registering it needs its node secret, and the one sent is not it", prev.ID)
		}
		return secret, "", nil
	case secret == "":
		secret = cluster.NewNodeSecret()
		return secret, secret, nil
	default:
		if err := cluster.ValidNodeSecret(secret); err != nil {
			return "", "", errorf(http.StatusBadRequest, "header %s: %v", api.HeaderNodeSecret, err)
		}
		return secret, "", nil
	}
}

func (s *Server) nodeRegister(w http.ResponseWriter, r *http.Request) error {
	var req api.NodeRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := validNode(req.Node); err != nil {
		return err
	}
	n := req.Node
	if err := checkNodePeer(r, n.ID); err != nil {
		return err
	}
	prev := s.raft.Store().Snapshot().Node(n.ID)
	secret, issued, err := nodeSecret(prev, r)
	if err != nil {
		return err
	}
	// Whatever the body said, the hash is the servers' own.
	n.SecretHash = cluster.HashNodeSecret(secret)
	idx, _, err := s.raft.Apply(r.Context(), state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: time.Now()})
	if err != nil {
		return err
	}
	if prev != nil && prev.SecretHash == "" {
		s.logger.Warn("node registered before nodes had secrets; it has one now", "node", n.ID, "name", n.Name)
	}
	if n.Status != cluster.NodeStatusDown {
		s.hb.reset(n.ID)
	}
	if n.Status == cluster.NodeStatusReady && (prev == nil || prev.Status != cluster.NodeStatusReady) {
		// System jobs run on every node, the new one too. Blocked
		// evaluations re-run on their own: the nodes table changed.
		if evals := nodeEvals(s.raft.Store().Snapshot(), n.ID, false); len(evals) > 0 {
			if idx, _, err = s.raft.Apply(r.Context(), state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: evals, Now: time.Now()}); err != nil {
				return err
			}
		}
	}
	return s.reply(w, idx, &api.NodeRegisterResponse{NodeID: n.ID, NodeSecret: issued, HeartbeatTTL: s.cfg.HeartbeatTTL, Index: idx})
}

func (s *Server) nodeHeartbeat(w http.ResponseWriter, r *http.Request) error {
	snap := s.raft.Store().Snapshot()
	n, err := authNode(snap, r)
	if err != nil {
		return err
	}
	s.hb.reset(n.ID)
	idx := snap.Index(state.TableNodes)
	if n.Status != cluster.NodeStatusReady {
		req := &state.NodeStatusRequest{
			NodeID: n.ID, Status: cluster.NodeStatusReady, Description: "node heartbeated",
			Evals: nodeEvals(snap, n.ID, false), Now: time.Now(),
		}
		if idx, _, err = s.raft.Apply(r.Context(), state.MsgNodeUpdateStatus, req); err != nil {
			return err
		}
		s.logger.Info("node is ready", "node", n.ID, "name", n.Name, "was", n.Status)
	}
	return s.reply(w, idx, &api.HeartbeatResponse{HeartbeatTTL: s.cfg.HeartbeatTTL, Index: idx})
}

func (s *Server) nodeEligibility(w http.ResponseWriter, r *http.Request) error {
	var req api.NodeEligibilityRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	n, err := findNode(s.raft.Store().Snapshot(), r.PathValue("id"))
	if err != nil {
		return err
	}
	elig := cluster.NodeIneligible
	if req.Eligible {
		elig = cluster.NodeEligible
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgNodeUpdateEligibility, &state.NodeEligibilityRequest{
		NodeID: n.ID, Eligibility: elig, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}

func (s *Server) nodeDrain(w http.ResponseWriter, r *http.Request) error {
	var req api.NodeDrainRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	n, err := findNode(snap, r.PathValue("id"))
	if err != nil {
		return err
	}
	cmd := &state.NodeDrainRequest{NodeID: n.ID, Drain: req.Enable, MarkEligible: !req.Enable, Now: time.Now()}
	if req.Enable {
		// The scheduler migrates allocations off a draining node when
		// their jobs are evaluated.
		cmd.Evals = nodeEvals(snap, n.ID, true)
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgNodeUpdateDrain, cmd)
	if err != nil {
		return err
	}
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}

func (s *Server) nodeAllocs(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("id")
	if err := checkNodePeer(r, key); err != nil {
		return err
	}
	return s.blocking(w, r, []string{state.TableAllocs, state.TableNodes}, func(snap *state.Snapshot) (any, error) {
		n, err := findNode(snap, key)
		if err != nil {
			return nil, err
		}
		if err := checkNodePeer(r, n.ID); err != nil {
			return nil, err
		}
		return nonNil(snap.AllocsByNode(n.ID)), nil
	})
}

// nodeUpdateAllocs stores what an agent reports of its allocations. A
// newly failed allocation gets an evaluation, so that the scheduler
// reschedules it per its policy; an allocation that stopped frees room,
// so blocked evaluations re-run. A node reports only its own
// allocations: one of another node refuses the whole update.
func (s *Server) nodeUpdateAllocs(w http.ResponseWriter, r *http.Request) error {
	var req api.AllocUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	n, err := authNode(snap, r)
	if err != nil {
		return err
	}
	cmd := &state.AllocClientUpdateRequest{Now: time.Now()}
	var unknown, foreign []string
	type jobKey struct{ ns, id string }
	evalFor := map[jobKey]bool{}
	freed := false
	for i, a := range req.Allocs {
		if a == nil || a.ID == "" {
			return errorf(http.StatusBadRequest, "allocs[%d]: an allocation ID is required", i)
		}
		switch a.ClientStatus {
		case "", cluster.AllocClientPending, cluster.AllocClientRunning, cluster.AllocClientComplete,
			cluster.AllocClientFailed, cluster.AllocClientLost:
		default:
			return errorf(http.StatusBadRequest, "allocs[%d].client_status %q is not a client status", i, a.ClientStatus)
		}
		if err := cluster.ValidateCheckStatuses(a.CheckStatuses); err != nil {
			return errorf(http.StatusBadRequest, "allocs[%d]: %v; nothing was updated", i, err)
		}
		cur := snap.Alloc(a.ID)
		if cur == nil {
			unknown = append(unknown, a.ID)
			continue
		}
		if cur.NodeID != n.ID {
			foreign = append(foreign, a.ID)
			continue
		}
		cmd.Allocs = append(cmd.Allocs, state.AllocClientState{
			ID: a.ID, ClientStatus: a.ClientStatus, ClientDescription: a.ClientDescription,
			TaskStates: a.TaskStates, DeploymentStatus: a.DeploymentStatus, CheckStatuses: a.CheckStatuses,
		})
		if a.ClientStatus == cluster.AllocClientFailed && cur.ClientStatus != cluster.AllocClientFailed {
			k := jobKey{cur.Namespace, cur.JobID}
			if j := snap.Job(k.ns, k.id); j != nil && j.Spec != nil && !evalFor[k] {
				evalFor[k] = true
				cmd.Evals = append(cmd.Evals, &cluster.Evaluation{
					ID: newID(), Namespace: k.ns, JobID: k.id, Type: j.Spec.Type, Priority: evalPriority(j.Spec),
					TriggeredBy: cluster.EvalTriggerAllocFailure, JobModifyIndex: j.JobModifyIndex, Status: cluster.EvalStatusPending,
				})
			}
		}
		if isTerminalClient(a.ClientStatus) && !isTerminalClient(cur.ClientStatus) {
			freed = true
		}
		if e := reconnectEval(snap, cur, a.ClientStatus); e != nil && !evalFor[jobKey{cur.Namespace, cur.JobID}] {
			evalFor[jobKey{cur.Namespace, cur.JobID}] = true
			cmd.Evals = append(cmd.Evals, e)
		}
	}
	if len(foreign) > 0 {
		more := ""
		if len(foreign) > 3 {
			foreign, more = foreign[:3], fmt.Sprintf(" and %d more", len(foreign)-3)
		}
		return errorf(http.StatusForbidden, "node %s may update only its own allocations, and %s%s belong to other nodes; nothing was updated",
			n.ID, strings.Join(foreign, ", "), more)
	}
	resp := &api.AllocUpdateResponse{Unknown: unknown}
	idx := snap.Index(state.TableAllocs)
	if len(cmd.Allocs) > 0 {
		var raw any
		idx, raw, err = s.raft.Apply(r.Context(), state.MsgAllocClientUpdate, cmd)
		if err != nil {
			return err
		}
		if out, ok := raw.(*state.AllocClientUpdateResponse); ok {
			resp.Updated = out.Updated
			resp.Unknown = append(resp.Unknown, out.Unknown...)
		}
	}
	if freed {
		s.kickUnblock()
	}
	resp.Index = idx
	return s.reply(w, idx, resp)
}

func isTerminalClient(status string) bool {
	switch status {
	case cluster.AllocClientComplete, cluster.AllocClientFailed, cluster.AllocClientLost:
		return true
	}
	return false
}
