package github

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// StatusSetter sets one commit status; *Client is one.
type StatusSetter interface {
	SetStatus(ctx context.Context, owner, repo, sha string, s Status) error
}

var _ StatusSetter = (*Client)(nil)

// StatusQueue sets commit statuses in the background so that callers
// (deploys) never wait for GitHub: Enqueue returns at once, Run sends.
// A newer status for the same commit and context replaces one not yet
// sent; a status equal to the last one sent is not sent again. A failed
// send is logged and retried with backoff until MaxAge; a permission or
// not-found error is logged and dropped.
type StatusQueue struct {
	setter StatusSetter
	log    *slog.Logger

	// RetryBase and RetryMax bound the backoff between retries; MaxAge is
	// how long a status is retried before it is dropped. Set before Run.
	RetryBase, RetryMax, MaxAge time.Duration

	mu      sync.Mutex
	pending map[statusKey]*queued
	order   []statusKey
	sent    map[statusKey]Status
	wake    chan struct{}
}

type statusKey struct{ owner, repo, sha, context string }

type queued struct {
	status  Status
	added   time.Time
	next    time.Time
	backoff time.Duration
	tries   int
}

// maxSent bounds the memory of sent statuses used to skip repeats.
const maxSent = 4096

// NewStatusQueue returns a queue sending through s.
func NewStatusQueue(s StatusSetter, log *slog.Logger) *StatusQueue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StatusQueue{
		setter: s, log: log,
		RetryBase: 2 * time.Second, RetryMax: 2 * time.Minute, MaxAge: time.Hour,
		pending: map[statusKey]*queued{}, sent: map[statusKey]Status{},
		wake: make(chan struct{}, 1),
	}
}

// Enqueue asks for a status to be set; it never blocks.
func (q *StatusQueue) Enqueue(owner, repo, sha string, s Status) {
	k := statusKey{owner, repo, sha, s.Context}
	q.mu.Lock()
	if last, ok := q.sent[k]; ok && last == s {
		if _, waiting := q.pending[k]; !waiting {
			q.mu.Unlock()
			return
		}
	}
	now := time.Now()
	if p, ok := q.pending[k]; ok {
		p.status, p.next, p.backoff = s, now, 0
	} else {
		q.pending[k] = &queued{status: s, added: now, next: now}
		q.order = append(q.order, k)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Pending is how many statuses wait to be sent.
func (q *StatusQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Run sends statuses until ctx ends.
func (q *StatusQueue) Run(ctx context.Context) {
	for {
		wait := q.sendDue(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue sends every status whose time has come, oldest first, and
// returns how long until the next one is due.
func (q *StatusQueue) sendDue(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		k, s, ok := q.nextDue()
		if !ok {
			break
		}
		err := q.setter.SetStatus(ctx, k.owner, k.repo, k.sha, s)
		q.done(k, s, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	wait := time.Hour
	now := time.Now()
	for _, p := range q.pending {
		wait = min(wait, max(p.next.Sub(now), 0))
	}
	return wait
}

func (q *StatusQueue) nextDue() (statusKey, Status, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, k := range q.order {
		if p := q.pending[k]; p != nil && !p.next.After(now) {
			p.tries++
			return k, p.status, true
		}
	}
	return statusKey{}, Status{}, false
}

func (q *StatusQueue) done(k statusKey, s Status, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pending[k]
	log := q.log.With("repo", k.owner+"/"+k.repo, "commit", short(k.sha), "context", k.context, "state", s.State)
	if p == nil {
		return
	}
	if p.status != s {
		// Replaced while being sent: send the newer one next.
		if err == nil {
			q.remember(k, s)
		}
		return
	}
	switch {
	case err == nil:
		q.remove(k)
		q.remember(k, s)
		log.Debug("commit status set")
		return
	case errors.Is(err, ErrPermission) || errors.Is(err, ErrNotFound):
		q.remove(k)
		log.Warn("cannot set commit status; dropped", "err", err)
		return
	case time.Since(p.added) > q.MaxAge:
		q.remove(k)
		log.Warn("GitHub unreachable too long; commit status dropped", "tries", p.tries, "err", err)
		return
	}
	p.backoff = min(max(2*p.backoff, q.RetryBase), q.RetryMax)
	p.next = time.Now().Add(p.backoff)
	log.Warn("cannot set commit status; will retry", "in", p.backoff, "tries", p.tries, "err", err)
}

func (q *StatusQueue) remove(k statusKey) {
	delete(q.pending, k)
	for i, x := range q.order {
		if x == k {
			q.order = append(q.order[:i], q.order[i+1:]...)
			break
		}
	}
}

func (q *StatusQueue) remember(k statusKey, s Status) {
	if len(q.sent) >= maxSent {
		clear(q.sent)
	}
	q.sent[k] = s
}

func short(sha string) string { return sha[:min(len(sha), 7)] }
