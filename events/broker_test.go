package events

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func testConfig() Config {
	c := DefaultConfig()
	c.Heartbeat = 50 * time.Millisecond
	return c
}

func ev(topic Topic, key string) Event {
	return Event{Topic: topic, Type: "T", Key: key, Namespace: "default", Payload: map[string]string{"k": key}}
}

// readAll reads until n events arrived or the wait runs out.
func readAll(t *testing.T, s *Subscription, n int) []Stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []Stored
	for len(out) < n {
		items, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, items...)
	}
	return out
}

func indexes(items []Stored) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.Index
	}
	return out
}

func TestBrokerOrderAndResume(t *testing.T) {
	b := NewBroker(testConfig())
	live, err := b.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for i := uint64(1); i <= 5; i++ {
		b.Publish(i*10, []Event{ev(TopicJob, fmt.Sprint(i)), ev(TopicAllocation, fmt.Sprint(i))})
	}
	got := indexes(readAll(t, live, 10))
	want := []uint64{10, 10, 20, 20, 30, 30, 40, 40, 50, 50}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("live order %v, want %v", got, want)
	}

	// Resume after 30: exactly the events of 40 and 50, no duplicate.
	r, err := b.Subscribe(30)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := indexes(readAll(t, r, 4)); fmt.Sprint(got) != "[40 40 50 50]" {
		t.Fatalf("resume after 30: %v", got)
	}
	// Resume between indexes, and ahead of the newest.
	r2, _ := b.Subscribe(35)
	defer r2.Close()
	if got := indexes(readAll(t, r2, 4)); fmt.Sprint(got) != "[40 40 50 50]" {
		t.Fatalf("resume after 35: %v", got)
	}
	ahead, _ := b.Subscribe(60)
	defer ahead.Close()
	b.Publish(55, []Event{ev(TopicJob, "skipped")}) // at or below 60: not for it
	b.Publish(61, []Event{ev(TopicJob, "x")})
	if got := indexes(readAll(t, ahead, 1)); fmt.Sprint(got) != "[61]" {
		t.Fatalf("subscription ahead of the buffer: %v", got)
	}
}

func TestBrokerRefusesStaleOrRepeatedIndex(t *testing.T) {
	b := NewBroker(testConfig())
	b.Publish(10, []Event{ev(TopicJob, "a")})
	b.Publish(10, []Event{ev(TopicJob, "again")})
	b.Publish(9, []Event{ev(TopicJob, "older")})
	if n, _ := b.Len(); n != 1 {
		t.Fatalf("buffer holds %d events, want 1: an index is published once, in order", n)
	}
}

func TestBrokerBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxEvents int
		maxBytes  int64
	}{
		{"by count", 3, 1 << 20},
		{"by bytes", 1000, 300}, // two or three events of about 100 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxEvents, cfg.MaxBytes = tc.maxEvents, tc.maxBytes
			b := NewBroker(cfg)
			for i := uint64(1); i <= 10; i++ {
				b.Publish(i, []Event{ev(TopicJob, "same-size")})
			}
			n, size := b.Len()
			if size > cfg.MaxBytes || n > cfg.MaxEvents {
				t.Fatalf("buffer %d events / %d bytes exceeds %d / %d", n, size, cfg.MaxEvents, cfg.MaxBytes)
			}
			if n == 0 {
				t.Fatal("buffer dropped everything")
			}
			floor, last := b.Bounds()
			if last != 10 || floor != uint64(10-n) {
				t.Fatalf("bounds %d..%d with %d events, want %d..10", floor, last, n, 10-n)
			}
			// The oldest were dropped: resuming before the floor fails,
			// from the floor works.
			if _, err := b.Subscribe(floor - 1); !errors.Is(err, ErrIndexTooOld) {
				t.Fatalf("subscribe before the floor: %v, want ErrIndexTooOld", err)
			}
			s, err := b.Subscribe(floor)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := readAll(t, s, n); got[0].Index != floor+1 {
				t.Fatalf("resume from the floor starts at %d, want %d", got[0].Index, floor+1)
			}
		})
	}
}

func TestBrokerDropsSlowSubscriber(t *testing.T) {
	cfg := testConfig()
	cfg.MaxEvents = 4
	b := NewBroker(cfg)
	slow, _ := b.Subscribe(0)
	defer slow.Close()
	fast, _ := b.Subscribe(0)
	defer fast.Close()
	for i := uint64(1); i <= 10; i++ {
		// Publish never waits for a reader.
		done := make(chan struct{})
		go func() { b.Publish(i, []Event{ev(TopicJob, "j")}); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("Publish blocked on a subscriber")
		}
		readAll(t, fast, 1)
	}
	_, err := slow.Next(context.Background())
	if !errors.Is(err, ErrFellBehind) {
		t.Fatalf("slow subscriber: %v, want ErrFellBehind", err)
	}
	t.Log(err)
}

func TestBrokerBatchNeverSplitsAnIndex(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 2
	b := NewBroker(cfg)
	s, _ := b.Subscribe(0)
	defer s.Close()
	b.Publish(1, []Event{ev(TopicJob, "a"), ev(TopicJob, "b"), ev(TopicJob, "c")})
	b.Publish(2, []Event{ev(TopicJob, "d")})
	items := readAll(t, s, 4)
	if len(items) != 4 {
		t.Fatalf("read %d events, want 4", len(items))
	}
}

func TestBrokerResetAfterRestore(t *testing.T) {
	b := NewBroker(testConfig())
	behind, _ := b.Subscribe(0)
	defer behind.Close()
	b.Publish(5, []Event{ev(TopicJob, "a")})
	b.Reset(100)
	if _, err := behind.Next(context.Background()); !errors.Is(err, ErrFellBehind) {
		t.Fatalf("subscriber from before a restore: %v, want ErrFellBehind", err)
	}
	if _, err := b.Subscribe(50); !errors.Is(err, ErrIndexTooOld) {
		t.Fatalf("resume before the restored index: %v", err)
	}
	s, err := b.Subscribe(100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.Publish(101, []Event{ev(TopicJob, "b")})
	if got := indexes(readAll(t, s, 1)); fmt.Sprint(got) != "[101]" {
		t.Fatalf("after restore: %v", got)
	}
}

func TestBrokerBoundsSubscribers(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSubscribers = 2
	b := NewBroker(cfg)
	s1, _ := b.Subscribe(0)
	s2, _ := b.Subscribe(0)
	if _, err := b.Subscribe(0); !errors.Is(err, ErrTooManySubscribers) {
		t.Fatalf("third subscription: %v", err)
	}
	s1.Close()
	s1.Close() // twice frees one place only
	s3, err := b.Subscribe(0)
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	if _, err := b.Subscribe(0); !errors.Is(err, ErrTooManySubscribers) {
		t.Fatalf("double close freed two places: %v", err)
	}
	s2.Close()
	s3.Close()
}

func TestBrokerNextHonoursContextAndClose(t *testing.T) {
	b := NewBroker(testConfig())
	s, _ := b.Subscribe(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing published: %v", err)
	}
	go func() { time.Sleep(10 * time.Millisecond); b.Close() }()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}
