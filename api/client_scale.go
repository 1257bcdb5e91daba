package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// The scale API is Nomad's, field names included, so that Nomad's
// tooling (the autoscaler's Nomad target, `nomad job scale` pointed at
// Drover) speaks it unchanged.

// ScalingRequest is the body of POST /v1/job/{id}/scale. Target names
// the group ({"Group": "web"}). Without Count nothing is scaled: the
// request records a scaling event (Message, Error, Meta), as Nomad's
// autoscaler reports a decision not to scale or a failure.
type ScalingRequest struct {
	Count          *int64            `json:"Count"`
	Target         map[string]string `json:"Target"`
	Message        string            `json:"Message,omitempty"`
	Error          bool              `json:"Error,omitempty"`
	Meta           map[string]any    `json:"Meta,omitempty"`
	PolicyOverride bool              `json:"PolicyOverride,omitempty"`
	// JobModifyIndex, when set, applies the scale only if the job is
	// still at that index.
	JobModifyIndex uint64 `json:"JobModifyIndex,omitempty"`
	// Namespace is accepted for Nomad's clients; the query parameter
	// decides.
	Namespace string `json:"Namespace,omitempty"`
}

// ScalingTargetGroup and ScalingTargetJob are Target's keys.
const (
	ScalingTargetGroup     = "Group"
	ScalingTargetJob       = "Job"
	ScalingTargetNamespace = "Namespace"
)

// JobScaleResponse answers POST /v1/job/{id}/scale (Nomad's
// JobRegisterResponse).
type JobScaleResponse struct {
	EvalID          string   `json:"EvalID"`
	EvalCreateIndex uint64   `json:"EvalCreateIndex"`
	JobModifyIndex  uint64   `json:"JobModifyIndex"`
	Warnings        string   `json:"Warnings"`
	Index           uint64   `json:"Index"`
	Version         uint64   `json:"Version"`
	Notes           []string `json:"Notes,omitempty"`
}

// JobScaleStatus answers GET /v1/job/{id}/scale.
type JobScaleStatus struct {
	JobID          string                          `json:"JobID"`
	Namespace      string                          `json:"Namespace"`
	JobCreateIndex uint64                          `json:"JobCreateIndex"`
	JobModifyIndex uint64                          `json:"JobModifyIndex"`
	JobStopped     bool                            `json:"JobStopped"`
	TaskGroups     map[string]TaskGroupScaleStatus `json:"TaskGroups"`
}

// TaskGroupScaleStatus is one group's counts and its recent scaling
// events, newest first.
type TaskGroupScaleStatus struct {
	Desired   int                     `json:"Desired"`
	Placed    int                     `json:"Placed"`
	Running   int                     `json:"Running"`
	Healthy   int                     `json:"Healthy"`
	Unhealthy int                     `json:"Unhealthy"`
	Events    []*cluster.ScalingEvent `json:"Events"`
	// Scaling is the group's scaling block (min, max, enabled, policy),
	// nil when it has none. Drover's addition: Nomad serves it from its
	// scaling policy endpoints.
	Scaling *jobspec.Scaling `json:"Scaling,omitempty"`
}

// Scale sets a group's count (Nomad's `job scale`).
func (j *Jobs) Scale(ctx context.Context, id string, req *ScalingRequest) (*JobScaleResponse, error) {
	var out JobScaleResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/job/"+esc(id)+"/scale", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ScaleStatus returns the job's groups' counts and scaling events.
func (j *Jobs) ScaleStatus(ctx context.Context, id string, q *QueryOptions) (*JobScaleStatus, *QueryMeta, error) {
	var out JobScaleStatus
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/scale", q, &out)
	if err != nil {
		return nil, nil, err
	}
	return &out, meta, nil
}
