// Package events is the event stream's buffer: Nomad's model of a
// bounded, in-memory log of what the state store applied, which HTTP
// subscribers read from an index (GET /v1/event/stream).
//
// The FSM publishes into a Broker after each applied batch; every server
// publishes its own (all servers apply the same log), so any server can
// serve the stream. Publishing never blocks: subscribers pull from the
// ring at their own pace, and one that falls so far behind that the
// events it has not read were dropped gets ErrFellBehind and must re-read
// the state.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Topic is what an event is about.
type Topic string

// Topics (Nomad's names, and Drover's own Sync).
const (
	TopicJob        Topic = "Job"
	TopicAllocation Topic = "Allocation"
	TopicDeployment Topic = "Deployment"
	TopicEvaluation Topic = "Evaluation"
	TopicNode       Topic = "Node"
	// TopicSync carries the outcome of each commit of a Git source:
	// applied, rejected, failed, rolling out.
	TopicSync Topic = "Sync"
	// TopicAll matches every topic in a subscription.
	TopicAll Topic = "*"
)

// Topics lists the topics a subscription may name, in display order.
var Topics = []Topic{TopicJob, TopicAllocation, TopicDeployment, TopicEvaluation, TopicNode, TopicSync}

// Event is one change, in Nomad's shape. Payload holds the object as the
// apply wrote it, under its kind: {"Job": {...}}, {"Allocation": {...}}.
type Event struct {
	Topic      Topic    `json:"Topic"`
	Type       string   `json:"Type"`
	Key        string   `json:"Key"`
	Namespace  string   `json:"Namespace,omitempty"`
	FilterKeys []string `json:"FilterKeys,omitempty"`
	Index      uint64   `json:"Index"`
	Payload    any      `json:"Payload,omitempty"`
}

// Frame is one line of the stream: the events of one index. A frame
// with no index and no events is a heartbeat ({}); one with Error is the
// last of its stream.
type Frame struct {
	Index  uint64            `json:"Index,omitempty"`
	Events []json.RawMessage `json:"Events,omitempty"`
	Error  string            `json:"Error,omitempty"`
}

// Errors a subscription ends with.
var (
	// ErrIndexTooOld: the subscription asked for events after an index
	// this server no longer holds (or never held: it started later, or
	// restored a snapshot). Nomad starts at the next index it has
	// instead; Drover refuses, so that a resumed stream never has a
	// silent gap.
	ErrIndexTooOld = errors.New("events index too old")
	// ErrFellBehind: the subscriber read too slowly and events it had not
	// read were dropped from the buffer.
	ErrFellBehind = errors.New("subscriber fell behind")
	// ErrTooManySubscribers: the server's bound on concurrent streams.
	ErrTooManySubscribers = errors.New("too many event streams")
	// ErrClosed: the broker shut down.
	ErrClosed = errors.New("event broker closed")
)

// Config bounds the buffer. Every field is hot-reloadable (SetConfig).
type Config struct {
	// MaxEvents and MaxBytes bound the buffer; the oldest events are
	// dropped first. MaxEvents is exact. MaxBytes counts each event's
	// JSON encoding, which is made only when a subscriber first reads the
	// event (so that publishing with nobody subscribed encodes nothing):
	// until then an event counts as an estimate, the mean size of the
	// events encoded so far (256 bytes before any was), and its exact
	// size once read. With no subscriber, MaxBytes is thus approximate.
	MaxEvents int
	MaxBytes  int64
	// MaxSubscribers bounds concurrent subscriptions.
	MaxSubscribers int
	// MaxBatch bounds the events one Next returns, so that a subscriber
	// far behind writes in pieces.
	MaxBatch int
	// Heartbeat is how often a stream with nothing to say writes an
	// empty frame ({}), so that proxies keep the connection open.
	Heartbeat time.Duration
}

// DefaultConfig holds the defaults: a few minutes of a busy cluster.
func DefaultConfig() Config {
	return Config{MaxEvents: 8192, MaxBytes: 64 << 20, MaxSubscribers: 128, MaxBatch: 512, Heartbeat: 10 * time.Second}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxEvents < 1:
		return fmt.Errorf("events: MaxEvents must be at least 1, got %d", c.MaxEvents)
	case c.MaxBytes < 1:
		return fmt.Errorf("events: MaxBytes must be at least 1, got %d", c.MaxBytes)
	case c.MaxSubscribers < 1:
		return fmt.Errorf("events: MaxSubscribers must be at least 1, got %d", c.MaxSubscribers)
	case c.MaxBatch < 1:
		return fmt.Errorf("events: MaxBatch must be at least 1, got %d", c.MaxBatch)
	case c.Heartbeat < 10*time.Millisecond:
		return fmt.Errorf("events: Heartbeat must be at least 10ms, got %s", c.Heartbeat)
	}
	return nil
}
