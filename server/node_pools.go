package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// Node pools (Nomad's /v1/node/pool endpoints). Reads need node:read, as
// Nomad's node_pool "read" policy comes with node reads; writes need
// operator:write, Drover having no node_pool policy of its own.
func (s *Server) nodePoolRoutes(mux *router) {
	mux.handle("GET /v1/node/pools", CapNodeRead, s.read(s.nodePoolList))
	mux.handle("POST /v1/node/pools", CapOperatorWrite, s.write(s.nodePoolRegister))
	mux.handle("PUT /v1/node/pools", CapOperatorWrite, s.write(s.nodePoolRegister))
	// Go's ServeMux refuses "GET /v1/node/pool/{name}" beside "GET
	// /v1/node/{id}/allocations": both match /v1/node/pool/allocations
	// and neither is more specific. This pattern is less specific than
	// every /v1/node/{id}/<word> route, and serves only id "pool"; a pool
	// named after one of those words is read through the list.
	mux.handle("GET /v1/node/{id}/{name}", CapNodeRead, s.read(s.nodePoolGet))
	mux.handle("DELETE /v1/node/pool/{name}", CapOperatorWrite, s.write(s.nodePoolDelete))
	mux.handle("GET /v1/node/pool/{name}/nodes", CapNodeRead, s.read(s.nodePoolNodes))
	// Jobs are listed only in the namespaces the token may list jobs in.
	mux.handle("GET /v1/node/pool/{name}/jobs", CapNodeRead, s.read(s.nodePoolJobs))
}

func (s *Server) nodePoolList(w http.ResponseWriter, r *http.Request) error {
	prefix := r.URL.Query().Get("prefix")
	return s.blocking(w, r, []string{state.TableNodePools}, func(snap *state.Snapshot) (any, error) {
		out := []*cluster.NodePool{}
		for _, p := range snap.NodePools() {
			if strings.HasPrefix(p.Name, prefix) {
				out = append(out, p)
			}
		}
		return out, nil
	})
}

func (s *Server) nodePoolGet(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") != "pool" {
		return errorf(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}
	name := r.PathValue("name")
	return s.blocking(w, r, []string{state.TableNodePools}, func(snap *state.Snapshot) (any, error) {
		return findNodePool(snap, name)
	})
}

func findNodePool(snap *state.Snapshot, name string) (*cluster.NodePool, error) {
	if p := snap.NodePool(name); p != nil {
		return p, nil
	}
	return nil, errorf(http.StatusNotFound, "node pool %q not found (run 'drover node pool list' to list them)", truncateName(name))
}

func truncateName(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}

// maxNodePoolBody bounds a node pool's body, below the API's general
// bound (sized for jobs): a pool is a name, 256 bytes of description and
// at most cluster.MaxNodePoolMeta short meta entries.
const maxNodePoolBody = 256 << 10

func (s *Server) nodePoolRegister(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxNodePoolBody)
	var req api.NodePoolRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	p := &cluster.NodePool{Name: req.Name, Description: req.Description, Meta: req.Meta}
	if err := p.Validate(); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	setAuditObject(r.Context(), p.Name)
	idx, _, err := s.raft.Apply(r.Context(), state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{
		NodePools: []*cluster.NodePool{p}, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}

func (s *Server) nodePoolDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	setAuditObject(r.Context(), name)
	snap := s.raft.Store().Snapshot()
	if err := snap.CheckNodePoolDelete(name, s.cfg.Region); err != nil {
		if snap.NodePool(name) == nil {
			return errorf(http.StatusNotFound, "%v", err)
		}
		return errorf(http.StatusBadRequest, "%v; stop its jobs and move its nodes first ('drover node pool nodes %s', 'drover node pool jobs %s')", err, name, name)
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{
		Names: []string{name}, Region: s.cfg.Region, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}

func (s *Server) nodePoolNodes(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	return s.blocking(w, r, []string{state.TableNodes, state.TableNodePools, state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		if _, err := findNodePool(snap, name); err != nil {
			return nil, err
		}
		out := []*api.NodeListStub{}
		for _, n := range snap.NodesInPool(name) {
			out = append(out, nodeStub(snap, n))
		}
		return out, nil
	})
}

func (s *Server) nodePoolJobs(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	ns := r.URL.Query().Get("namespace")
	return s.blocking(w, r, []string{state.TableJobs, state.TableNodePools, state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		if _, err := findNodePool(snap, name); err != nil {
			return nil, err
		}
		out := []*api.JobListStub{}
		for _, j := range snap.JobsInPool(name) {
			if (ns != "" && ns != "*" && j.Namespace != ns) || allowNamespace(r, CapListJobs, j.Namespace) != nil {
				continue
			}
			out = append(out, jobStub(snap, j))
		}
		return out, nil
	})
}

// checkJobNodePool refuses a job whose node pool does not exist, with
// Nomad's message and what to do about it. The FSM refuses it too (a
// pool deleted in between); this answers first, as a 400 the CLI shows.
func checkJobNodePool(snap *state.Snapshot, spec *jobspec.Job, src *cluster.Source) error {
	pool := spec.JobNodePool()
	where := ""
	if src != nil && src.Path != "" {
		where = src.Path + ": "
	}
	if err := cluster.ValidateNodePoolName(pool); err != nil {
		return errorf(http.StatusBadRequest, "%sjob %q: node_pool: %v", where, spec.ID, err)
	}
	if snap.NodePool(pool) != nil {
		return nil
	}
	return errorf(http.StatusBadRequest, "%sjob %q is in nonexistent node pool %q: create it ('drover node pool apply'), or start an agent with node_pool = %q",
		where, spec.ID, pool, pool)
}
