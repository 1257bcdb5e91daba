package state

import (
	"encoding/json"
	"time"

	"github.com/droverhq/drover/cluster"
)

// Scaling events without a count (Nomad's ScalingEventRegister): an
// autoscaler reports that it decided not to change a group, or that it
// failed (Error), with a message and metadata. Nothing is scheduled and
// no version is made: the event is kept on the job's current version,
// beside the counts of the versions `drover job scale` made, and goes
// when that version is collected.

// Bounds of a scaling event, checked again here on the replicated
// state: the HTTP handler refuses larger ones with a 400 first.
const (
	MaxScalingEventMessage = 1 << 10
	MaxScalingEventMeta    = 4 << 10
	// MaxScalingEventsPerGroup is how many count-less events one version
	// keeps per group (Nomad's JobTrackedScalingEvents); older ones go.
	MaxScalingEventsPerGroup = 20
)

// ScalingEventRegisterRequest records one count-less scaling event.
type ScalingEventRegisterRequest struct {
	Namespace string         `json:"namespace"`
	JobID     string         `json:"job_id"`
	Group     string         `json:"group"`
	Message   string         `json:"message,omitempty"`
	Error     bool           `json:"error,omitempty"`
	Meta      map[string]any `json:"meta,omitempty"`
	Now       time.Time      `json:"now"`
}

// ScalingEventRegisterResponse is the version the event was kept on.
type ScalingEventRegisterResponse struct {
	Version        uint64 `json:"version"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	PreviousCount  int    `json:"previous_count"`
}

// ScalingEventCheck is why an event is refused; nil when it may be
// recorded. Pure: the HTTP handler calls it for a quick answer.
func ScalingEventCheck(req *ScalingEventRegisterRequest) error {
	switch {
	case req.JobID == "" || req.Group == "":
		return invalid("scaling event: job ID and group are required")
	case len(req.Message) > MaxScalingEventMessage:
		return invalid("Message is %d bytes; at most %d are kept", len(req.Message), MaxScalingEventMessage)
	}
	if len(req.Meta) > 0 {
		// The encoding is canonical (sorted keys), so every replica
		// measures the same size.
		b, err := json.Marshal(req.Meta)
		if err != nil {
			return invalid("Meta: %v", err)
		}
		if len(b) > MaxScalingEventMeta {
			return invalid("Meta is %d bytes as JSON; at most %d are kept", len(b), MaxScalingEventMeta)
		}
	}
	return nil
}

func (w *writer) scalingEventRegister(req *ScalingEventRegisterRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	if err := ScalingEventCheck(req); err != nil {
		return nil, err
	}
	r := w.read()
	cur := r.Job(ns, req.JobID)
	if cur == nil || cur.Spec == nil {
		return nil, notFound("job %s/%s", ns, req.JobID)
	}
	prev, found := 0, false
	for _, g := range cur.Spec.Groups {
		if g.Name == req.Group {
			prev, found = g.Count, true
		}
	}
	if !found {
		return nil, invalid("task group %q specified for scaling does not exist in job", req.Group)
	}
	ev := &cluster.ScalingEvent{
		TaskGroup: req.Group, Time: req.Now.UnixNano(), PreviousCount: int64(prev),
		Message: req.Message, Error: req.Error, Meta: req.Meta, CreateIndex: w.index,
	}
	// The stored version is shared with readers of older snapshots:
	// change a copy, with a new slice.
	j := *cur
	j.ScaleEvents = appendScalingEvent(cur.ScaleEvents, ev, MaxScalingEventsPerGroup)
	j.ModifyIndex = w.index // the record changed; the job (JobModifyIndex) did not
	if err := w.insert(TableJobVersions, &j); err != nil {
		return nil, err
	}
	if err := w.insert(TableJobs, &j); err != nil {
		return nil, err
	}
	return &ScalingEventRegisterResponse{Version: j.Version, JobModifyIndex: j.JobModifyIndex, PreviousCount: prev}, nil
}

// appendScalingEvent returns a new slice of events with ev added and the
// oldest of ev's group dropped past perGroup. Pure.
func appendScalingEvent(evs []*cluster.ScalingEvent, ev *cluster.ScalingEvent, perGroup int) []*cluster.ScalingEvent {
	n := 1
	for _, e := range evs {
		if e.TaskGroup == ev.TaskGroup {
			n++
		}
	}
	drop := max(n-perGroup, 0)
	out := make([]*cluster.ScalingEvent, 0, len(evs)+1)
	for _, e := range evs {
		if e.TaskGroup == ev.TaskGroup && drop > 0 {
			drop--
			continue
		}
		out = append(out, e)
	}
	return append(out, ev)
}
