// Package allocrunner runs one allocation on a client node: its
// directory, its tasks through their drivers with restarts and lifecycle
// hooks, and the client status and task states the agent reports back.
//
// A Runner's loop decides what to do from its tasks' states with a pure
// function (decide) and then does it; each task has a runner goroutine
// that starts, waits for and restarts it. Every state change is written
// to the agent's local state before it is reported, so that a restarted
// agent can re-attach (Config.Restore).
package allocrunner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// Config is what a Runner needs.
type Config struct {
	Alloc *cluster.Allocation
	// Job is the job version the allocation runs.
	Job  *jobspec.Job
	Node *cluster.Node
	// IP is where the allocation's ports are reachable.
	IP string
	// Dir is the allocation directory.
	Dir     string
	Drivers *drivers.Registry
	DB      *localstate.DB
	Logger  *slog.Logger
	// OnUpdate receives the allocation's client view (client status,
	// description, task states) after every change. It must not block.
	OnUpdate func(*cluster.Allocation)
	// Restore is the allocation's stored record when the agent restarts;
	// nil for an allocation new to this node.
	Restore *localstate.AllocRecord
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Identities fetches the tasks' signed workload identities
	// (identity.go); nil when the agent cannot.
	Identities IdentityFetcher
	// Live answers the templates' nomadVar and nomadService queries
	// (template_live.go); nil when the agent cannot.
	Live LiveSource
	// Metrics, when set, hears restarts and driver start times
	// (metrics.go).
	Metrics TaskObserver
}

// Runner runs one allocation.
type Runner struct {
	cfg   Config
	id    string
	log   *slog.Logger
	dir   allocDir
	group *jobspec.Group
	order []*taskRunner
	kickC chan struct{}
	// allocC wakes the health tracker when the servers send a new
	// version of the allocation.
	allocC chan struct{}
	done   chan struct{}

	mu            sync.Mutex
	alloc         *cluster.Allocation
	stopRequested bool
	suspended     bool
	finished      bool
	setupErr      string
	// health is the verdict of the health tracker for deployment
	// healthFor, reported with the client view.
	health    *cluster.AllocDeploymentStatus
	healthFor string

	// disconnected is why the agent stopped the allocation, cut off from
	// the servers (disconnect.go); empty otherwise.
	disconnected string

	// checks are the service checks' last results (check_status.go).
	checks checkStatuses
}

// New checks the allocation against its job and returns a runner; Run
// runs it.
func New(cfg Config) (*Runner, error) {
	a := cfg.Alloc
	if cfg.Job == nil {
		return nil, fmt.Errorf("allocation %s: no job", a.ID)
	}
	if err := checkAllocID(a.ID); err != nil {
		return nil, err
	}
	g := cfg.Job.Group(a.TaskGroup)
	if g == nil {
		return nil, fmt.Errorf("allocation %s: job %s version %d has no group %q", a.ID, a.JobID, a.JobVersion, a.TaskGroup)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		cfg: cfg, id: a.ID, alloc: a, group: g, dir: allocDir{root: cfg.Dir},
		log:    cfg.Logger.With("alloc", a.ID, "job", a.JobID, "group", a.TaskGroup),
		kickC:  make(chan struct{}, 1),
		allocC: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	for _, t := range g.Tasks {
		var rec *localstate.TaskRecord
		if cfg.Restore != nil {
			rec = cfg.Restore.Tasks[t.Name]
		}
		r.order = append(r.order, newTaskRunner(r, t, rec))
	}
	if a.DesiredStatus == cluster.AllocDesiredStop || a.DesiredStatus == cluster.AllocDesiredEvict {
		r.stopRequested = true
	}
	return r, nil
}

// ID returns the allocation ID.
func (r *Runner) ID() string { return r.id }

// Dir returns the allocation directory.
func (r *Runner) Dir() string { return r.cfg.Dir }

// LogDir returns where the tasks' logs are.
func (r *Runner) LogDir() string { return r.dir.logs() }

// Done is closed when Run returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Alloc returns the allocation as the servers last sent it.
func (r *Runner) Alloc() *cluster.Allocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alloc
}

// HasTask reports whether the allocation's group has the task.
func (r *Runner) HasTask(name string) bool { return r.group.Task(name) != nil }

// TaskNames returns the group's task names in job-file order.
func (r *Runner) TaskNames() []string {
	out := make([]string, len(r.order))
	for i, tr := range r.order {
		out[i] = tr.task.Name
	}
	return out
}

// TaskDead reports whether a task will never run again here.
func (r *Runner) TaskDead(name string) bool {
	for _, tr := range r.order {
		if tr.task.Name == name {
			return tr.view().Dead
		}
	}
	return true
}

// Finished reports whether every task is dead for good.
func (r *Runner) Finished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished
}

// Update hands the runner a newer version of the allocation from the
// servers. A desired status of stop or evict stops it.
func (r *Runner) Update(a *cluster.Allocation) {
	r.mu.Lock()
	stop := !r.stopRequested && (a.DesiredStatus == cluster.AllocDesiredStop || a.DesiredStatus == cluster.AllocDesiredEvict)
	r.alloc = a
	if stop {
		r.stopRequested = true
	}
	r.mu.Unlock()
	select {
	case r.allocC <- struct{}{}:
	default:
	}
	if stop {
		if err := r.cfg.DB.PutAlloc(a, nil); err != nil {
			r.log.Error("persist allocation", "err", err)
		}
		r.log.Info("stopping allocation", "desired", a.DesiredStatus, "reason", a.DesiredDescription)
	}
	r.kickLoop()
}

// Stop asks the runner to stop every task, as a desired stop does.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopRequested = true
	r.mu.Unlock()
	r.kickLoop()
}

// Suspend stops every task without ending the allocation: the tasks are
// recorded as not started, so that the next agent on this data dir starts
// them again, and the servers see the allocation pending meanwhile. drover
// dev does this when it stops, since its tasks must not outlive it.
// Wait for Done afterwards.
func (r *Runner) Suspend(reason string) {
	r.mu.Lock()
	r.suspended = true
	r.mu.Unlock()
	for _, tr := range r.order {
		tr.suspend(reason)
	}
	r.kickLoop()
}

func (r *Runner) kickLoop() {
	select {
	case r.kickC <- struct{}{}:
	default:
	}
}

func (r *Runner) now() time.Time { return r.cfg.Now() }

func (r *Runner) batch() bool {
	t := r.cfg.Job.Type
	return t == jobspec.JobTypeBatch || t == jobspec.JobTypeSysBatch
}

func (r *Runner) jobName() string {
	if r.cfg.Job.Name != "" {
		return r.cfg.Job.Name
	}
	return r.cfg.Job.ID
}

func (r *Runner) driverFor(t *jobspec.Task) drivers.Driver {
	d, ok := r.cfg.Drivers.Lookup(t.Driver)
	if !ok {
		return nil
	}
	return d
}

// Run runs the allocation until every task is dead for good, or ctx ends
// (the agent shuts down: tasks keep running, to be re-attached).
func (r *Runner) Run(ctx context.Context) {
	defer close(r.done)
	var wg sync.WaitGroup
	defer wg.Wait()

	launch := func(tr *taskRunner) {
		tr.mu.Lock()
		tr.launched = true
		tr.mu.Unlock()
		wg.Go(func() { tr.run(ctx) })
	}
	if !r.batch() && r.group.Update != nil {
		hctx, cancelHealth := context.WithCancel(ctx)
		defer cancelHealth() // runs before wg.Wait
		wg.Go(func() { r.runHealth(hctx) })
	}
	if !r.batch() && r.hasServiceChecks() {
		cctx, cancelChecks := context.WithCancel(ctx)
		defer cancelChecks() // runs before wg.Wait
		wg.Go(func() { r.runCheckStatuses(cctx) })
	}
	if r.cfg.Restore == nil {
		if !r.setup() {
			r.report()
			r.markFinished()
			return
		}
	} else {
		// Re-attach to what was running (or waiting to restart).
		for _, tr := range r.order {
			if v := tr.view(); v.Launched && !v.Dead {
				launch(tr)
			}
		}
	}
	for {
		r.mu.Lock()
		suspended := r.suspended
		r.mu.Unlock()
		if suspended {
			return // the deferred Wait lets the task runners park
		}
		views := make([]taskView, len(r.order))
		for i, tr := range r.order {
			views[i] = tr.view()
		}
		r.mu.Lock()
		stop := r.stopRequested
		r.mu.Unlock()
		s := decide(views, stop)
		if reason := r.disconnectReason(); reason != "" && s.KillReason == reasonStop {
			s.KillReason = reason
		}
		for _, name := range s.Skip {
			r.task(name).skip()
		}
		for _, name := range s.Kill {
			r.task(name).kill(s.KillReason)
		}
		for _, name := range s.Launch {
			launch(r.task(name))
		}
		r.report()
		if s.Finished {
			r.markFinished()
			r.log.Info("allocation finished")
			return
		}
		if len(s.Skip)+len(s.Launch) > 0 {
			continue // decide again on the new states
		}
		select {
		case <-r.kickC:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Runner) markFinished() {
	r.mu.Lock()
	r.finished = true
	r.mu.Unlock()
}

func (r *Runner) task(name string) *taskRunner {
	for _, tr := range r.order {
		if tr.task.Name == name {
			return tr
		}
	}
	panic("allocrunner: unknown task " + name) // decide only names tasks it was given
}

// setup runs once for a new allocation: persist it, tell every task it
// was received, check the names that become paths, build the shared
// directory and check the host ports. A failure fails every task with the
// reason.
func (r *Runner) setup() bool {
	if err := r.cfg.DB.PutAlloc(r.Alloc(), r.cfg.Job); err != nil {
		r.log.Error("persist allocation", "err", err)
	}
	for _, tr := range r.order {
		tr.emit(EventReceived, "Task received by client")
	}
	err := checkNames(r.cfg.Job, r.group)
	if err == nil {
		err = r.dir.buildShared()
	}
	if err == nil {
		err = checkPorts(r.Alloc().Resources.Ports)
	}
	if err != nil {
		r.log.Warn("allocation setup failed", "err", err)
		r.mu.Lock()
		r.setupErr = err.Error()
		r.mu.Unlock()
		for _, tr := range r.order {
			tr.finish(true, EventSetupFailure, err.Error())
		}
		return false
	}
	return true
}

// ClientAlloc returns the allocation's client view: what the agent
// reports to the servers.
func (r *Runner) ClientAlloc() *cluster.Allocation {
	views := make([]taskView, len(r.order))
	states := make(map[string]*cluster.TaskState, len(r.order))
	for i, tr := range r.order {
		views[i] = tr.view()
		states[tr.task.Name] = tr.snapshot()
	}
	status, desc := clientStatus(views, states)
	r.mu.Lock()
	if r.setupErr != "" {
		desc = r.setupErr
	}
	status, desc = disconnectedStatus(status, desc, r.disconnected)
	a := r.alloc
	var health *cluster.AllocDeploymentStatus
	if r.health != nil && r.healthFor == a.DeploymentID {
		h := *r.health
		health = &h
	}
	r.mu.Unlock()
	return &cluster.Allocation{
		ID: a.ID, Namespace: a.Namespace, JobID: a.JobID, TaskGroup: a.TaskGroup, NodeID: a.NodeID,
		ClientStatus: status, ClientDescription: desc, TaskStates: states, DeploymentStatus: health,
		CheckStatuses: r.checks.snapshot(),
	}
}

func (r *Runner) report() {
	if r.cfg.OnUpdate != nil {
		r.cfg.OnUpdate(r.ClientAlloc())
	}
}

// Destroy stops every task and waits until they are gone, or ctx ends.
// The directory stays, for logs, until RemoveDir.
func (r *Runner) Destroy(ctx context.Context) error {
	r.Stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveDir removes the allocation directory; call after Run returned.
func (r *Runner) RemoveDir() error { return os.RemoveAll(r.cfg.Dir) }
