package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"time"
)

// NodeStatus is a node's liveness as the servers see it.
type NodeStatus string

// Node statuses, as in Nomad.
const (
	NodeStatusInit  NodeStatus = "initializing"
	NodeStatusReady NodeStatus = "ready"
	NodeStatusDown  NodeStatus = "down"
)

// Scheduling eligibility of a node.
const (
	NodeEligible   = "eligible"
	NodeIneligible = "ineligible"
)

// Default dynamic port range, as in Nomad.
const (
	DefaultMinDynamicPort = 20000
	DefaultMaxDynamicPort = 32000
)

// Node is a client agent's machine: what it is (attributes, meta, drivers)
// and what it has (resources).
type Node struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Datacenter string `json:"datacenter"`
	NodeClass  string `json:"node_class,omitempty"`
	// Attributes are fingerprinted facts, addressed in constraints as
	// ${attr.<key>}: "kernel.name", "os.name", "cpu.arch",
	// "unique.hostname", "driver.exec", ...
	Attributes map[string]string `json:"attributes,omitempty"`
	// Meta is operator-set metadata, addressed as ${meta.<key>}.
	Meta map[string]string `json:"meta,omitempty"`

	Resources NodeResources `json:"resources"`
	// Reserved is held back for the host itself and never scheduled.
	Reserved NodeResources `json:"reserved"`
	// ReservedPorts are host ports the scheduler must never hand out.
	ReservedPorts  []int                 `json:"reserved_ports,omitempty"`
	MinDynamicPort int                   `json:"min_dynamic_port"`
	MaxDynamicPort int                   `json:"max_dynamic_port"`
	Drivers        map[string]DriverInfo `json:"drivers,omitempty"`

	HTTPAddr string `json:"http_addr,omitempty"`

	// NodePool is the agent's node_pool ("" = "default").
	NodePool string `json:"node_pool,omitempty"`
	// HostVolumes are the agent's host_volume blocks by name.
	HostVolumes map[string]HostVolume `json:"host_volumes,omitempty"`

	// SecretHash is HashNodeSecret of the node's secret, which
	// authenticates the node's own calls: re-registration, heartbeats,
	// allocation updates (Nomad's Node.SecretID). The servers store only
	// this hash, and the HTTP API never serves it. "" marks a node
	// registered before nodes had secrets: its next registration sets one.
	SecretHash string `json:"secret_hash,omitempty"`

	Status                NodeStatus `json:"status"`
	StatusDescription     string     `json:"status_description,omitempty"`
	StatusUpdatedAt       time.Time  `json:"status_updated_at"`
	SchedulingEligibility string     `json:"scheduling_eligibility"`
	Drain                 bool       `json:"drain,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// NodeResources is a node's capacity. CPU is total MHz over all cores.
type NodeResources struct {
	CPU      int `json:"cpu"`
	Cores    int `json:"cores,omitempty"`
	MemoryMB int `json:"memory_mb"`
	DiskMB   int `json:"disk_mb,omitempty"`
}

// DriverInfo is what a node's fingerprint says of one task driver.
type DriverInfo struct {
	Detected    bool              `json:"detected"`
	Healthy     bool              `json:"healthy"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Node secrets are random and at least 128 bits: NewNodeSecret makes 256
// (64 hex digits); one a node brings is checked by ValidNodeSecret.
const (
	nodeSecretBytes     = 32
	minNodeSecretLength = 32
	maxNodeSecretLength = 128
)

// NewNodeSecret returns a fresh random node secret.
func NewNodeSecret() string {
	var b [nodeSecretBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's contract)
	return hex.EncodeToString(b[:])
}

// ValidNodeSecret checks the shape of a secret a node brings: 32 to 128
// characters of [A-Za-z0-9_-], so that it travels in a header as is. It
// cannot check the randomness; the agent's come from NewNodeSecret.
func ValidNodeSecret(s string) error {
	if len(s) < minNodeSecretLength || len(s) > maxNodeSecretLength {
		return fmt.Errorf("a node secret must have %d to %d characters, not %d", minNodeSecretLength, maxNodeSecretLength, len(s))
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return errors.New("a node secret must have only letters, digits, '-' and '_'")
		}
	}
	return nil
}

// HashNodeSecret returns what the servers store of a node secret. One
// round of SHA-256 is enough: the secret is random and long, so there is
// no dictionary to try, unlike a password.
func HashNodeSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches reports whether secret is the node's, in constant time.
// A node without a stored secret matches none.
func (n *Node) SecretMatches(secret string) bool {
	if n.SecretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashNodeSecret(secret)), []byte(n.SecretHash)) == 1
}

// Ready reports whether the scheduler may place new work on the node.
func (n *Node) Ready() bool {
	return n.Status == NodeStatusReady && n.SchedulingEligibility != NodeIneligible && !n.Drain
}

// Copy returns a deep copy, for writers that must not touch a record that
// readers of an older snapshot may still hold.
func (n *Node) Copy() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Attributes = copyMap(n.Attributes)
	c.Meta = copyMap(n.Meta)
	c.ReservedPorts = append([]int(nil), n.ReservedPorts...)
	c.HostVolumes = maps.Clone(n.HostVolumes)
	if n.Drivers != nil {
		c.Drivers = make(map[string]DriverInfo, len(n.Drivers))
		for k, v := range n.Drivers {
			v.Attributes = copyMap(v.Attributes)
			c.Drivers[k] = v
		}
	}
	return &c
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// HostVolume is one `host_volume "name" { path read_only }` of an agent's
// configuration, fingerprinted onto its node.
type HostVolume struct {
	Path     string `json:"path"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// NodePool is a named set of nodes (Nomad's node pools). "default" and
// "all" always exist; others are created with `drover node pool apply`.
type NodePool struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	// SchedulerAlgorithm overrides the scheduler's binpack/spread for
	// jobs in the pool ("" = the cluster's).
	SchedulerAlgorithm string `json:"scheduler_algorithm,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}
