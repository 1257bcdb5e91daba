package cluster

import (
	"encoding/binary"
	"hash/fnv"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"

	"github.com/droverhq/drover/jobspec"
)

// Service registration health, Nomad's check statuses.
const (
	ServiceHealthPassing  = "passing"
	ServiceHealthCritical = "critical"
)

// ServiceProviderNomad is the built-in catalog's provider name; a service
// that names no provider uses it too (Drover has no Consul).
const ServiceProviderNomad = "nomad"

// NodeAttrIP is the attribute that holds a node's network_ip, the address
// its services are registered with when a port names no host_network IP.
const NodeAttrIP = "unique.network.ip-address"

// ServiceRegistration is one instance of a service in the native catalog
// (Nomad's structs.ServiceRegistration): one service block of one running
// allocation, at its node's address and allocated port.
type ServiceRegistration struct {
	// ID is Nomad's: _nomad-task-<alloc>-<task, or group-<group>>-<service>-<port>.
	ID          string            `json:"id"`
	ServiceName string            `json:"service_name"`
	Namespace   string            `json:"namespace"`
	NodeID      string            `json:"node_id"`
	Datacenter  string            `json:"datacenter"`
	JobID       string            `json:"job_id"`
	AllocID     string            `json:"alloc_id"`
	Tags        []string          `json:"tags,omitempty"`
	Address     string            `json:"address"`
	Port        int               `json:"port"`
	Meta        map[string]string `json:"meta,omitempty"`
	// Status is passing or critical (Drover's addition: Nomad keeps check
	// results on the client; Drover's servers filter on them).
	Status string `json:"status"`
	// Canary is set while the allocation is an unpromoted canary; Tags are
	// then the service's canary_tags when it has any.
	Canary bool `json:"canary,omitempty"`
	// Checks are the instance's check results (ApplyCheckStatuses).
	Checks []CheckStatus `json:"checks,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Healthy reports whether the instance is served by default.
func (r *ServiceRegistration) Healthy() bool { return r.Status == ServiceHealthPassing }

// SameAs reports whether two registrations say the same thing, indexes
// aside: the state store rewrites one only when it changed, so that
// blocking queries on a service wake only when it did.
func (r *ServiceRegistration) SameAs(o *ServiceRegistration) bool {
	return r.ID == o.ID && r.ServiceName == o.ServiceName && r.Namespace == o.Namespace &&
		r.NodeID == o.NodeID && r.Datacenter == o.Datacenter && r.JobID == o.JobID &&
		r.AllocID == o.AllocID && slices.Equal(r.Tags, o.Tags) && r.Address == o.Address &&
		r.Port == o.Port && maps.Equal(r.Meta, o.Meta) && r.Status == o.Status && r.Canary == o.Canary &&
		slices.EqualFunc(r.Checks, o.Checks, func(a, b CheckStatus) bool { return a == b })
}

// AllocServices derives the catalog entries of one allocation from its
// job version, its node and whether its group's canaries were promoted.
// It is pure: the state store calls it in the same transaction as every
// allocation, node or deployment write, so the catalog never disagrees
// with the allocations it is derived from.
//
// An allocation has entries only while it runs on a node that is not down:
// pending, terminal, unknown (disconnected) and lost allocations have none,
// which is how entries follow allocations across stops, node loss and
// rollouts. An entry is critical when the task it belongs to (for a group
// service, every main task) is not running, or when the allocation's
// health check verdict is unhealthy.
func AllocServices(job *jobspec.Job, a *Allocation, n *Node, promoted bool) []*ServiceRegistration {
	if job == nil || a == nil || n == nil || a.Terminal() || a.ClientStatus != AllocClientRunning || n.Status == NodeStatusDown {
		return nil
	}
	g := job.Group(a.TaskGroup)
	if g == nil {
		return nil
	}
	canary := a.DeploymentStatus != nil && a.DeploymentStatus.Canary && !promoted
	unhealthy := a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && !*a.DeploymentStatus.Healthy
	var out []*ServiceRegistration
	add := func(s *jobspec.Service, owner string, running bool) {
		if s.Provider != "" && s.Provider != ServiceProviderNomad {
			return
		}
		addr, port := serviceAddress(s.Port, a, n)
		r := &ServiceRegistration{
			ID:          "_nomad-task-" + a.ID + "-" + owner + "-" + s.Name + "-" + s.Port,
			ServiceName: s.Name,
			Namespace:   a.Namespace,
			NodeID:      a.NodeID,
			Datacenter:  n.Datacenter,
			JobID:       a.JobID,
			AllocID:     a.ID,
			Tags:        slices.Clone(s.Tags),
			Address:     addr,
			Port:        port,
			Meta:        maps.Clone(s.Meta),
			Status:      ServiceHealthPassing,
			Canary:      canary,
		}
		if canary && len(s.CanaryTags) > 0 {
			r.Tags = slices.Clone(s.CanaryTags)
		}
		if !running || unhealthy {
			r.Status = ServiceHealthCritical
		}
		out = append(out, r)
	}
	groupRunning := len(g.Tasks) > 0
	for _, t := range g.Tasks {
		if t.Lifecycle != nil && !t.Lifecycle.Sidecar {
			continue // prestart/poststart/poststop hooks need not run
		}
		if !taskRunning(a, t.Name) {
			groupRunning = false
		}
	}
	for i := range g.Services {
		add(&g.Services[i], "group-"+g.Name, groupRunning)
	}
	for _, t := range g.Tasks {
		for i := range t.Services {
			add(&t.Services[i], t.Name, taskRunning(a, t.Name))
		}
	}
	return out
}

func taskRunning(a *Allocation, task string) bool {
	ts := a.TaskStates[task]
	return ts != nil && ts.State == TaskStateRunning
}

// serviceAddress resolves a service's port (a group port label, or a
// number) to the address and port it is reached at from other nodes: the
// port's host_network IP, else the node's network_ip. Drover registers the
// host side, Nomad's address_mode "host"/"auto" on host networking.
func serviceAddress(port string, a *Allocation, n *Node) (string, int) {
	addr := n.Attributes[NodeAttrIP]
	if addr == "" && n.HTTPAddr != "" {
		if h, _, err := net.SplitHostPort(n.HTTPAddr); err == nil {
			addr = h
		}
	}
	if port == "" {
		return addr, 0
	}
	for _, p := range a.Resources.Ports {
		if p.Label == port {
			if p.HostIP != "" {
				addr = p.HostIP
			}
			return addr, p.Value
		}
	}
	if v, err := strconv.Atoi(port); err == nil && v > 0 && v < 65536 {
		return addr, v
	}
	return addr, 0
}

// ChooseServices picks n of the instances by rendezvous (highest random
// weight) hashing on key, what Nomad's ?choose=<n>|<key> does: the same
// key picks the same instances while they exist, and removing one moves
// only the callers that had picked it. The result is ordered by weight.
func ChooseServices(regs []*ServiceRegistration, n int, key string) []*ServiceRegistration {
	if n <= 0 {
		return nil
	}
	type scored struct {
		w uint64
		r *ServiceRegistration
	}
	s := make([]scored, len(regs))
	for i, r := range regs {
		s[i] = scored{rendezvousWeight(key, r.ID), r}
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].w != s[j].w {
			return s[i].w > s[j].w
		}
		return s[i].r.ID < s[j].r.ID
	})
	out := make([]*ServiceRegistration, 0, min(n, len(s)))
	for i := 0; i < len(s) && i < n; i++ {
		out = append(out, s[i].r)
	}
	return out
}

func rendezvousWeight(key, id string) uint64 {
	h := fnv.New64a()
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(key)))
	h.Write(l[:]) // the length keeps ("ab","c") and ("a","bc") apart
	h.Write([]byte(key))
	h.Write([]byte(id))
	return mix64(h.Sum64())
}

// mix64 is SplitMix64's finalizer: FNV alone weighs IDs that share a long
// prefix (every ID starts "_nomad-task-") too alike.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
