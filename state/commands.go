package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
)

// MessageType is the first byte of every Raft log command. Values are
// written to disk: never renumber them, only append.
type MessageType uint8

// Message types.
const (
	MsgJobRegister MessageType = iota + 1
	MsgJobDeregister
	MsgJobStable
	MsgNodeRegister
	MsgNodeUpdateStatus
	MsgNodeUpdateEligibility
	MsgNodeUpdateDrain
	MsgAllocUpdateDesired
	MsgPlanApply
	MsgAllocClientUpdate
	MsgEvalUpsert
	MsgEvalUpdateStatus
	MsgDeploymentUpsert
	MsgDeploymentStatusUpdate
	MsgSyncStatusUpsert
	MsgMemberUpsert
	MsgDeploymentPromote
	MsgACLPolicyUpsert
	MsgACLPolicyDelete
	MsgACLTokenUpsert
	MsgACLTokenDelete
	MsgACLBootstrap
	MsgAuditAppend
	MsgTLSKeyringSet
	// MsgGC collects terminal evaluations, allocations, deployments, old
	// job versions and stopped jobs (gc.go).
	MsgGC
	// MsgMemberDelete removes a server's member record (autopilot's dead
	// server cleanup, raft remove-peer).
	MsgMemberDelete
	// MsgPeriodicLaunch records a periodic job's launch and registers
	// its child job in the same index (periodic_launch.go).
	MsgPeriodicLaunch
	// MsgJobDispatch registers a parameterized job's dispatched child and
	// its evaluation in one index (issue 15, dispatch).
	MsgJobDispatch
	// MsgNodePoolUpsert / MsgNodePoolDelete write node pools (issue 15).
	MsgNodePoolUpsert
	MsgNodePoolDelete
	// MsgJobScale sets one group's count (drover job scale; issue 15).
	MsgJobScale
	// MsgAllocDisconnect marks a node's allocations unknown or lost when
	// it stops heartbeating (issue 15, disconnects).
	MsgAllocDisconnect
	// MsgIdentityKeySet stores the servers' workload identity signing
	// keyring, sealed (issue 15, identity).
	MsgIdentityKeySet
	// Issue 16, reserved: variables (upsert/delete/lock with CAS), the
	// root keyring that encrypts them, and the native service catalog.
	MsgVarApply
	MsgRootKeyUpsert
	MsgServiceRegister
	MsgServiceDeregister
	// MsgSealApply is sealed secrets' command (issue 16, seal_key.go):
	// it sets the age keyring that opens sealed variable files, or
	// writes and prunes one commit's sealed variables in one index.
	MsgSealApply
	// MsgScalingEventRegister records a scaling event without a count
	// (Nomad's ScalingEventRegister: an autoscaler's "no change" or
	// error) on the job's current version (job_scale_event.go).
	MsgScalingEventRegister
	// MsgVarLockExpire releases variable locks whose TTL and lock delay
	// ran out without a renewal: the leader's lock reaper
	// (variables_lock.go).
	MsgVarLockExpire
)

var messageNames = map[MessageType]string{
	MsgJobRegister:            "JobRegister",
	MsgJobDeregister:          "JobDeregister",
	MsgJobStable:              "JobStable",
	MsgNodeRegister:           "NodeRegister",
	MsgNodeUpdateStatus:       "NodeUpdateStatus",
	MsgNodeUpdateEligibility:  "NodeUpdateEligibility",
	MsgNodeUpdateDrain:        "NodeUpdateDrain",
	MsgAllocUpdateDesired:     "AllocUpdateDesired",
	MsgPlanApply:              "PlanApply",
	MsgAllocClientUpdate:      "AllocClientUpdate",
	MsgEvalUpsert:             "EvalUpsert",
	MsgEvalUpdateStatus:       "EvalUpdateStatus",
	MsgDeploymentUpsert:       "DeploymentUpsert",
	MsgDeploymentStatusUpdate: "DeploymentStatusUpdate",
	MsgSyncStatusUpsert:       "SyncStatusUpsert",
	MsgMemberUpsert:           "MemberUpsert",
	MsgDeploymentPromote:      "DeploymentPromote",
	MsgACLPolicyUpsert:        "ACLPolicyUpsert",
	MsgACLPolicyDelete:        "ACLPolicyDelete",
	MsgACLTokenUpsert:         "ACLTokenUpsert",
	MsgACLTokenDelete:         "ACLTokenDelete",
	MsgACLBootstrap:           "ACLBootstrap",
	MsgAuditAppend:            "AuditAppend",
	MsgTLSKeyringSet:          "TLSKeyringSet",
	MsgGC:                     "GC",
	MsgMemberDelete:           "MemberDelete",
	MsgPeriodicLaunch:         "PeriodicLaunch",
	MsgJobDispatch:            "JobDispatch",
	MsgNodePoolUpsert:         "NodePoolUpsert",
	MsgNodePoolDelete:         "NodePoolDelete",
	MsgJobScale:               "JobScale",
	MsgAllocDisconnect:        "AllocDisconnect",
	MsgIdentityKeySet:         "IdentityKeySet",
	MsgVarApply:               "VarApply",
	MsgRootKeyUpsert:          "RootKeyUpsert",
	MsgServiceRegister:        "ServiceRegister",
	MsgServiceDeregister:      "ServiceDeregister",
	MsgSealApply:              "SealApply",
	MsgScalingEventRegister:   "ScalingEventRegister",
	MsgVarLockExpire:          "VarLockExpire",
}

func (t MessageType) String() string {
	if n, ok := messageNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Encode returns the log entry for a command: the checksummed envelope
// (envelope.go) around the type byte and the JSON request.
func Encode(t MessageType, req any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(256)
	buf.Write(make([]byte, envelopeHeader-1))
	buf.WriteByte(byte(t))
	if err := json.NewEncoder(&buf).Encode(req); err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return seal(buf.Bytes()), nil
}

// encodeLegacy is the entry format before the envelope: the type byte,
// then the JSON request. Only tests write it, to check that old logs
// still apply and to measure what the envelope costs.
func encodeLegacy(t MessageType, req any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(256)
	buf.WriteByte(byte(t))
	if err := json.NewEncoder(&buf).Encode(req); err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return buf.Bytes(), nil
}

// Every request carries Now: the time the leader accepted it. The FSM uses
// it for every timestamp it sets, never its own clock, so that all
// replicas agree.

// JobRegisterRequest stores a new version of a job.
type JobRegisterRequest struct {
	// Job holds the namespace, ID, Spec, Hash, Stop and Source of the new
	// version. The FSM sets Version (previous + 1, or 0), the indexes,
	// SubmitTime and Status, and fills Hash from Spec when it is empty.
	// An empty namespace is "default".
	Job *cluster.Job `json:"job"`
	// CheckIndex, when set, makes the register conditional: it applies
	// only if the job's current JobModifyIndex equals it, and 0 means the
	// job must not exist. On a mismatch the command fails with
	// ErrCASConflict and changes nothing.
	CheckIndex *uint64 `json:"check_index,omitempty"`
	// Eval, when set, is created in the same index, with JobModifyIndex
	// set to it.
	Eval *cluster.Evaluation `json:"eval,omitempty"`
	Now  time.Time           `json:"now"`
}

// JobRegisterResponse says what a register or deregister stored: the new
// version (for a purge, the last one deleted) and its index.
type JobRegisterResponse struct {
	Version        uint64 `json:"version"`
	JobModifyIndex uint64 `json:"job_modify_index"`
}

// JobDeregisterRequest stops a job (a new version with Stop set) or, with
// Purge, deletes it and its history.
type JobDeregisterRequest struct {
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	Purge     bool   `json:"purge,omitempty"`
	// Source is the provenance of the stopped version: the commit that
	// deleted the job file, or nil when stopped by hand.
	Source     *cluster.Source     `json:"source,omitempty"`
	CheckIndex *uint64             `json:"check_index,omitempty"`
	Eval       *cluster.Evaluation `json:"eval,omitempty"`
	Now        time.Time           `json:"now"`
}

// JobStableRequest marks (or unmarks) a job version stable.
type JobStableRequest struct {
	Namespace string    `json:"namespace"`
	JobID     string    `json:"job_id"`
	Version   uint64    `json:"version"`
	Stable    bool      `json:"stable"`
	Now       time.Time `json:"now"`
}

// NodeRegisterRequest creates or updates a node. On re-registration the
// node keeps its CreateIndex and the operator's choices (eligibility,
// drain), which an agent restart must not undo.
type NodeRegisterRequest struct {
	Node *cluster.Node `json:"node"`
	Now  time.Time     `json:"now"`
}

// NodeStatusRequest changes a node's status, with the evaluations it
// triggers.
type NodeStatusRequest struct {
	NodeID      string                `json:"node_id"`
	Status      cluster.NodeStatus    `json:"status"`
	Description string                `json:"description,omitempty"`
	Evals       []*cluster.Evaluation `json:"evals,omitempty"`
	Now         time.Time             `json:"now"`
}

// NodeEligibilityRequest sets a node's scheduling eligibility.
type NodeEligibilityRequest struct {
	NodeID      string                `json:"node_id"`
	Eligibility string                `json:"eligibility"`
	Evals       []*cluster.Evaluation `json:"evals,omitempty"`
	Now         time.Time             `json:"now"`
}

// NodeDrainRequest starts or ends a drain. Draining makes the node
// ineligible; ending one leaves it ineligible unless MarkEligible.
type NodeDrainRequest struct {
	NodeID       string                `json:"node_id"`
	Drain        bool                  `json:"drain"`
	MarkEligible bool                  `json:"mark_eligible,omitempty"`
	Evals        []*cluster.Evaluation `json:"evals,omitempty"`
	Now          time.Time             `json:"now"`
}

// AllocDesired changes what the servers want of one allocation.
type AllocDesired struct {
	AllocID       string `json:"alloc_id"`
	DesiredStatus string `json:"desired_status"` // stop or evict; run is not a transition
	Description   string `json:"description,omitempty"`
	// ClientStatus, when set, also overrides the client status: "lost"
	// for allocations on a node that went down.
	ClientStatus string `json:"client_status,omitempty"`
}

// AllocDesiredRequest changes the desired status of allocations.
type AllocDesiredRequest struct {
	Updates []AllocDesired        `json:"updates"`
	Evals   []*cluster.Evaluation `json:"evals,omitempty"`
	Now     time.Time             `json:"now"`
}

// PlanApplyRequest is a scheduler's plan, applied at one index.
type PlanApplyRequest struct {
	// Allocs are new allocations and in-place updates. An update keeps the
	// client's view (client status, task states) and the creation index.
	Allocs []*cluster.Allocation `json:"allocs,omitempty"`
	// Stop lists allocations to stop or evict.
	Stop []AllocDesired `json:"stop,omitempty"`
	// Deployment is created or replaced.
	Deployment        *cluster.Deployment      `json:"deployment,omitempty"`
	DeploymentUpdates []DeploymentStatusUpdate `json:"deployment_updates,omitempty"`
	// Evals are created or updated: the evaluation that produced the plan
	// (completed) and any follow-ups (blocked, delayed reschedules).
	Evals []*cluster.Evaluation `json:"evals,omitempty"`
	Now   time.Time             `json:"now"`
}

// AllocClientState is what an agent reports of one allocation. Empty
// fields leave the stored value as it is.
type AllocClientState struct {
	ID                string                         `json:"id"`
	ClientStatus      string                         `json:"client_status,omitempty"`
	ClientDescription string                         `json:"client_description,omitempty"`
	TaskStates        map[string]*cluster.TaskState  `json:"task_states,omitempty"`
	DeploymentStatus  *cluster.AllocDeploymentStatus `json:"deployment_status,omitempty"`
	// CheckStatuses replace the allocation's when not nil.
	CheckStatuses []cluster.CheckStatus `json:"check_statuses,omitempty"`
}

// AllocClientUpdateRequest is a batch of agent reports, with evaluations
// they trigger (a failed allocation to reschedule).
type AllocClientUpdateRequest struct {
	Allocs []AllocClientState    `json:"allocs"`
	Evals  []*cluster.Evaluation `json:"evals,omitempty"`
	Now    time.Time             `json:"now"`
}

// AllocClientUpdateResponse says how many reports were stored; Unknown
// lists allocations the servers do not know (garbage collected), which the
// agent should drop.
type AllocClientUpdateResponse struct {
	Updated int      `json:"updated"`
	Unknown []string `json:"unknown,omitempty"`
}

// EvalUpsertRequest creates or replaces evaluations.
type EvalUpsertRequest struct {
	Evals []*cluster.Evaluation `json:"evals"`
	Now   time.Time             `json:"now"`
}

// EvalStatus is a status change of one evaluation.
type EvalStatus struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
}

// EvalStatusRequest changes the status of evaluations.
type EvalStatusRequest struct {
	Updates []EvalStatus `json:"updates"`
	Now     time.Time    `json:"now"`
}

// DeploymentUpsertRequest creates or replaces a deployment.
type DeploymentUpsertRequest struct {
	Deployment *cluster.Deployment `json:"deployment"`
	Now        time.Time           `json:"now"`
}

// DeploymentStatusUpdate is a status change of one deployment.
type DeploymentStatusUpdate struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
}

// DeploymentStatusRequest changes a deployment's status, with the
// evaluation that follows (for example after a failure with auto-revert).
type DeploymentStatusRequest struct {
	Update DeploymentStatusUpdate `json:"update"`
	Eval   *cluster.Evaluation    `json:"eval,omitempty"`
	Now    time.Time              `json:"now"`
}

// DeploymentPromoteRequest promotes the canaries of every group of a
// deployment that has unpromoted ones, in place: the counters the FSM
// keeps are not overwritten by a stale copy, as an upsert would.
type DeploymentPromoteRequest struct {
	ID          string              `json:"id"`
	Description string              `json:"description,omitempty"`
	Eval        *cluster.Evaluation `json:"eval,omitempty"`
	Now         time.Time           `json:"now"`
}

// SyncStatusRequest creates or replaces the sync status of a source.
type SyncStatusRequest struct {
	Status *cluster.SyncStatus `json:"status"`
	Now    time.Time           `json:"now"`
	// CheckIndex, when set, makes the write conditional on the stored
	// status's ModifyIndex (0: there is none): the reconciler and the
	// deployment watcher both read-modify-write a source's status, and
	// neither may drop what the other recorded.
	CheckIndex *uint64 `json:"check_index,omitempty"`
}
