package agent

import (
	"context"

	"github.com/droverhq/drover/agent/allocrunner"
)

// fetchIdentities asks the servers, with this node's secret, for the
// signed workload identities of an allocation's tasks
// (POST /v1/allocation/{id}/identity).
func (a *Agent) fetchIdentities(ctx context.Context, allocID string, tasks []string) ([]allocrunner.SignedIdentity, error) {
	c := a.servers.client()
	resp, err := c.Allocations().Identities(ctx, allocID, tasks)
	if err != nil {
		a.servers.failed(c, err)
		return nil, err
	}
	out := make([]allocrunner.SignedIdentity, 0, len(resp.Identities))
	for _, id := range resp.Identities {
		out = append(out, allocrunner.SignedIdentity{Task: id.Task, Name: id.Name, JWT: id.JWT, Env: id.Env, File: id.File, Expiration: id.Expiration})
	}
	return out, nil
}
