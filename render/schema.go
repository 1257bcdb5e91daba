package render

// The JSON schema, version SchemaVersion. SCHEMA.md documents every field;
// a change that renames, removes or retypes a field bumps SchemaVersion,
// adding a field does not. Lists are never null and keep the plan's order.

// SchemaVersion is the version of the JSON schema that JSON writes.
const SchemaVersion = 1

// JSONPlan is the top-level document.
type JSONPlan struct {
	SchemaVersion int         `json:"schema_version"`
	Base          string      `json:"base"`
	Head          string      `json:"head"`
	HasChanges    bool        `json:"has_changes"`
	Summary       JSONSummary `json:"summary"`
	Jobs          []JSONJob   `json:"jobs"`
	// Waves is the rollout order given by depends_on; empty when every
	// job starts at once.
	Waves []JSONWave `json:"waves"`
	// Sealed lists the sealed variables the plan changes: paths and
	// counts of items, never a value (added in issue 16; omitted when
	// none, so version 1 documents are unchanged).
	Sealed []SealedNote `json:"sealed,omitempty"`
}

// JSONSummary counts jobs.
type JSONSummary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Stop      int `json:"stop"`
	Unchanged int `json:"unchanged"`
}

// JSONJob is one changed job.
type JSONJob struct {
	ID          string          `json:"id"`
	Action      string          `json:"action"`
	Type        string          `json:"type"`
	Marker      string          `json:"marker"`
	Allocations JSONAllocations `json:"allocations"`
	Fields      []JSONField     `json:"fields"`
	Objects     []JSONObject    `json:"objects"`
	Groups      []JSONGroup     `json:"groups"`
	// NotLaunched says why applying the plan stores the job without
	// running it (a parameterized job); "" when it runs.
	NotLaunched string `json:"not_launched"`
}

// JSONAllocations counts what the plan does to allocations.
type JSONAllocations struct {
	Create              int `json:"create"`
	Destroy             int `json:"destroy"`
	InPlaceUpdate       int `json:"in_place_update"`
	CreateDestroyUpdate int `json:"create_destroy_update"`
	Ignore              int `json:"ignore"`
}

// JSONGroup is one task group of a changed job.
type JSONGroup struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Marker      string          `json:"marker"`
	Allocations JSONAllocations `json:"allocations"`
	Reasons     []JSONReason    `json:"reasons"`
	Fields      []JSONField     `json:"fields"`
	Objects     []JSONObject    `json:"objects"`
	Tasks       []JSONTask      `json:"tasks"`
}

// JSONReason is one change that forces a create/destroy update.
type JSONReason struct {
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	Path   string `json:"path"`
	Change string `json:"change"`
	Text   string `json:"text"`
}

// JSONTask is one task of a group.
type JSONTask struct {
	Name        string       `json:"name"`
	Type        string       `json:"type"`
	Marker      string       `json:"marker"`
	Annotations []string     `json:"annotations"`
	Fields      []JSONField  `json:"fields"`
	Objects     []JSONObject `json:"objects"`
}

// JSONObject is one changed block.
type JSONObject struct {
	Name        string       `json:"name"`
	Key         string       `json:"key"`
	Path        string       `json:"path"`
	Type        string       `json:"type"`
	Marker      string       `json:"marker"`
	Annotations []string     `json:"annotations"`
	Fields      []JSONField  `json:"fields"`
	Objects     []JSONObject `json:"objects"`
}

// JSONField is one changed value. Before and After are null when the value
// is unset on that side.
type JSONField struct {
	Name        string   `json:"name"`
	Path        string   `json:"path"`
	Type        string   `json:"type"`
	Marker      string   `json:"marker"`
	Before      *string  `json:"before"`
	After       *string  `json:"after"`
	Sensitive   bool     `json:"sensitive"`
	Annotations []string `json:"annotations"`
}
