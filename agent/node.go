package agent

import (
	"context"
	"maps"
	"os"

	"github.com/droverhq/drover/agent/fingerprint"
	"github.com/droverhq/drover/cluster"
)

// fingerprint builds the node the agent registers: host facts, drivers,
// and the operator's settings.
func (a *Agent) fingerprint(ctx context.Context) *cluster.Node {
	h := fingerprint.Detect(fingerprint.DefaultSources(a.cfg.DataDir))
	if h.CPUNote != "" {
		a.log.Warn("fingerprint: " + h.CPUNote)
	}
	name := a.cfg.NodeName
	if name == "" {
		name, _ = os.Hostname()
	}
	n := &cluster.Node{
		ID:         a.nodeID,
		Name:       name,
		Datacenter: a.cfg.Datacenter,
		NodeClass:  a.cfg.NodeClass,
		NodePool:   a.cfg.NodePool,
		Attributes: h.Attributes(),
		Meta:       maps.Clone(a.cfg.Meta),
		Resources: cluster.NodeResources{
			CPU:      h.MHz,
			Cores:    h.Cores,
			MemoryMB: int(h.MemoryBytes >> 20),
			DiskMB:   int(h.DiskFreeBytes >> 20),
		},
		Reserved:              a.cfg.Reserved,
		HostVolumes:           nodeHostVolumes(a.cfg.HostVolumes),
		MinDynamicPort:        cluster.DefaultMinDynamicPort,
		MaxDynamicPort:        cluster.DefaultMaxDynamicPort,
		Drivers:               map[string]cluster.DriverInfo{},
		HTTPAddr:              a.advertisedHTTP(),
		Status:                cluster.NodeStatusReady,
		SchedulingEligibility: cluster.NodeEligible,
	}
	n.Attributes["unique.network.ip-address"] = a.cfg.NetworkIP
	for _, name := range a.registry.Names() {
		d, ok := a.registry.Lookup(name)
		if !ok {
			continue
		}
		fp := d.Fingerprint(ctx)
		n.Drivers[name] = cluster.DriverInfo{Detected: fp.Detected, Healthy: fp.Healthy, Description: fp.Description, Attributes: fp.Attributes}
		if fp.Detected {
			n.Attributes["driver."+name] = "1"
		}
		for k, v := range fp.Attributes {
			n.Attributes[k] = v
		}
	}
	return n
}
