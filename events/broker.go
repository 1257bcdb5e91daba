package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Stored is one buffered event: what subscriptions filter on, and its
// JSON, encoded once at publish and shared by every subscriber.
type Stored struct {
	Topic      Topic
	Type       string
	Key        string
	Namespace  string
	FilterKeys []string
	Index      uint64
	JSON       json.RawMessage
}

// Broker is the bounded buffer of events and its subscriptions. It is
// safe for concurrent use; Publish never waits for a subscriber.
type Broker struct {
	mu  sync.Mutex
	cfg Config
	// items are the buffered events, oldest first; first is the sequence
	// number of items[0]. Sequence numbers only grow, so a subscription's
	// position stays meaningful while the head is dropped.
	items []Stored
	first uint64
	bytes int64
	// floor is the newest index some of whose events this broker does
	// not hold (dropped, or before it started / restored): a
	// subscription may resume only from floor or later.
	floor uint64
	// last is the newest index published (queued or buffered).
	last uint64
	// pending are published batches the encoder has not buffered yet;
	// encoding is set while its goroutine runs, which wg waits for.
	pending  []batch
	pendingN int
	encoding bool
	wg       sync.WaitGroup
	// epoch counts Resets: a subscription made before one must check
	// that it lost nothing.
	epoch  uint64
	subs   int
	closed bool
	// notify is closed and replaced on every change (a watch channel).
	notify chan struct{}
}

// NewBroker returns an empty broker; it panics on an invalid cfg, which
// is a programming error (callers validate operator input first).
func NewBroker(cfg Config) *Broker {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Broker{cfg: cfg, notify: make(chan struct{})}
}

// SetConfig changes the bounds; a smaller buffer drops the oldest events
// at once.
func (b *Broker) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = cfg
	b.trim()
	return nil
}

// Config returns the current bounds.
func (b *Broker) Config() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Bounds returns the floor (a subscription may resume from it or later)
// and the newest index published.
func (b *Broker) Bounds() (floor, last uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.floor, b.last
}

// Len returns the number of buffered events and their size in bytes.
func (b *Broker) Len() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items), b.bytes
}

// Publish queues the events of one applied index, in order, and
// returns at once: encoding them to JSON happens on the broker's own
// goroutine, so that the FSM pays only for building the events. Events
// of an index at or below the newest published are refused: indexes only
// grow, and a subscriber's resume point depends on it. evs must not be
// changed afterwards.
func (b *Broker) Publish(index uint64, evs []Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || index <= b.last && b.last != 0 {
		return
	}
	b.pending = append(b.pending, batch{index: index, evs: evs})
	b.pendingN += len(evs)
	b.last = index
	if b.pendingN > maxPending {
		// The encoder fell far behind (the queue holds only pointers to
		// objects the store shares, but it must still be bounded): drop
		// it all; subscribers that had not read up to here end.
		b.dropAll(index)
		return
	}
	if !b.encoding {
		b.encoding = true
		b.wg.Add(1)
		go b.encode()
	}
}

// maxPending bounds the events queued for the encoder.
const maxPending = 1 << 16

// batch is one index's events waiting to be encoded.
type batch struct {
	index uint64
	evs   []Event
}

// encode moves queued batches into the buffer, encoding each event once;
// it exits when the queue is empty (Publish starts it again).
func (b *Broker) encode() {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		todo := b.pending
		b.pending, b.pendingN = nil, 0
		if len(todo) == 0 || b.closed {
			b.encoding = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()

		var stored []Stored
		for _, bt := range todo {
			for i := range bt.evs {
				stored = append(stored, encodeEvent(bt.index, &bt.evs[i]))
			}
		}

		b.mu.Lock()
		for _, st := range stored {
			// A Reset or a drop while encoding moved the floor past it.
			if st.Index <= b.floor {
				continue
			}
			b.items = append(b.items, st)
			b.bytes += int64(len(st.JSON))
		}
		b.trim()
		b.wake()
		b.mu.Unlock()
	}
}

func encodeEvent(index uint64, ev *Event) Stored {
	out := *ev
	out.Index = index
	raw, err := json.Marshal(&out)
	if err != nil {
		// A payload that does not encode is a bug; the event still says
		// what changed, so subscribers do not miss it.
		out.Payload = map[string]string{"Error": "payload does not encode: " + err.Error()}
		raw, _ = json.Marshal(&out)
	}
	return Stored{
		Topic: ev.Topic, Type: ev.Type, Key: ev.Key, Namespace: ev.Namespace,
		FilterKeys: ev.FilterKeys, Index: index, JSON: raw,
	}
}

// Reset empties the buffer after the state was replaced (a snapshot
// restore): the events between the old state and the new one were never
// published here, so no subscription may resume from before index.
func (b *Broker) Reset(index uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropAll(index)
	b.last = index
}

// dropAll empties the buffer and the queue; index is the new floor.
// Called with mu held.
func (b *Broker) dropAll(index uint64) {
	b.first += uint64(len(b.items))
	b.items, b.bytes = nil, 0
	b.pending, b.pendingN = nil, 0
	b.floor = max(b.floor, index)
	b.epoch++
	b.wake()
}

// Close ends every subscription with ErrClosed and waits for the
// encoder.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	b.wake()
	b.mu.Unlock()
	b.wg.Wait()
}

// idle reports whether nothing waits to be encoded (tests).
func (b *Broker) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.encoding
}

// trim drops the oldest events beyond the bounds. Called with mu held.
func (b *Broker) trim() {
	n := 0
	for len(b.items)-n > b.cfg.MaxEvents || b.bytes > b.cfg.MaxBytes && n < len(b.items) {
		b.bytes -= int64(len(b.items[n].JSON))
		b.floor = max(b.floor, b.items[n].Index)
		n++
	}
	if n == 0 {
		return
	}
	// Clear the dropped slots so that their JSON can be collected; the
	// next append that grows the slice copies only the live ones.
	clear(b.items[:n])
	b.items = b.items[n:]
	b.first += uint64(n)
}

func (b *Broker) wake() {
	close(b.notify)
	b.notify = make(chan struct{})
}

// Subscription reads the events after an index, in order. One goroutine
// uses a subscription.
type Subscription struct {
	b     *Broker
	next  uint64 // sequence number of the next event to read
	after uint64 // deliver only events with a greater index
	epoch uint64
	done  bool
}

// Subscribe starts reading after index: events with a greater index.
// Index 0 starts at the next event published. An index the broker can no
// longer serve in full fails with ErrIndexTooOld; beyond the bound on
// subscriptions, ErrTooManySubscribers.
func (b *Broker) Subscribe(index uint64) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.subs >= b.cfg.MaxSubscribers {
		return nil, fmt.Errorf("%w: this server serves at most %d at once; retry later or ask another server", ErrTooManySubscribers, b.cfg.MaxSubscribers)
	}
	s := &Subscription{b: b, epoch: b.epoch}
	switch {
	case index == 0:
		s.next, s.after = b.first+uint64(len(b.items)), b.last
	case index < b.floor:
		return nil, fmt.Errorf("%w: events after index %d are no longer held by this server (it holds those after %d); re-read the state and resubscribe from its index", ErrIndexTooOld, index, b.floor)
	default:
		i := sort.Search(len(b.items), func(i int) bool { return b.items[i].Index > index })
		s.next, s.after = b.first+uint64(i), index
	}
	b.subs++
	return s, nil
}

// Next returns the next events, oldest first (at most MaxBatch, never
// none), waiting for them until ctx is done. ErrFellBehind means events
// the subscription had not read were dropped: it is over.
func (s *Subscription) Next(ctx context.Context) ([]Stored, error) {
	b := s.b
	b.mu.Lock()
	for {
		if s.done || b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		if s.epoch != b.epoch {
			if s.after < b.floor {
				b.mu.Unlock()
				return nil, fmt.Errorf("%w: the server restored a snapshot at index %d and this stream had read only up to %d; re-read the state and resubscribe from its index", ErrFellBehind, b.floor, s.after)
			}
			s.epoch, s.next = b.epoch, max(s.next, b.first)
		}
		if s.next < b.first {
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: events after index %d were dropped before this stream read them (the buffer holds events after %d); read faster, or re-read the state and resubscribe from its index", ErrFellBehind, s.after, b.floor)
		}
		var out []Stored
		for s.next < b.first+uint64(len(b.items)) {
			it := b.items[s.next-b.first]
			// A batch ends between indexes, never inside one: the rest
			// of a cut index would be skipped as already read.
			if len(out) >= b.cfg.MaxBatch && it.Index != out[len(out)-1].Index {
				break
			}
			s.next++
			if it.Index > s.after {
				out = append(out, it)
			}
		}
		if len(out) > 0 {
			s.after = out[len(out)-1].Index
			b.mu.Unlock()
			return out, nil
		}
		ch := b.notify
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
		b.mu.Lock()
	}
}

// Close ends the subscription and frees its place.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if !s.done {
		s.done = true
		s.b.subs--
	}
}
