package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// DeploymentUpdateResponse is a deployment after an operator action.
type DeploymentUpdateResponse struct {
	Deployment *cluster.Deployment `json:"deployment"`
}

func (d *Deployments) action(ctx context.Context, idOrPrefix, action string) (*cluster.Deployment, error) {
	var out DeploymentUpdateResponse
	if err := d.c.write(ctx, http.MethodPost, "/v1/deployment/"+esc(idOrPrefix)+"/"+action, nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return out.Deployment, nil
}

// Fail marks a running or paused deployment failed; with auto_revert the
// job goes back to its last stable version.
func (d *Deployments) Fail(ctx context.Context, idOrPrefix string) (*cluster.Deployment, error) {
	return d.action(ctx, idOrPrefix, "fail")
}

// Pause stops a deployment from placing further batches.
func (d *Deployments) Pause(ctx context.Context, idOrPrefix string) (*cluster.Deployment, error) {
	return d.action(ctx, idOrPrefix, "pause")
}

// Resume lets a paused deployment go on.
func (d *Deployments) Resume(ctx context.Context, idOrPrefix string) (*cluster.Deployment, error) {
	return d.action(ctx, idOrPrefix, "resume")
}

// Promote promotes a deployment's healthy canaries.
func (d *Deployments) Promote(ctx context.Context, idOrPrefix string) (*cluster.Deployment, error) {
	return d.action(ctx, idOrPrefix, "promote")
}

// DeploymentAllocHealthRequest sets the health of a deployment's
// allocations by hand.
type DeploymentAllocHealthRequest struct {
	Healthy   []string `json:"healthy,omitempty"`
	Unhealthy []string `json:"unhealthy,omitempty"`
}

// SetAllocHealth marks allocations of a deployment healthy or unhealthy,
// as an operator does for health_check = "manual".
func (d *Deployments) SetAllocHealth(ctx context.Context, idOrPrefix string, req *DeploymentAllocHealthRequest) (*cluster.Deployment, error) {
	var out DeploymentUpdateResponse
	if err := d.c.write(ctx, http.MethodPost, "/v1/deployment/"+esc(idOrPrefix)+"/allocation-health", nil, req, &out); err != nil {
		return nil, err
	}
	return out.Deployment, nil
}
