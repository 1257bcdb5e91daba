package cluster

// EvalTriggerScaling is the trigger of the evaluation a scale makes
// (Nomad's "job-scaling").
const EvalTriggerScaling = "job-scaling"

// ScalingEvent records one `drover job scale` (POST /v1/job/{id}/scale)
// on the job version it made. The events of a group are read back from
// the job's versions (GET /v1/job/{id}/scale), so they need no table of
// their own and are collected with the versions. The JSON names are
// Nomad's, as the scale API is.
type ScalingEvent struct {
	TaskGroup string `json:"TaskGroup"`
	// Time is when the leader accepted the scale, Unix nanoseconds as in
	// Nomad.
	Time          int64          `json:"Time"`
	Count         *int64         `json:"Count"`
	PreviousCount int64          `json:"PreviousCount"`
	Message       string         `json:"Message"`
	Error         bool           `json:"Error"`
	Meta          map[string]any `json:"Meta"`
	EvalID        *string        `json:"EvalID"`
	CreateIndex   uint64         `json:"CreateIndex"`
}
