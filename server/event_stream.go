package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/droverhq/drover/events"
)

// eventStreamContentType is newline-delimited JSON: one frame a line.
const eventStreamContentType = "application/x-ndjson"

// eventStream is GET /v1/event/stream: Nomad's event stream. Every server
// serves it from its own buffer (each applies the same log), so it is
// never forwarded to the leader.
//
// Query: topic (repeatable: Topic, Topic:Key, *), namespace ("default";
// * for all), index (stream the events after it: the last index the
// client saw; 0 or absent: from now on). An index older than the buffer
// answers 410: re-read the state and resubscribe from its index.
//
// The route needs only a valid token; each event is then checked against
// it: Job, Allocation, Deployment and Evaluation events need read-job in
// the event's namespace, Node events node:read, Sync events read-job in
// the default namespace (as GET /v1/sync). The token is checked again on
// every heartbeat, so a revoked one ends the stream.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	filter, err := events.ParseFilter(q["topic"], q.Get("namespace"))
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	var index uint64
	if v := q.Get("index"); v != "" {
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return errorf(http.StatusBadRequest, "index must be a non-negative integer, got %q", v)
		}
	}
	b := s.raft.Events()
	sub, err := b.Subscribe(index)
	switch {
	case errors.Is(err, events.ErrIndexTooOld):
		return errorf(http.StatusGone, "%v", err)
	case errors.Is(err, events.ErrTooManySubscribers):
		return errorf(http.StatusTooManyRequests, "%v", err)
	case err != nil:
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	defer sub.Close()

	id := identityFrom(r.Context())
	secret, hasSecret := requestToken(r)
	recheck := id != nil && id.token != nil && hasSecret

	h := w.Header()
	h.Set("Content-Type", eventStreamContentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not hold frames back
	_, last := b.Bounds()
	s.setMeta(w, last)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}

	hb := b.Config().Heartbeat
	lastWrite := time.Now()
	write := func(line []byte) bool {
		if _, err := w.Write(line); err != nil {
			return false
		}
		lastWrite = time.Now()
		return rc.Flush() == nil
	}
	final := func(msg string) {
		line, _ := json.Marshal(events.Frame{Error: msg})
		write(append(line, '\n'))
	}
	for {
		ctx, cancel := context.WithDeadline(r.Context(), lastWrite.Add(hb))
		items, err := sub.Next(ctx)
		cancel()
		if r.Context().Err() != nil {
			return nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			if recheck {
				nid, err := s.resolveToken(secret, time.Now())
				if err != nil {
					final("the stream's token is no longer valid: " + err.Error())
					return nil
				}
				id = nid
			}
			if !write([]byte("{}\n")) {
				return nil
			}
			continue
		}
		if err != nil {
			final(err.Error())
			return nil
		}
		for _, frame := range eventFrames(items, filter, id) {
			if !write(frame) {
				return nil
			}
		}
	}
}

// eventFrames groups the events a subscriber may see into one line per
// index: {"Index":N,"Events":[...]}.
func eventFrames(items []events.Stored, f events.Filter, id *identity) [][]byte {
	var frames [][]byte
	var buf bytes.Buffer
	cur := uint64(0)
	flush := func() {
		if buf.Len() > 0 {
			buf.WriteString("]}\n")
			frames = append(frames, bytes.Clone(buf.Bytes()))
			buf.Reset()
		}
	}
	for i := range items {
		ev := &items[i]
		if !f.Match(ev) || !allowEvent(id, ev) {
			continue
		}
		if ev.Index != cur || buf.Len() == 0 {
			flush()
			cur = ev.Index
			buf.WriteString(`{"Index":`)
			buf.WriteString(strconv.FormatUint(ev.Index, 10))
			buf.WriteString(`,"Events":[`)
		} else {
			buf.WriteByte(',')
		}
		buf.Write(ev.JSON)
	}
	flush()
	return frames
}

// allowEvent reports whether id may see ev. Without ACLs (no identity)
// every event passes.
func allowEvent(id *identity, ev *events.Stored) bool {
	if id == nil {
		return true
	}
	switch ev.Topic {
	case events.TopicJob, events.TopicAllocation, events.TopicDeployment, events.TopicEvaluation:
		return id.allow(CapReadJob, ev.Namespace)
	case events.TopicNode:
		return id.allow(CapNodeRead, "")
	case events.TopicSync:
		// GET /v1/sync's capability, in the namespace it is checked in.
		return id.allow(CapReadJob, "default")
	}
	return id.management
}
