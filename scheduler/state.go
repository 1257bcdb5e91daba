package scheduler

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/droverhq/drover/cluster"
)

// State is what the scheduler reads. The state store's snapshot implements
// it; the scheduler never writes through it and never keeps it past one
// call. Slices and records it returns are shared and must not be mutated.
type State interface {
	// Nodes returns every node. The scheduler sorts a copy by ID when the
	// state's order is not already sorted, so any order is valid.
	Nodes() []*cluster.Node
	Node(id string) *cluster.Node
	// Job returns the latest version of a job, nil if there is none.
	Job(namespace, id string) *cluster.Job
	// JobVersion returns one version of a job, nil if it is unknown.
	JobVersion(namespace, id string, version uint64) *cluster.Job
	AllocsByJob(namespace, jobID string) []*cluster.Allocation
	AllocsByNode(nodeID string) []*cluster.Allocation
	LatestDeployment(namespace, jobID string) *cluster.Deployment
}

// Options are the inputs of a scheduling decision that do not come from
// the state: the clock, the randomness and the source of IDs. The same
// state, evaluation and options give the same plan.
type Options struct {
	Now time.Time
	// Rand shuffles the nodes and picks dynamic ports. The caller seeds it.
	Rand *rand.Rand
	// NewID returns a fresh ID for an allocation, evaluation or
	// deployment.
	NewID func() string
}

// ErrInvalidOptions is returned by Process when Options lack a clock,
// randomness or an ID source.
var ErrInvalidOptions = errors.New("scheduler: Options need Now, Rand and NewID")

func (o Options) validate() error {
	if o.Now.IsZero() || o.Rand == nil || o.NewID == nil {
		return ErrInvalidOptions
	}
	return nil
}
