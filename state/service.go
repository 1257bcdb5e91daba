package state

import (
	"slices"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableServices is the native service catalog (provider = "nomad").
//
// Design: the servers derive registrations from allocation state, in the
// same FSM transaction as every write to an allocation, node or
// deployment (writer.insert and writer.delete call serviceHook), instead
// of agents registering them through a route of their own as Nomad's
// clients do. The agent already reports everything the catalog needs with
// its allocation updates (client status, task states, the health verdict
// of its checks), so a second agent→server channel would add a way for
// the two to disagree (a lost deregistration call leaves a stale entry
// until a reconcile loop finds it) and no information. Derived here, an
// entry appears, changes and disappears atomically with the allocation
// write that caused it, on every replica alike, and a snapshot holds the
// table (kindService) so a restored server serves the same catalog
// without recomputing it.
const TableServices = "services"

// ServiceDeregisterRequest removes one registration (DELETE
// /v1/service/{name}/{id}). The catalog derives registrations from
// allocations, so an instance whose allocation still runs comes back with
// that allocation's next update, as a Nomad client re-registers it on its
// next sync.
type ServiceDeregisterRequest struct {
	Namespace   string `json:"namespace"`
	ServiceName string `json:"service_name"`
	ID          string `json:"id"`
}

func servicesTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableServices,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.ServiceRegistration](1, func(r *cluster.ServiceRegistration) []string {
				return []string{r.ID}
			})},
			"service": {Name: "service", Indexer: keyIndex[*cluster.ServiceRegistration](2, func(r *cluster.ServiceRegistration) []string {
				return []string{r.Namespace, r.ServiceName}
			})},
			"alloc": {Name: "alloc", Indexer: keyIndex[*cluster.ServiceRegistration](1, func(r *cluster.ServiceRegistration) []string {
				return []string{r.AllocID}
			})},
		},
	}
}

// Services returns every registration, by ID.
func (s *Snapshot) Services() []*cluster.ServiceRegistration {
	return list[*cluster.ServiceRegistration](s.txn.Get(TableServices, "id"))
}

// ServicesByName returns the instances of one service in a namespace.
func (s *Snapshot) ServicesByName(namespace, name string) []*cluster.ServiceRegistration {
	return list[*cluster.ServiceRegistration](s.txn.Get(TableServices, "service", namespace, name))
}

// ServicesByAlloc returns the registrations of one allocation.
func (s *Snapshot) ServicesByAlloc(allocID string) []*cluster.ServiceRegistration {
	return list[*cluster.ServiceRegistration](s.txn.Get(TableServices, "alloc", allocID))
}

// ServiceRegistration returns one registration by ID, or nil.
func (s *Snapshot) ServiceRegistration(id string) *cluster.ServiceRegistration {
	return first[*cluster.ServiceRegistration](s.txn.First(TableServices, "id", id))
}

func (w *writer) serviceDeregister(req *ServiceDeregisterRequest) (any, error) {
	r := w.read().ServiceRegistration(req.ID)
	if r == nil || r.Namespace != namespaceOr(req.Namespace) || r.ServiceName != req.ServiceName {
		return nil, notFound("service %q has no instance %q in namespace %q", req.ServiceName, req.ID, namespaceOr(req.Namespace))
	}
	return nil, w.delete(TableServices, r)
}

// serviceHook is called by writer.insert before it writes obj into
// table; the function it returns runs after the write and brings the
// catalog in line. It reads what it compares against before the write.
func (w *writer) serviceHook(table string, obj any) func() error {
	switch table {
	case TableAllocs:
		a, ok := obj.(*cluster.Allocation)
		if !ok {
			return nil
		}
		return func() error { return w.syncAllocServices(a) }
	case TableNodes:
		n, ok := obj.(*cluster.Node)
		if !ok {
			return nil
		}
		prev := w.read().Node(n.ID)
		if prev != nil && (prev.Status == cluster.NodeStatusDown) == (n.Status == cluster.NodeStatusDown) &&
			prev.Datacenter == n.Datacenter && prev.Attributes[cluster.NodeAttrIP] == n.Attributes[cluster.NodeAttrIP] &&
			prev.HTTPAddr == n.HTTPAddr {
			return nil // heartbeats and the like change nothing the catalog shows
		}
		return func() error {
			for _, a := range w.read().AllocsByNode(n.ID) {
				if err := w.syncAllocServices(a); err != nil {
					return err
				}
			}
			return nil
		}
	case TableDeployments:
		d, ok := obj.(*cluster.Deployment)
		if !ok {
			return nil
		}
		prev := w.read().Deployment(d.ID)
		if prev != nil && slices.Equal(promotedGroups(prev), promotedGroups(d)) {
			return nil
		}
		// A promotion turns canaries into plain instances: their
		// canary_tags give way to tags.
		return func() error {
			for _, a := range w.read().AllocsByDeployment(d.ID) {
				if err := w.syncAllocServices(a); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return nil
}

func promotedGroups(d *cluster.Deployment) []string {
	var out []string
	for name, g := range d.TaskGroups {
		if g.Promoted {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// wantServices is what the catalog should hold for one allocation.
func (s *Snapshot) wantServices(a *cluster.Allocation) []*cluster.ServiceRegistration {
	if a.Terminal() || a.ClientStatus != cluster.AllocClientRunning {
		return nil
	}
	job := s.JobVersion(a.Namespace, a.JobID, a.JobVersion)
	if job == nil {
		job = s.Job(a.Namespace, a.JobID)
	}
	if job == nil {
		return nil
	}
	var promoted bool
	if a.DeploymentID != "" {
		if d := s.Deployment(a.DeploymentID); d != nil && d.TaskGroups[a.TaskGroup] != nil {
			promoted = d.TaskGroups[a.TaskGroup].Promoted
		}
	}
	regs := cluster.AllocServices(job.Spec, a, s.Node(a.NodeID), promoted)
	// Each instance's health from its own checks, as the agent last
	// reported them.
	cluster.ApplyCheckStatuses(job.Spec, a, regs)
	return regs
}

// ServiceResyncRequest re-derives the registrations of allocations
// (MsgServiceRegister). The leader sends it once per term for any
// allocation whose registrations differ from what it derives: after an
// upgrade from a version without the catalog, or a restore of a snapshot
// taken before it, allocations that have not changed since still get
// their entries, through the log, alike on every replica.
type ServiceResyncRequest struct {
	AllocIDs []string `json:"alloc_ids"`
}

// MaxServiceResync bounds one resync command; the leader sends more.
const MaxServiceResync = 1000

func (w *writer) serviceResync(req *ServiceResyncRequest) (any, error) {
	if len(req.AllocIDs) > MaxServiceResync {
		return nil, invalid("service resync: %d allocations, at most %d per command", len(req.AllocIDs), MaxServiceResync)
	}
	for _, id := range req.AllocIDs {
		if a := w.read().Alloc(id); a != nil {
			if err := w.syncAllocServices(a); err != nil {
				return nil, err
			}
		} else if err := w.serviceDeleteHook(TableAllocs, &cluster.Allocation{ID: id}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// AllocsWithStaleServices lists the allocations whose stored
// registrations differ from what they derive, registrations of
// allocations that no longer exist included (by their alloc ID).
func (s *Snapshot) AllocsWithStaleServices() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range s.Allocs() {
		seen[a.ID] = true
		if !sameServices(s.ServicesByAlloc(a.ID), s.wantServices(a)) {
			out = append(out, a.ID)
		}
	}
	for _, r := range s.Services() {
		if !seen[r.AllocID] {
			seen[r.AllocID] = true
			out = append(out, r.AllocID)
		}
	}
	return out
}

func sameServices(have, want []*cluster.ServiceRegistration) bool {
	if len(have) != len(want) {
		return false
	}
	byID := make(map[string]*cluster.ServiceRegistration, len(have))
	for _, h := range have {
		byID[h.ID] = h
	}
	for _, w := range want {
		if h := byID[w.ID]; h == nil || !h.SameAs(w) {
			return false
		}
	}
	return true
}

// syncAllocServices rewrites the registrations of one allocation to what
// cluster.AllocServices derives, writing only those that changed.
func (w *writer) syncAllocServices(a *cluster.Allocation) error {
	r := w.read()
	have := r.ServicesByAlloc(a.ID)
	want := r.wantServices(a)
	if len(have) == 0 && len(want) == 0 {
		return nil
	}
	old := make(map[string]*cluster.ServiceRegistration, len(have))
	for _, h := range have {
		old[h.ID] = h
	}
	for _, s := range want {
		prev := old[s.ID]
		delete(old, s.ID)
		if prev != nil && prev.SameAs(s) {
			continue
		}
		s.CreateIndex = w.index
		if prev != nil {
			s.CreateIndex = prev.CreateIndex
		}
		s.ModifyIndex = w.index
		if err := w.txn.Insert(TableServices, s); err != nil {
			return err
		}
		w.touch(TableServices)
	}
	for _, h := range have {
		if _, gone := old[h.ID]; gone {
			if err := w.delete(TableServices, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// serviceDeleteHook drops an allocation's registrations with it (GC).
func (w *writer) serviceDeleteHook(table string, obj any) error {
	a, ok := obj.(*cluster.Allocation)
	if !ok || table != TableAllocs {
		return nil
	}
	for _, h := range w.read().ServicesByAlloc(a.ID) {
		if err := w.delete(TableServices, h); err != nil {
			return err
		}
	}
	return nil
}
