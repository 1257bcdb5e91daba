package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/state"
)

// source is one configured Git source. Its trigger outlives leadership
// terms, so that a webhook accepted on any server kicks whichever
// reconciler runs.
type source struct {
	cfg     reconciler.SourceConfig
	trigger *reconciler.Trigger
	secret  []byte // webhook HMAC secret; nil: no webhooks
}

// sourceSet is the server's Git sources.
type sourceSet struct {
	list       []*source
	byName     map[string]*source
	deliveries *gitsource.Deliveries
	previews   *previewQueue // pull-request previews (github_preview.go)
}

// deliveryMemory is how many webhook delivery IDs are remembered for
// de-duplication: GitHub redelivers within hours, at most a few per push.
const deliveryMemory = 4096

func newSourceSet(cfgs []reconciler.SourceConfig) (*sourceSet, error) {
	set := &sourceSet{byName: map[string]*source{}, deliveries: gitsource.NewDeliveries(deliveryMemory), previews: newPreviewQueue()}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if set.byName[c.Name] != nil {
			return nil, fmt.Errorf("source %q is configured twice", c.Name)
		}
		secret, err := c.WebhookSecret()
		if err != nil {
			return nil, fmt.Errorf("source %q: webhook secret: %w", c.Name, err)
		}
		src := &source{cfg: c, trigger: reconciler.NewTrigger(), secret: secret}
		set.list = append(set.list, src)
		set.byName[c.Name] = src
	}
	return set, nil
}

// runSources is a leader duty: one reconciler per source, plus a ref
// watcher for each local one, until ctx ends. Reconcilers are made anew
// each term, so a new leader starts from the SyncStatus in Raft and not
// from memory.
func (s *Server) runSources(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	notifier := s.startGitHub(ctx, &wg)
	for _, src := range s.sources.list {
		logger := s.logger.With("source", src.cfg.Name)
		f, err := reconciler.NewFetcher(src.cfg, filepath.Join(s.cfg.DataDir, "sources"))
		if err != nil {
			logger.Error("source not started", "err", gitsource.ScrubString(err.Error()))
			continue
		}
		rc := &raftCluster{s: s}
		r := reconciler.New(src.cfg, reconciler.Options{Fetcher: f, Cluster: rc, Status: rc, Logger: s.logger, Notifier: notifier, Observer: s.metrics})
		if src.cfg.Local() {
			w, err := gitsource.NewRefWatcher(src.cfg.URL)
			if err != nil {
				logger.Warn("cannot watch the repository; polling only", "err", err)
			} else {
				wg.Go(func() {
					if err := w.Run(ctx, src.trigger.Kick); err != nil {
						logger.Warn("ref watcher stopped; polling only", "err", err)
					}
				})
			}
		}
		logger.Info("reconciling", "url", gitsource.RedactURL(src.cfg.URL), "branch", src.cfg.Branch)
		wg.Go(func() { r.Run(ctx, src.trigger) })
	}
}

// raftCluster is the reconciler's view of this server: reads from the
// local state (the leader's, current after the Barrier) and writes
// through Raft, as the HTTP API's handlers do.
type raftCluster struct{ s *Server }

var (
	_ reconciler.Cluster       = (*raftCluster)(nil)
	_ reconciler.StatusStore   = (*raftCluster)(nil)
	_ reconciler.RolloutReader = (*raftCluster)(nil)
)

func (c *raftCluster) Jobs(ctx context.Context) ([]*cluster.Job, error) {
	return c.s.raft.Store().Snapshot().Jobs(), nil
}

func (c *raftCluster) Register(ctx context.Context, spec *jobspec.Job, src *cluster.Source, check uint64) (reconciler.Submitted, error) {
	if errs := jobspec.ValidateJob(spec); len(errs) > 0 {
		return reconciler.Submitted{}, fmt.Errorf("invalid job: %v", errors.Join(errs...))
	}
	if err := c.s.jobLimits().check(spec, src); err != nil {
		return reconciler.Submitted{}, err
	}
	if err := checkJobNodePool(c.s.raft.Store().Snapshot(), spec, src); err != nil { // node_pools.go
		return reconciler.Submitted{}, err
	}
	ns := jobNamespace(spec)
	hash := spec.Hash()
	if cur := c.s.raft.Store().Snapshot().Job(ns, spec.ID); cur != nil && !cur.Stop && cur.Hash == hash && !newAttempt(cur.Source, src) {
		return reconciler.Submitted{Version: cur.Version, Unchanged: true}, nil
	}
	cmd := &state.JobRegisterRequest{
		Job:        &cluster.Job{Namespace: ns, ID: spec.ID, Spec: spec, Hash: hash, Source: src},
		CheckIndex: &check,
		Now:        time.Now(),
	}
	if ok, _ := launchable(spec); ok {
		cmd.Eval = &cluster.Evaluation{
			ID: newID(), Namespace: ns, JobID: spec.ID, Type: spec.Type, Priority: evalPriority(spec),
			TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending,
		}
	}
	_, raw, err := c.s.raft.Apply(ctx, state.MsgJobRegister, cmd)
	if err != nil {
		return reconciler.Submitted{}, conflict(err)
	}
	out := reconciler.Submitted{}
	if r, ok := raw.(*state.JobRegisterResponse); ok {
		out.Version = r.Version
	}
	if cmd.Eval != nil {
		out.EvalID = cmd.Eval.ID
	}
	return out, nil
}

func (c *raftCluster) Deregister(ctx context.Context, ns, id string, src *cluster.Source, check uint64) (reconciler.Submitted, error) {
	cur := c.s.raft.Store().Snapshot().Job(ns, id)
	if cur == nil || cur.Stop {
		return reconciler.Submitted{Unchanged: true}, nil
	}
	cmd := &state.JobDeregisterRequest{Namespace: ns, JobID: id, Source: src, CheckIndex: &check, Now: time.Now()}
	if cur.Spec != nil {
		cmd.Eval = &cluster.Evaluation{
			ID: newID(), Namespace: ns, JobID: id, Type: cur.Spec.Type, Priority: evalPriority(cur.Spec),
			TriggeredBy: cluster.EvalTriggerJobDeregister, Status: cluster.EvalStatusPending,
		}
	}
	_, raw, err := c.s.raft.Apply(ctx, state.MsgJobDeregister, cmd)
	if err != nil {
		return reconciler.Submitted{}, conflict(err)
	}
	out := reconciler.Submitted{}
	if r, ok := raw.(*state.JobRegisterResponse); ok {
		out.Version = r.Version
	}
	if cmd.Eval != nil {
		out.EvalID = cmd.Eval.ID
	}
	return out, nil
}

// newAttempt reports whether src is a `drover sync retry` attempt at a
// commit that the live version does not come from yet: the retry
// registers a new version with the same spec, so the scheduler rolls it
// out again in a new deployment.
func newAttempt(cur, src *cluster.Source) bool {
	if src == nil || src.Retry == 0 {
		return false
	}
	return cur == nil || cur.Name != src.Name || cur.Commit != src.Commit || cur.Retry < src.Retry
}

func conflict(err error) error {
	if errors.Is(err, state.ErrCASConflict) {
		return fmt.Errorf("%w: %w", reconciler.ErrConflict, err)
	}
	return err
}

func (c *raftCluster) SyncStatus(ctx context.Context, name string) (*cluster.SyncStatus, error) {
	return c.s.raft.Store().Snapshot().SyncStatus(name), nil
}

// PutSyncStatus writes st only if the stored status is still the one st
// was made from (st.ModifyIndex, 0 for none); else it returns an error
// wrapping reconciler.ErrConflict.
func (c *raftCluster) PutSyncStatus(ctx context.Context, st *cluster.SyncStatus) error {
	check := st.ModifyIndex
	_, _, err := c.s.raft.Apply(ctx, state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: st, Now: time.Now(), CheckIndex: &check})
	return conflict(err)
}

func (c *raftCluster) Rollout(ctx context.Context, ns, id string, version uint64) (reconciler.Rollout, error) {
	snap := c.s.raft.Store().Snapshot()
	r := reconciler.Rollout{Version: version, Latest: snap.Job(ns, id), Allocs: snap.AllocsByJob(ns, id)}
	// The version's own deployment, not the latest: after an auto-revert
	// the revert's may be newer than the failed one.
	for _, d := range snap.DeploymentsByJob(ns, id) {
		if d.JobVersion == version && (r.Deployment == nil || d.CreateIndex > r.Deployment.CreateIndex) {
			r.Deployment = d
		}
	}
	return r, nil
}
