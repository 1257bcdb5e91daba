package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// liveWaitTime is the wait of the templates' blocking queries: short
// enough that a server that went away is noticed, long enough to cost
// nothing while the data does not change.
const liveWaitTime = 60 * time.Second

// templateData answers the templates' live data queries
// (allocrunner.LiveSource) through the servers' HTTP API, with the
// task's workload identity: variables under nomad/jobs/<job> are the
// task's to read, and the service catalog of its namespace.
type templateData struct{ a *Agent }

// LiveQuery runs one (blocking, when waitIndex > 0) query.
func (t templateData) LiveQuery(ctx context.Context, token string, d allocrunner.LiveDep, waitIndex uint64) (any, uint64, error) {
	base := t.a.servers.client()
	c := base
	if token != "" {
		c = base.WithToken(token)
	}
	v, idx, err := liveQuery(ctx, c, d, waitIndex)
	if err != nil && ctx.Err() == nil {
		t.a.servers.failed(base, err)
	}
	return v, idx, err
}

func liveQuery(ctx context.Context, c *api.Client, d allocrunner.LiveDep, waitIndex uint64) (any, uint64, error) {
	q := &api.QueryOptions{WaitIndex: waitIndex, WaitTime: liveWaitTime, Stale: true}
	switch d.Kind {
	case allocrunner.LiveVar:
		v, meta, err := c.Variables().Get(ctx, d.Namespace, d.Key, q)
		if api.IsNotFound(err) {
			// Missing: the 404 carries no index to wait on next, the
			// list of its prefix does (it answers at once: the blocking
			// Get above already waited for a change).
			_, meta, err := c.Variables().List(ctx, d.Namespace, d.Key, &api.QueryOptions{Stale: true})
			if err != nil {
				return nil, 0, err
			}
			return (*allocrunner.LiveVariable)(nil), meta.LastIndex, nil
		}
		if err != nil {
			return nil, 0, err
		}
		return &allocrunner.LiveVariable{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex, Items: v.Items}, meta.LastIndex, nil
	case allocrunner.LiveVarList:
		list, meta, err := c.Variables().List(ctx, d.Namespace, d.Key, q)
		if err != nil {
			return nil, 0, err
		}
		out := make([]allocrunner.LiveVarMeta, 0, len(list))
		for _, m := range list {
			out = append(out, allocrunner.LiveVarMeta{Namespace: m.Namespace, Path: m.Path, CreateIndex: m.CreateIndex, ModifyIndex: m.ModifyIndex})
		}
		return out, meta.LastIndex, nil
	case allocrunner.LiveService:
		q.Params = map[string]string{"namespace": d.Namespace}
		if d.Choose != "" {
			q.Params["choose"] = d.Choose
		}
		regs, meta, err := c.Services().Get(ctx, d.Key, q)
		if err != nil {
			return nil, 0, err
		}
		return serviceEntries(regs), meta.LastIndex, nil
	case allocrunner.LiveServices:
		q.Params = map[string]string{"namespace": d.Namespace}
		list, meta, err := c.Services().List(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		out := []allocrunner.LiveServiceStub{}
		for _, ns := range list {
			for _, s := range ns.Services {
				out = append(out, allocrunner.LiveServiceStub{Name: s.ServiceName, Tags: s.Tags})
			}
		}
		return out, meta.LastIndex, nil
	}
	return nil, 0, fmt.Errorf("unknown template data kind %q", d.Kind)
}

// serviceEntries are the catalog's instances as templates see them
// (consul-template's NomadService), in the server's order. What only
// the catalog uses (indexes, health) is left out, so that a health
// check's heartbeat does not re-render a template.
func serviceEntries(regs []*cluster.ServiceRegistration) []allocrunner.LiveServiceEntry {
	out := make([]allocrunner.LiveServiceEntry, 0, len(regs))
	for _, r := range regs {
		out = append(out, allocrunner.LiveServiceEntry{
			ID: r.ID, Name: r.ServiceName, Namespace: r.Namespace, Node: r.NodeID, Datacenter: r.Datacenter,
			JobID: r.JobID, AllocID: r.AllocID, Address: r.Address, Port: r.Port,
			Tags: allocrunner.ServiceTags(r.Tags), Meta: r.Meta,
		})
	}
	return out
}
