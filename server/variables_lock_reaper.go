package server

import (
	"context"
	"time"

	"github.com/droverhq/drover/state"
)

// The variable lock reaper (Nomad's lock TTL and delay timers). A lock
// not renewed within its TTL is lost at Expires: the FSM refuses its
// renewal from then on. Nobody else may take it until its lock delay has
// passed too; then this leader duty releases it through Raft
// (state.MsgVarLockExpire), so that every server agrees it is free and
// it no longer shows on the variable. The deadline is stored (Expires is
// the leader's clock at the last acquire or renewal, plus the TTL), so a
// new leader reaps what the old one left, from its own clock.

// lockReapRecheck bounds how long the reaper sleeps when no lock is due:
// a deadline is otherwise met by a timer, and a write to the variables
// wakes it at once.
const lockReapRecheck = time.Minute

// planLockExpiry returns the locks due at now, at most one command's
// worth, and when to look again (zero: only when the variables change).
// Pure but for the snapshot it reads.
func planLockExpiry(snap *state.Snapshot, now time.Time) (due []state.VarLockExpiry, wake time.Time) {
	vs, wake := snap.LocksDue(now, state.MaxLockExpireBatch)
	for _, v := range vs {
		due = append(due, state.VarLockExpiry{Namespace: v.Namespace, Path: v.Path, LockID: v.Lock.ID})
	}
	return due, wake
}

// runLockReaper is a leader duty: it releases variable locks whose TTL
// and lock delay have passed without a renewal.
func (s *Server) runLockReaper(ctx context.Context) {
	tables := []string{state.TableVariables}
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		index := max(snap.Index(tables...), 1)
		now := s.now()
		due, wake := planLockExpiry(snap, now)
		if len(due) > 0 {
			released, err := s.expireLocks(ctx, due, now)
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("release expired variable locks; will retry", "locks", len(due), "err", err)
			}
			if err != nil || released == 0 {
				// Nothing moved (an error, or every lock was renewed
				// between the read and the apply): do not spin.
				if !sleepCtx(ctx, s.cfg.RetryInterval) {
					return
				}
			}
			continue
		}
		d := lockReapRecheck
		if !wake.IsZero() {
			d = min(max(wake.Sub(now), 0), d)
		}
		wctx, cancel := context.WithTimeout(ctx, d)
		_, _, _ = s.raft.Store().Blocking(wctx, index, tables, func(sn *state.Snapshot) (uint64, any) {
			return sn.Index(tables...), nil
		})
		cancel()
	}
}

// expireLocks releases due locks in one Raft command and says how many
// the FSM released.
func (s *Server) expireLocks(ctx context.Context, due []state.VarLockExpiry, now time.Time) (int, error) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, raw, err := s.raft.Apply(actx, state.MsgVarLockExpire, &state.VarLockExpireRequest{Locks: due, Now: now})
	if err != nil {
		return 0, err
	}
	out, _ := raw.(*state.VarLockExpireResponse)
	if out == nil {
		return 0, nil
	}
	if out.Released > 0 {
		// Paths only, the first few: a lock ID is its holder's secret.
		paths := make([]string, 0, min(len(due), 10))
		for _, d := range due[:min(len(due), 10)] {
			paths = append(paths, d.Namespace+"/"+d.Path)
		}
		s.logger.Info("released variable locks not renewed within their TTL and lock delay", "released", out.Released, "paths", paths)
	}
	return out.Released, nil
}
