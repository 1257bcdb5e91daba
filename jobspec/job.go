package jobspec

// JobType says how the scheduler treats a job's allocations.
type JobType string

// The job types Nomad knows, with the same meaning.
const (
	JobTypeService  JobType = "service"
	JobTypeBatch    JobType = "batch"
	JobTypeSystem   JobType = "system"
	JobTypeSysBatch JobType = "sysbatch"
)

// Job is one job file's desired state, after variables were resolved and
// defaults applied. Its JSON encoding (see Canonical) is the canonical form
// that is hashed and stored.
type Job struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Type        JobType           `json:"type"`
	Region      string            `json:"region"`
	Namespace   string            `json:"namespace"`
	Datacenters []string          `json:"datacenters"`
	Priority    int               `json:"priority"`
	Meta        map[string]string `json:"meta,omitempty"`

	Constraints []Constraint `json:"constraints,omitempty"`
	Affinities  []Affinity   `json:"affinities,omitempty"`
	Spreads     []Spread     `json:"spreads,omitempty"`

	// Update is never set on a parsed job: the job-level update block is
	// merged into every group's Update, as Nomad does, so that moving an
	// update block from job to group level is not a change.
	Update *UpdateStrategy `json:"update,omitempty"`

	Periodic      *Periodic      `json:"periodic,omitempty"`
	Parameterized *Parameterized `json:"parameterized,omitempty"`

	// NodePool confines the job to nodes of this pool ("" = "default";
	// "all" = any node). See JobNodePool.
	NodePool string `json:"node_pool,omitempty"`
	// UI is the job's ui block, shown by job status.
	UI *JobUI `json:"ui,omitempty"`
	// Payload is a dispatched job's payload (parameterized children only;
	// at most 16 KiB), written to each task's dispatch_payload file.
	Payload []byte `json:"payload,omitempty"`

	Groups []*Group `json:"groups"`
}

// Group returns the group with the given name, or nil.
func (j *Job) Group(name string) *Group {
	for _, g := range j.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// NotLaunched says whether Drover stores the job without running it, and
// why: kind is "parameterized" (the job runs only as the children that
// `drover job dispatch` creates), and reason is what a user reads
// ("stored; runs when dispatched (drover job dispatch)"). Both are
// "" for a job that runs, and for nil. A periodic job runs: the leader
// launches its children on schedule (server/periodic.go). The server
// creates no evaluation for a parameterized job; job status, the job
// list, plans and sync status say so, all from this one decision.
func (j *Job) NotLaunched() (kind, reason string) {
	if j != nil && j.Parameterized != nil {
		return "parameterized", "stored; runs when dispatched (drover job dispatch)"
	}
	return "", ""
}

// NotLaunchedNote is NotLaunched in one phrase, as plans show it next to
// the job ("parameterized job: stored; runs when dispatched ..."); "" for a
// job that runs.
func (j *Job) NotLaunchedNote() string {
	kind, reason := j.NotLaunched()
	if kind == "" {
		return ""
	}
	return kind + " job: " + reason
}

// Periodic makes a batch job run on a cron schedule.
type Periodic struct {
	Crons           []string `json:"crons"`
	ProhibitOverlap bool     `json:"prohibit_overlap,omitempty"`
	TimeZone        string   `json:"time_zone,omitempty"`
	Enabled         bool     `json:"enabled"`
}

// Parameterized makes a batch job a template that is dispatched with a
// payload and metadata.
type Parameterized struct {
	Payload      string   `json:"payload"` // optional, required or forbidden
	MetaRequired []string `json:"meta_required,omitempty"`
	MetaOptional []string `json:"meta_optional,omitempty"`
}
