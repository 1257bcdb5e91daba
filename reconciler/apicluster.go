package reconciler

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// APICluster is a Cluster reached through the HTTP API, for `drover
// reconcile --once`, which runs outside the servers.
type APICluster struct {
	Client *api.Client
}

var (
	_ Cluster       = APICluster{}
	_ RolloutReader = APICluster{}
)

// Jobs lists every job's latest version. The list endpoint returns stubs
// without specs, so each job is read in full: --once runs in CI, once.
func (c APICluster) Jobs(ctx context.Context) ([]*cluster.Job, error) {
	stubs, _, err := c.Client.Jobs().List(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*cluster.Job, 0, len(stubs))
	for _, s := range stubs {
		j, _, err := c.Client.Jobs().Info(ctx, s.ID, &api.QueryOptions{Params: map[string]string{"namespace": s.Namespace}})
		if api.IsNotFound(err) {
			continue // purged meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read job %s: %w", s.ID, err)
		}
		out = append(out, j)
	}
	return out, nil
}

func (c APICluster) Register(ctx context.Context, job *jobspec.Job, src *cluster.Source, check uint64) (Submitted, error) {
	resp, err := c.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job, Source: src, CheckIndex: &check})
	if api.IsConflict(err) {
		return Submitted{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return Submitted{}, err
	}
	return Submitted{Version: resp.Version, EvalID: resp.EvalID, Unchanged: resp.Unchanged}, nil
}

func (c APICluster) Deregister(ctx context.Context, ns, id string, src *cluster.Source, check uint64) (Submitted, error) {
	resp, err := c.Client.Jobs().Stop(ctx, id, &api.JobStopRequest{Source: src, CheckIndex: &check})
	if api.IsConflict(err) {
		return Submitted{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return Submitted{}, err
	}
	return Submitted{EvalID: resp.EvalID}, nil
}

func (c APICluster) Rollout(ctx context.Context, ns, id string, version uint64) (Rollout, error) {
	q := &api.QueryOptions{Params: map[string]string{"namespace": ns}}
	r := Rollout{Version: version}
	j, _, err := c.Client.Jobs().Info(ctx, id, q)
	if err != nil && !api.IsNotFound(err) {
		return r, err
	}
	r.Latest = j
	if r.Allocs, _, err = c.Client.Jobs().Allocations(ctx, id, q); err != nil {
		return r, err
	}
	deps, _, err := c.Client.Jobs().Deployments(ctx, id, q)
	if err != nil {
		return r, err
	}
	for _, d := range deps {
		if d.JobVersion == version && (r.Deployment == nil || d.CreateIndex > r.Deployment.CreateIndex) {
			r.Deployment = d
		}
	}
	return r, nil
}
