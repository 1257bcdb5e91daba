package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Stored is one buffered event as a subscription returns it: what
// subscriptions filter on, and its JSON, encoded the first time any
// subscriber read the event and shared by every subscriber after.
type Stored struct {
	Topic      Topic
	Type       string
	Key        string
	Namespace  string
	FilterKeys []string
	Index      uint64
	JSON       json.RawMessage
}

// entry is one buffered event. The event (its payload is an object the
// state store shares and never changes) is kept as published; its JSON
// is made on first read, once, outside the broker's lock.
type entry struct {
	ev   Event
	once sync.Once
	json json.RawMessage // set by once
	// size is what this entry counts in the buffer's bytes: 0 while it
	// is counted at the estimate, its JSON's length once corrected.
	// Guarded by Broker.mu.
	size int64
}

// encoded returns the entry's JSON, encoding it on the first call.
func (e *entry) encoded() json.RawMessage {
	e.once.Do(func() { e.json = encodeEvent(&e.ev) })
	return e.json
}

func (e *entry) stored() Stored {
	return Stored{
		Topic: e.ev.Topic, Type: e.ev.Type, Key: e.ev.Key, Namespace: e.ev.Namespace,
		FilterKeys: e.ev.FilterKeys, Index: e.ev.Index, JSON: e.encoded(),
	}
}

// Broker is the bounded buffer of events and its subscriptions. It is
// safe for concurrent use; Publish never waits for a subscriber and never
// encodes: with no subscriber reading, no event is ever encoded.
type Broker struct {
	mu  sync.Mutex
	cfg Config
	// items are the buffered events, oldest first; first is the sequence
	// number of items[0]. Sequence numbers only grow, so a subscription's
	// position stays meaningful while the head is dropped.
	items []*entry
	first uint64
	// The buffer's size in bytes is encBytes + unencoded*estimate():
	// encBytes sums the JSON of the entries already encoded (and
	// counted), unencoded counts the others.
	encBytes  int64
	unencoded int64
	// encSum and encCount are every encoding's size and number, for the
	// estimate.
	encSum   int64
	encCount int64
	// floor is the newest index some of whose events this broker does
	// not hold (dropped, or before it started / restored): a
	// subscription may resume only from floor or later.
	floor uint64
	// last is the newest index published.
	last uint64
	// epoch counts Resets: a subscription made before one must check
	// that it lost nothing.
	epoch  uint64
	subs   int
	closed bool
	// notify, made when a subscriber waits and nil otherwise, is closed
	// on every change (a watch channel): publishing with nobody waiting
	// allocates nothing.
	notify chan struct{}
}

// defaultEstimate is what an event not yet encoded counts in MaxBytes
// before any event was encoded; after, the mean size of the encoded
// ones is used.
const defaultEstimate = 256

// NewBroker returns an empty broker; it panics on an invalid cfg, which
// is a programming error (callers validate operator input first).
func NewBroker(cfg Config) *Broker {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Broker{cfg: cfg}
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

// Len returns the number of buffered events and their size in bytes (an
// estimate for events no subscriber read yet: see Config.MaxBytes).
func (b *Broker) Len() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items), b.bytes()
}

// bytes is the buffer's size. Called with mu held.
func (b *Broker) bytes() int64 { return b.encBytes + b.unencoded*b.estimate() }

// estimate is what an event not encoded yet counts. Called with mu held.
func (b *Broker) estimate() int64 {
	if b.encCount == 0 {
		return defaultEstimate
	}
	return max(1, b.encSum/b.encCount)
}

// Publish buffers the events of one applied index, in order, and
// returns at once: it only stores them (the FSM pays for building the
// events, not for encoding them; the first subscriber to read an event
// encodes it). Events of an index at or below the newest published are
// refused: indexes only grow, and a subscriber's resume point depends on
// it. evs and their payloads must not be changed afterwards.
func (b *Broker) Publish(index uint64, evs []Event) {
	if len(evs) == 0 {
		return
	}
	// One allocation for the batch's entries, made before taking the
	// lock.
	ents := make([]entry, len(evs))
	for i := range evs {
		ents[i].ev = evs[i]
		ents[i].ev.Index = index
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || index <= b.last && b.last != 0 {
		return
	}
	b.last = index
	if index <= b.floor {
		// A Reset moved the floor past it.
		return
	}
	for i := range ents {
		b.items = append(b.items, &ents[i])
	}
	b.unencoded += int64(len(ents))
	b.trim()
	b.wake()
}

func encodeEvent(ev *Event) json.RawMessage {
	raw, err := json.Marshal(ev)
	if err != nil {
		// A payload that does not encode is a bug; the event still says
		// what changed, so subscribers do not miss it.
		out := *ev
		out.Payload = map[string]string{"Error": "payload does not encode: " + err.Error()}
		raw, _ = json.Marshal(&out)
	}
	return raw
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

// dropAll empties the buffer; index is the new floor. Called with mu
// held.
func (b *Broker) dropAll(index uint64) {
	b.first += uint64(len(b.items))
	b.items, b.encBytes, b.unencoded = nil, 0, 0
	b.floor = max(b.floor, index)
	b.epoch++
	b.wake()
}

// Close ends every subscription with ErrClosed.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	b.wake()
	b.mu.Unlock()
}

// trim drops the oldest events beyond the bounds. Called with mu held.
func (b *Broker) trim() {
	n := 0
	for len(b.items)-n > b.cfg.MaxEvents || b.bytes() > b.cfg.MaxBytes && n < len(b.items) {
		e := b.items[n]
		if e.size > 0 {
			b.encBytes -= e.size
		} else {
			b.unencoded--
		}
		b.floor = max(b.floor, e.ev.Index)
		n++
	}
	if n == 0 {
		return
	}
	// Clear the dropped slots so that their events can be collected;
	// the next append that grows the slice copies only the live ones.
	clear(b.items[:n])
	b.items = b.items[n:]
	b.first += uint64(n)
}

// account counts the JSON of entries a subscriber just encoded in place
// of the estimate, for those still buffered, then trims. Called with mu
// held.
func (b *Broker) account(ents []*entry, from uint64) {
	for i, e := range ents {
		seq := from + uint64(i)
		if e.size > 0 || seq < b.first || seq-b.first >= uint64(len(b.items)) || b.items[seq-b.first] != e {
			continue // counted by another reader, or dropped meanwhile
		}
		e.size = max(1, int64(len(e.json)))
		b.unencoded--
		b.encBytes += e.size
		b.encSum += e.size
		b.encCount++
	}
	b.trim()
}

func (b *Broker) wake() {
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
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
		i := sort.Search(len(b.items), func(i int) bool { return b.items[i].ev.Index > index })
		s.next, s.after = b.first+uint64(i), index
	}
	b.subs++
	return s, nil
}

// Next returns the next events, oldest first (at most MaxBatch, never
// none), waiting for them until ctx is done. ErrFellBehind means events
// the subscription had not read were dropped: it is over. Events no
// subscriber read before are encoded here, outside the broker's lock.
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
		// Take the run of entries to return under the lock, encode
		// them without it.
		from := s.next
		var ents []*entry
		var lastIndex uint64
		for s.next < b.first+uint64(len(b.items)) {
			e := b.items[s.next-b.first]
			// A batch ends between indexes, never inside one: the rest
			// of a cut index would be skipped as already read.
			if len(ents) >= b.cfg.MaxBatch && e.ev.Index != lastIndex {
				break
			}
			s.next++
			if e.ev.Index > s.after {
				if len(ents) == 0 {
					from = s.next - 1
				}
				ents = append(ents, e)
				lastIndex = e.ev.Index
			}
		}
		if len(ents) > 0 {
			s.after = lastIndex
			b.mu.Unlock()
			out := make([]Stored, len(ents))
			for i, e := range ents {
				out[i] = e.stored()
			}
			b.mu.Lock()
			b.account(ents, from)
			b.mu.Unlock()
			return out, nil
		}
		if b.notify == nil {
			b.notify = make(chan struct{})
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
