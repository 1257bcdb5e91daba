package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func (s *Server) allocList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix, jobID, nodeID, ns := q.Get("prefix"), q.Get("job"), q.Get("node"), q.Get("namespace")
	return s.blocking(w, r, []string{state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		var all []*cluster.Allocation
		switch {
		case jobID != "":
			all = snap.AllocsByJob(namespace(r), jobID)
		case nodeID != "":
			all = snap.AllocsByNode(nodeID)
		default:
			all = snap.Allocs()
		}
		out := []*cluster.Allocation{}
		for _, a := range all {
			if strings.HasPrefix(a.ID, prefix) && (nodeID == "" || a.NodeID == nodeID) && (ns == "" || a.Namespace == ns) {
				out = append(out, a)
			}
		}
		return out, nil
	})
}

func (s *Server) allocGet(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("id")
	return s.blocking(w, r, []string{state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		if a := snap.Alloc(key); a != nil {
			return a, nil
		}
		return byPrefix("allocation", key, snap.Allocs(), func(a *cluster.Allocation) string { return a.ID })
	})
}

func (s *Server) evalList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix, jobID := q.Get("prefix"), q.Get("job")
	return s.blocking(w, r, []string{state.TableEvals}, func(snap *state.Snapshot) (any, error) {
		all := snap.Evals()
		if jobID != "" {
			all = snap.EvalsByJob(namespace(r), jobID)
		}
		out := []*cluster.Evaluation{}
		for _, e := range all {
			if strings.HasPrefix(e.ID, prefix) {
				out = append(out, e)
			}
		}
		return out, nil
	})
}

func (s *Server) evalGet(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("id")
	return s.blocking(w, r, []string{state.TableEvals}, func(snap *state.Snapshot) (any, error) {
		if e := snap.Eval(key); e != nil {
			return e, nil
		}
		return byPrefix("evaluation", key, snap.Evals(), func(e *cluster.Evaluation) string { return e.ID })
	})
}

func (s *Server) deploymentList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix, jobID := q.Get("prefix"), q.Get("job")
	return s.blocking(w, r, []string{state.TableDeployments}, func(snap *state.Snapshot) (any, error) {
		all := snap.Deployments()
		if jobID != "" {
			all = snap.DeploymentsByJob(namespace(r), jobID)
		}
		out := []*cluster.Deployment{}
		for _, d := range all {
			if strings.HasPrefix(d.ID, prefix) {
				out = append(out, d)
			}
		}
		return out, nil
	})
}

func (s *Server) deploymentGet(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("id")
	return s.blocking(w, r, []string{state.TableDeployments}, func(snap *state.Snapshot) (any, error) {
		if d := snap.Deployment(key); d != nil {
			return d, nil
		}
		return byPrefix("deployment", key, snap.Deployments(), func(d *cluster.Deployment) string { return d.ID })
	})
}

// maxListedMatches bounds the IDs an ambiguous-prefix error lists.
const maxListedMatches = 10

// byPrefix finds the one record whose ID starts with prefix, as the CLI
// lets people type the first characters of a UUID. None is 404; several
// is 400 naming them, so the user can type more.
func byPrefix[T any](kind, prefix string, all []T, id func(T) string) (T, error) {
	var zero T
	if prefix == "" {
		return zero, errorf(http.StatusBadRequest, "%s ID is empty", kind)
	}
	var matches []T
	for _, v := range all {
		if strings.HasPrefix(id(v), prefix) {
			matches = append(matches, v)
		}
	}
	switch len(matches) {
	case 0:
		return zero, errorf(http.StatusNotFound, "%s %q not found", kind, prefix)
	case 1:
		return matches[0], nil
	}
	var ids []string
	for _, m := range matches[:min(len(matches), maxListedMatches)] {
		ids = append(ids, id(m))
	}
	more := ""
	if len(matches) > maxListedMatches {
		more = ", ..."
	}
	return zero, errorf(http.StatusBadRequest, "%s prefix %q is ambiguous: it matches %d %ss (%s%s); type more of the ID",
		kind, prefix, len(matches), kind, strings.Join(ids, ", "), more)
}

func sortStrings(s []string) { slices.Sort(s) }
