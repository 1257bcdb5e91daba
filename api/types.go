package api

import (
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/scheduler"
)

// Headers of every response.
const (
	HeaderIndex       = "X-Drover-Index"       // the state index the answer reflects
	HeaderKnownLeader = "X-Drover-KnownLeader" // "true" when the answering server knows a leader
	HeaderLastContact = "X-Drover-LastContact" // ms since the answering follower last heard from the leader
	// HeaderNextToken is a paged list's next_token for the next page
	// (Nomad's X-Nomad-NextToken, which the server sets too); absent on
	// the last page.
	HeaderNextToken = "X-Drover-NextToken"
)

// DefaultAddr is where a server listens unless told otherwise: loopback
// only, so that an unauthenticated API is never reachable from the network.
const DefaultAddr = "127.0.0.1:4747"

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Diagnostics are the positioned problems of an invalid job.
	Diagnostics []render.DiagnosticJSON `json:"diagnostics,omitempty"`
}

// JobRegisterRequest is POST /v1/jobs.
type JobRegisterRequest struct {
	Job *jobspec.Job `json:"job"`
	// Source ties the version to a Git commit; nil submits an unmanaged
	// job (drover job run).
	Source *cluster.Source `json:"source,omitempty"`
	// CheckIndex, when set, makes the submit a compare-and-set: it only
	// succeeds if the job's current JobModifyIndex equals it (0: the job
	// must not exist). A mismatch answers 409 and changes nothing.
	CheckIndex *uint64 `json:"check_index,omitempty"`
}

// JobRegisterResponse answers POST /v1/jobs.
type JobRegisterResponse struct {
	EvalID         string `json:"eval_id,omitempty"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	Version        uint64 `json:"version"`
	// Unchanged is true when the submitted spec equals the current
	// version: no new version and no evaluation were created.
	Unchanged bool     `json:"unchanged,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Index     uint64   `json:"index"`
}

// PeriodicForceResponse answers POST /v1/job/{id}/periodic/force: the
// child job launched and its evaluation.
type PeriodicForceResponse struct {
	ChildID         string `json:"child_id"`
	EvalID          string `json:"eval_id"`
	EvalCreateIndex uint64 `json:"eval_create_index"`
	Index           uint64 `json:"index"`
}

// JobDeregisterResponse answers DELETE /v1/job/{id}.
type JobDeregisterResponse struct {
	EvalID         string `json:"eval_id,omitempty"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	Index          uint64 `json:"index"`
}

// JobPlanRequest is POST /v1/job/{id}/plan: a dry run.
type JobPlanRequest struct {
	Job *jobspec.Job `json:"job"`
}

// JobPlanResponse answers a dry run: the diff against the running
// version and what the scheduler would do.
type JobPlanResponse struct {
	// Diff is the plan in the versioned JSON schema of render/SCHEMA.md.
	Diff render.JSONPlan `json:"diff"`
	// Annotations count, per group, what the scheduler would do.
	Annotations map[string]*scheduler.DesiredUpdates `json:"annotations,omitempty"`
	// FailedTGAllocs explain, per group, placements that would fail.
	FailedTGAllocs map[string]*cluster.AllocMetric `json:"failed_tg_allocs,omitempty"`
	// Explanations are FailedTGAllocs in words, per group (scheduler.Explain).
	Explanations map[string][]string `json:"explanations,omitempty"`
	// RolloutOrder is, per group with a rollout block, the nodes running
	// the group's allocations in the order a destructive update replaces
	// them (scheduler.CurrentRolloutOrder). A group without allocations
	// has an empty list.
	RolloutOrder map[string][]scheduler.OrderedNode `json:"rollout_order,omitempty"`
	// JobModifyIndex is the current version's index, for a following
	// submit with check_index (0: the job does not exist).
	JobModifyIndex uint64   `json:"job_modify_index"`
	Warnings       []string `json:"warnings,omitempty"`
	// Sensitive are the extra key globs the diff was masked by, besides
	// the secret-looking-key rules: the `sensitive` list of the source the
	// running version came from, else of every source (see the server's
	// planSensitive). A client that renders the diff itself masks by
	// them too.
	Sensitive []string `json:"sensitive,omitempty"`
}

// JobListStub is one row of GET /v1/jobs.
type JobListStub struct {
	ID         string          `json:"id"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Type       jobspec.JobType `json:"type"`
	Priority   int             `json:"priority"`
	Version    uint64          `json:"version"`
	Status     string          `json:"status"`
	Stop       bool            `json:"stop,omitempty"`
	Source     *cluster.Source `json:"source,omitempty"` // nil: unmanaged
	SubmitTime time.Time       `json:"submit_time"`
	// ParentID is the periodic job a child was launched from.
	ParentID string `json:"parent_id,omitempty"`
	// BeforeStop is, for a job stopped by hand (its latest version is a
	// stop with no source, cluster.Job.StoppedByHand), the source of the
	// version the stop replaced: the commit a Git-managed job came from.
	BeforeStop *cluster.Source `json:"before_stop,omitempty"`
	// NotLaunched is the kind of a job Drover stores but does not run yet
	// ("parameterized": jobspec.Job.NotLaunched); "" for a
	// job that runs.
	NotLaunched string `json:"not_launched,omitempty"`
	// NextPeriodicLaunch is a periodic job's next launch, in its
	// time_zone, as the server's leader computes it on the server's
	// clock (a launch already due is now); nil when the leader launches
	// nothing of it: not periodic, disabled, stopped or parameterized.
	NextPeriodicLaunch *time.Time `json:"next_periodic_launch,omitempty"`
	// Summary counts allocations per group and client status.
	Summary        map[string]map[string]int `json:"summary,omitempty"`
	JobModifyIndex uint64                    `json:"job_modify_index"`
	ModifyIndex    uint64                    `json:"modify_index"`
}

// NodeRegisterRequest is POST /v1/nodes.
type NodeRegisterRequest struct {
	Node *cluster.Node `json:"node"`
}

// NodeRegisterResponse tells a node how often it must heartbeat.
type NodeRegisterResponse struct {
	NodeID string `json:"node_id"`
	// NodeSecret is set when the servers made the node's secret: for a
	// node that registered without one (in HeaderNodeSecret). The node
	// must keep it and send it on its own calls from now on; the servers
	// keep only its hash and never show it again.
	NodeSecret   string        `json:"node_secret,omitempty"`
	HeartbeatTTL time.Duration `json:"heartbeat_ttl"`
	Index        uint64        `json:"index"`
}

// HeartbeatResponse answers PUT /v1/node/{id}/heartbeat.
type HeartbeatResponse struct {
	HeartbeatTTL time.Duration `json:"heartbeat_ttl"`
	Index        uint64        `json:"index"`
}

// NodeEligibilityRequest is POST /v1/node/{id}/eligibility.
type NodeEligibilityRequest struct {
	Eligible bool `json:"eligible"`
}

// NodeDrainRequest is POST /v1/node/{id}/drain.
type NodeDrainRequest struct {
	Enable bool `json:"enable"`
}

// NodeListStub is one row of GET /v1/nodes.
type NodeListStub struct {
	ID                    string             `json:"id"`
	Name                  string             `json:"name"`
	Datacenter            string             `json:"datacenter"`
	NodeClass             string             `json:"node_class,omitempty"`
	NodePool              string             `json:"node_pool,omitempty"`
	Status                cluster.NodeStatus `json:"status"`
	SchedulingEligibility string             `json:"scheduling_eligibility"`
	Drain                 bool               `json:"drain,omitempty"`
	Drivers               []string           `json:"drivers,omitempty"` // healthy ones
	// Allocated and Total are in MHz and MB.
	Allocated     cluster.NodeResources `json:"allocated"`
	Total         cluster.NodeResources `json:"total"`
	RunningAllocs int                   `json:"running_allocs"`
	ModifyIndex   uint64                `json:"modify_index"`
}

// AllocUpdateRequest is POST /v1/node/{id}/allocations: an agent reports
// the client status and task states of its allocations.
type AllocUpdateRequest struct {
	Allocs []*cluster.Allocation `json:"allocs"`
}

// WriteResponse answers writes that return nothing else.
type WriteResponse struct {
	Index uint64 `json:"index"`
}

// JoinRequest is POST /v1/operator/raft/join: a server asks the cluster to
// add it as a voter.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	// Proof is the joining server's proof that it holds a server
	// certificate of the cluster CA, signed over ID, RaftAddr and
	// HTTPAddr: an API token alone cannot add a voter.
	Proof *ServerProof `json:"proof,omitempty"`
}

// ServerMember is one server of the cluster.
type ServerMember struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	Leader   bool   `json:"leader"`
	Voter    bool   `json:"voter"`
}

// LeaderResponse answers GET /v1/status/leader.
type LeaderResponse struct {
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	ID       string `json:"id,omitempty"`
}

// HealthResponse answers GET /v1/agent/health: 200 when healthy, 503
// otherwise, with the same body.
type HealthResponse struct {
	Server *HealthStatus `json:"server,omitempty"`
	Client *HealthStatus `json:"client,omitempty"`
}

// HealthStatus is one side's health.
type HealthStatus struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// AllocUpdateResponse answers POST /v1/node/{id}/allocations.
type AllocUpdateResponse struct {
	Updated int `json:"updated"`
	// Unknown lists allocations the servers do not know (or that are not
	// placed on this node): the agent should drop them.
	Unknown []string `json:"unknown,omitempty"`
	Index   uint64   `json:"index"`
}

// AgentSelf answers GET /v1/agent/self: who this server is. Servers
// started with bootstrap_expect read it from each other to agree on the
// first Raft configuration.
type AgentSelf struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	RaftAddr        string `json:"raft_addr"`
	HTTPAddr        string `json:"http_addr"`
	Version         string `json:"version,omitempty"`
	BootstrapExpect int    `json:"bootstrap_expect"`
	// Bootstrapped is true once the server is part of a Raft
	// configuration (it bootstrapped, joined, or restarted with state).
	Bootstrapped bool   `json:"bootstrapped"`
	Leader       bool   `json:"leader"`
	KnownLeader  bool   `json:"known_leader"`
	LeaderID     string `json:"leader_id,omitempty"`
}
