package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// The native service catalog (Nomad's /v1/services and /v1/service
// endpoints, provider = "nomad"). Registrations are derived from
// allocations in the FSM (state/service.go); these routes only read them
// and delete one. Reads need read-job in the service's namespace, as in
// Nomad, or a task's workload identity of that namespace (Nomad's
// implicit workload policy; template_acl.go); a delete needs submit-job
// there.
func (s *Server) serviceRoutes(mux *router) {
	mux.handle("GET /v1/services", CapReadJob, s.read(s.serviceList))
	mux.handle("GET /v1/service/{name}", CapReadJob, s.read(s.serviceGet))
	mux.handle("DELETE /v1/service/{name}/{id}", CapSubmitJob, s.write(s.serviceDelete))
}

// Input bounds: a service name is at most Nomad's 63-character DNS label
// in practice; the bound leaves room and stops a megabyte-long path from
// reaching the store. choose asks for at most maxChoose instances.
const (
	maxServiceNameLen = 256
	maxServiceIDLen   = 1024
	maxChooseKeyLen   = 256
	maxChoose         = 1 << 16
)

func (s *Server) serviceList(w http.ResponseWriter, r *http.Request) error {
	ns := namespace(r)
	return s.blocking(w, r, []string{state.TableServices}, func(snap *state.Snapshot) (any, error) {
		return serviceListStubs(snap.Services(), func(regNS string) bool {
			if ns != "*" && regNS != ns {
				return false
			}
			// With namespace=*, only the namespaces the token may read.
			return mayReadServices(r, regNS)
		}), nil
	})
}

// mayReadServices reports whether the request may see the services of
// namespace ns: with read-job there, or as a task's workload identity of
// ns, which withAuth let through only for its own namespace (never *).
func mayReadServices(r *http.Request, ns string) bool {
	return allowNamespace(r, CapReadJob, ns) == nil || workloadRoute(identityFrom(r.Context()), "GET /v1/services", ns)
}

// serviceListStubs groups registrations into Nomad's list shape: per
// namespace, each service name with the union of its instances' tags,
// namespaces and names sorted.
func serviceListStubs(regs []*cluster.ServiceRegistration, keep func(ns string) bool) []*api.ServiceRegistrationListStub {
	byNS := map[string]map[string][]string{}
	for _, r := range regs {
		if !keep(r.Namespace) {
			continue
		}
		names := byNS[r.Namespace]
		if names == nil {
			names = map[string][]string{}
			byNS[r.Namespace] = names
		}
		tags := names[r.ServiceName]
		if tags == nil {
			tags = []string{}
		}
		for _, t := range r.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		names[r.ServiceName] = tags
	}
	out := []*api.ServiceRegistrationListStub{}
	for ns, names := range byNS {
		stub := &api.ServiceRegistrationListStub{Namespace: ns}
		for name, tags := range names {
			slices.Sort(tags)
			stub.Services = append(stub.Services, &api.ServiceRegistrationStub{ServiceName: name, Tags: tags})
		}
		slices.SortFunc(stub.Services, func(a, b *api.ServiceRegistrationStub) int { return strings.Compare(a.ServiceName, b.ServiceName) })
		out = append(out, stub)
	}
	slices.SortFunc(out, func(a, b *api.ServiceRegistrationListStub) int { return strings.Compare(a.Namespace, b.Namespace) })
	return out
}

// serviceQuery is what GET /v1/service/{name} was asked.
type serviceQuery struct {
	all       bool   // ?all=true: critical instances too
	chooseN   int    // ?choose=<n>|<key>; 0: every instance
	chooseKey string // the rendezvous key
}

func parseServiceQuery(r *http.Request) (serviceQuery, error) {
	q := r.URL.Query()
	var sq serviceQuery
	if v := q.Get("all"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return sq, errorf(http.StatusBadRequest, "all=%q: want true or false", truncateName(v))
		}
		sq.all = b
	}
	if v := q.Get("choose"); v != "" {
		n, key, ok := strings.Cut(v, "|")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 || count > maxChoose || key == "" || len(key) > maxChooseKeyLen {
			return sq, errorf(http.StatusBadRequest, "choose=%q: want <number>|<key>, e.g. choose=2|%%7Balloc-id%%7D: a number from 1 to %d, a key of 1 to %d bytes", truncateName(v), maxChoose, maxChooseKeyLen)
		}
		sq.chooseN, sq.chooseKey = count, key
	}
	return sq, nil
}

// selectServices applies a service query to a service's instances: the
// healthy ones unless all, then choose. Unchosen instances come back in
// ID order so that answers are stable.
func selectServices(regs []*cluster.ServiceRegistration, q serviceQuery) []*cluster.ServiceRegistration {
	out := make([]*cluster.ServiceRegistration, 0, len(regs))
	for _, r := range regs {
		if q.all || r.Healthy() {
			out = append(out, r)
		}
	}
	if q.chooseN > 0 {
		return cluster.ChooseServices(out, q.chooseN, q.chooseKey)
	}
	slices.SortFunc(out, func(a, b *cluster.ServiceRegistration) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func validServiceName(name string) error {
	if name == "" || len(name) > maxServiceNameLen {
		return errorf(http.StatusBadRequest, "service name must be 1 to %d bytes; run 'drover service list' to see the names", maxServiceNameLen)
	}
	return nil
}

func (s *Server) serviceGet(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := validServiceName(name); err != nil {
		return err
	}
	q, err := parseServiceQuery(r)
	if err != nil {
		return err
	}
	ns := namespace(r)
	// An unknown service answers [] rather than 404, as Nomad does, so
	// that a blocking query can wait for its first instance.
	return s.blocking(w, r, []string{state.TableServices}, func(snap *state.Snapshot) (any, error) {
		return selectServices(snap.ServicesByName(ns, name), q), nil
	})
}

func (s *Server) serviceDelete(w http.ResponseWriter, r *http.Request) error {
	name, id := r.PathValue("name"), r.PathValue("id")
	if err := validServiceName(name); err != nil {
		return err
	}
	if id == "" || len(id) > maxServiceIDLen {
		return errorf(http.StatusBadRequest, "service instance ID must be 1 to %d bytes; run 'drover service info -verbose %s' to see the IDs", maxServiceIDLen, truncateName(name))
	}
	ns := namespace(r)
	setAuditObject(r.Context(), name+"/"+id)
	if reg := s.raft.Store().Snapshot().ServiceRegistration(id); reg == nil || reg.Namespace != ns || reg.ServiceName != name {
		return errorf(http.StatusNotFound, "service %q has no instance %q in namespace %q (run 'drover service info -verbose %s' to list its instances)",
			truncateName(name), truncateName(id), ns, truncateName(name))
	}
	idx, _, err := s.raft.Apply(r.Context(), state.MsgServiceDeregister, &state.ServiceDeregisterRequest{
		Namespace: ns, ServiceName: name, ID: id,
	})
	if err != nil {
		return err
	}
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}

// resyncServices runs once per leadership term: it brings the catalog in
// line with the allocations wherever they differ (allocations that have
// not changed since an upgrade from a version without the catalog), by
// Raft command, so that every replica derives the same entries. The FSM
// keeps the catalog in step from then on.
func (s *Server) resyncServices(ctx context.Context) {
	stale := s.raft.Store().Snapshot().AllocsWithStaleServices()
	for len(stale) > 0 && ctx.Err() == nil {
		n := min(len(stale), state.MaxServiceResync)
		if _, _, err := s.raft.Apply(ctx, state.MsgServiceRegister, &state.ServiceResyncRequest{AllocIDs: stale[:n]}); err != nil {
			s.logger.Warn("service catalog resync", "err", err, "allocs", n)
			return // the next leadership term tries again
		}
		stale = stale[n:]
	}
}
