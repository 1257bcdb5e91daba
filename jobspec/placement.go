package jobspec

// Constraint filters the nodes a job, group or task may run on.
// Attribute is left as written (for example "${attr.kernel.name}"): it is
// resolved on each node by the scheduler.
type Constraint struct {
	Attribute string `json:"attribute,omitempty"`
	Operator  string `json:"operator"`
	Value     string `json:"value,omitempty"`
}

// Affinity prefers (positive weight) or avoids (negative) matching nodes.
type Affinity struct {
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     string `json:"value"`
	Weight    int    `json:"weight"`
}

// Spread spreads allocations over the values of a node attribute.
type Spread struct {
	Attribute string         `json:"attribute"`
	Weight    int            `json:"weight"`
	Targets   []SpreadTarget `json:"targets,omitempty"`
}

// SpreadTarget is the share of allocations a spread value should get.
type SpreadTarget struct {
	Value   string `json:"value"`
	Percent int    `json:"percent"`
}
