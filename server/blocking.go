package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/droverhq/drover/state"
)

// Blocking query bounds, Nomad's.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
	// jitterFraction spreads the wake-ups of many clients that started
	// waiting together, so they do not all come back at once.
	jitterFraction = 16
)

// queryParams are a read's blocking-query parameters.
type queryParams struct {
	index  uint64
	wait   time.Duration
	stale  bool
	prefix string
}

func parseQuery(r *http.Request) (queryParams, error) {
	q := r.URL.Query()
	var p queryParams
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return p, errorf(http.StatusBadRequest, "index=%q: want a non-negative integer", v)
		}
		p.index = n
	}
	p.wait = defaultWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return p, errorf(http.StatusBadRequest, "wait=%q: want a duration such as 30s or 5m", v)
		}
		if d <= 0 {
			return p, errorf(http.StatusBadRequest, "wait=%q: must be positive", v)
		}
		p.wait = min(d, maxWait)
	}
	_, p.stale = q["stale"]
	p.prefix = q.Get("prefix")
	return p, nil
}

// blocking answers a read as a blocking query: fn runs on a snapshot and
// returns the answer; its index is the newest write to tables. With
// ?index=N the answer waits until that index passes N, or ?wait= (plus
// jitter) is over, and then serves whatever fn returned last. An error
// from fn (a 404, say) is answered the same way, so that a client can
// wait for a record to appear.
func (s *Server) blocking(w http.ResponseWriter, r *http.Request, tables []string, fn func(snap *state.Snapshot) (any, error)) error {
	p, err := parseQuery(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if p.index > 0 {
		wait := p.wait + rand.N(p.wait/jitterFraction+1)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	type answer struct {
		v   any
		err error
	}
	idx, v, err := s.raft.Store().Blocking(ctx, p.index, tables, func(snap *state.Snapshot) (uint64, any) {
		v, err := fn(snap)
		return snap.Index(tables...), answer{v, err}
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		// The client went away, or the server stops.
		if r.Context().Err() != nil {
			return r.Context().Err()
		}
		if v == nil {
			return err
		}
	}
	a, _ := v.(answer)
	if a.err != nil {
		return a.err
	}
	return s.reply(w, idx, a.v)
}
