package cluster

import (
	"fmt"
	"regexp"
	"strings"
)

// Nomad's two built-in node pools. Every node is in "all"; a node or a
// job that names no pool is in "default". Neither can be changed or
// deleted, and a node may not register in "all".
const (
	NodePoolAll     = "all"
	NodePoolDefault = "default"

	nodePoolAllDescription     = "Node pool with all nodes in the cluster."
	nodePoolDefaultDescription = "Default node pool."
)

// Node pool bounds: Nomad's name rule and description length, and
// Drover's own bound on the metadata a pool may carry (every server
// holds it in memory and every snapshot repeats it).
const (
	MaxNodePoolDescription = 256
	MaxNodePoolMeta        = 64
	maxNodePoolMetaKey     = 128
	maxNodePoolMetaValue   = 1024
)

var validNodePoolName = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,128}$`)

// ValidateNodePoolName checks a pool name by Nomad's rule. Every entry
// point (the API, the agent's configuration, the CLI, the job) uses it.
func ValidateNodePoolName(name string) error {
	if !validNodePoolName.MatchString(name) {
		return fmt.Errorf("invalid name %q, must match regex %s", name, validNodePoolName)
	}
	return nil
}

// IsBuiltInNodePool reports whether name is "all" or "default".
func IsBuiltInNodePool(name string) bool {
	return name == NodePoolAll || name == NodePoolDefault
}

// BuiltInNodePool returns the built-in pool of that name, or nil. They
// are never written to the state: they exist from the start, always.
func BuiltInNodePool(name string) *NodePool {
	switch name {
	case NodePoolAll:
		return &NodePool{Name: NodePoolAll, Description: nodePoolAllDescription, CreateIndex: 1, ModifyIndex: 1}
	case NodePoolDefault:
		return &NodePool{Name: NodePoolDefault, Description: nodePoolDefaultDescription, CreateIndex: 1, ModifyIndex: 1}
	}
	return nil
}

// NodePoolOf is the pool a node is in: its node_pool, "default" when it
// names none (a node registered before pools existed).
func NodePoolOf(n *Node) string {
	if n == nil || n.NodePool == "" {
		return NodePoolDefault
	}
	return n.NodePool
}

// Validate checks a pool an operator writes: Nomad's name rule and
// description bound, bounded metadata, and none of the built-ins, which
// Nomad does not let anyone modify.
func (p *NodePool) Validate() error {
	if p == nil {
		return fmt.Errorf("no node pool given")
	}
	var problems []string
	if err := ValidateNodePoolName(p.Name); err != nil {
		problems = append(problems, err.Error())
	}
	if len(p.Description) > MaxNodePoolDescription {
		problems = append(problems, fmt.Sprintf("description longer than %d", MaxNodePoolDescription))
	}
	if len(p.Meta) > MaxNodePoolMeta {
		problems = append(problems, fmt.Sprintf("meta has %d keys; at most %d are allowed", len(p.Meta), MaxNodePoolMeta))
	}
	for k, v := range p.Meta {
		if k == "" || len(k) > maxNodePoolMetaKey || len(v) > maxNodePoolMetaValue {
			problems = append(problems, fmt.Sprintf("meta key %q: keys must have 1 to %d bytes and values at most %d", truncate(k, 40), maxNodePoolMetaKey, maxNodePoolMetaValue))
			break
		}
	}
	if p.SchedulerAlgorithm != "" {
		problems = append(problems, "scheduler_algorithm per node pool is a Nomad Enterprise setting Drover does not have; remove it")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid node pool %q: %s", truncate(p.Name, 140), strings.Join(problems, "; "))
	}
	if IsBuiltInNodePool(p.Name) {
		return fmt.Errorf("modifying node pool %q is not allowed", p.Name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ValidateNodeNodePool checks the pool a node registers in, with
// Nomad's messages: "" (meaning "default") or a valid name other than
// "all", which holds every node by definition.
func ValidateNodeNodePool(pool string) error {
	if pool == "" {
		return nil
	}
	if err := ValidateNodePoolName(pool); err != nil {
		return fmt.Errorf("invalid node pool: %v", err)
	}
	if pool == NodePoolAll {
		return fmt.Errorf("node is not allowed to register in node pool %q", NodePoolAll)
	}
	return nil
}
