package events

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// counted is a payload that counts how often it is encoded.
type counted struct {
	n   *atomic.Int64
	Pad string
}

func (c counted) MarshalJSON() ([]byte, error) {
	c.n.Add(1)
	return json.Marshal(struct{ Pad string }{c.Pad})
}

func countedEvent(n *atomic.Int64, key string, pad int) Event {
	return Event{Topic: TopicJob, Type: "T", Key: key, Namespace: "default", Payload: counted{n: n, Pad: fmt.Sprintf("%0*d", pad, 0)}}
}

func TestBrokerEncodesOnlyWhatIsRead(t *testing.T) {
	var n atomic.Int64
	b := NewBroker(testConfig())
	for i := uint64(1); i <= 10; i++ {
		b.Publish(i, []Event{countedEvent(&n, fmt.Sprint(i), 10)})
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("publishing with no subscriber encoded %d events, want 0", got)
	}
	if _, size := b.Len(); size != 10*defaultEstimate {
		t.Fatalf("unread events count %d bytes, want the estimate %d", size, 10*defaultEstimate)
	}

	// Readers share one encoding per event, even concurrently.
	var wg sync.WaitGroup
	results := make([][]Stored, 4)
	for r := range results {
		s, err := b.Subscribe(5)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			results[r] = readAll(t, s, 5)
		}()
	}
	wg.Wait()
	if got := n.Load(); got != 5 {
		t.Fatalf("4 readers of 5 events encoded %d times, want 5", got)
	}
	for _, items := range results {
		for i, it := range items {
			var ev struct {
				Index   uint64
				Key     string
				Payload struct{ Pad string }
			}
			if err := json.Unmarshal(it.JSON, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Index != uint64(6+i) || ev.Key != fmt.Sprint(6+i) || ev.Payload.Pad != "0000000000" {
				t.Fatalf("event %d decodes to %+v from %s", i, ev, it.JSON)
			}
		}
	}
	// The read ones count exactly; the unread ones at the mean of those.
	var exact int64
	for _, it := range results[0] {
		exact += int64(len(it.JSON))
	}
	if _, size := b.Len(); size != exact+5*(exact/5) {
		t.Fatalf("buffer counts %d bytes, want %d (5 encoded of %d bytes, 5 at their mean)", size, exact+5*(exact/5), exact)
	}
}

func TestBrokerBytesBoundCorrectedOnRead(t *testing.T) {
	var n atomic.Int64
	cfg := testConfig()
	cfg.MaxBytes = 4 * defaultEstimate
	b := NewBroker(cfg)
	// Four events of about 2 KiB each fit the estimate, not their size.
	for i := uint64(1); i <= 4; i++ {
		b.Publish(i, []Event{countedEvent(&n, fmt.Sprint(i), 2048)})
	}
	if got, _ := b.Len(); got != 4 {
		t.Fatalf("buffer holds %d events, want 4 at the estimate", got)
	}
	s, err := b.Subscribe(3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	readAll(t, s, 1)
	// Encoding showed the real size: the buffer shrinks to its bound.
	got, size := b.Len()
	if size > cfg.MaxBytes || got != 0 {
		t.Fatalf("after reading, buffer holds %d events / %d bytes, bound %d", got, size, cfg.MaxBytes)
	}
	if floor, _ := b.Bounds(); floor != 4 {
		t.Fatalf("floor %d, want 4", floor)
	}
}

func TestBrokerPayloadThatDoesNotEncode(t *testing.T) {
	b := NewBroker(testConfig())
	s, _ := b.Subscribe(0)
	defer s.Close()
	b.Publish(1, []Event{{Topic: TopicJob, Type: "T", Key: "bad", Payload: map[string]any{"f": func() {}}}})
	items := readAll(t, s, 1)
	var ev struct {
		Key     string
		Payload struct{ Error string }
	}
	if err := json.Unmarshal(items[0].JSON, &ev); err != nil || ev.Key != "bad" || ev.Payload.Error == "" {
		t.Fatalf("event with a bad payload: %s (%v)", items[0].JSON, err)
	}
}
