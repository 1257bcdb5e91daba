package agent

import (
	"slices"
	"testing"
	"time"
)

func TestDisconnectedStops(t *testing.T) {
	last := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	allocs := []disconnectCandidate{
		{id: "five", stopAfter: 5 * time.Second},
		{id: "minute", stopAfter: time.Minute},
		{id: "none"},
		{id: "five-finished", stopAfter: 5 * time.Second, done: true},
	}
	tests := []struct {
		name   string
		silent time.Duration
		want   []string
	}{
		{"in contact", 0, nil},
		{"just under stop_on_client_after", 5*time.Second - time.Millisecond, nil},
		{"at stop_on_client_after", 5 * time.Second, []string{"five"}},
		{"past both", 2 * time.Minute, []string{"five", "minute"}},
		{"a clock that went back stops nothing", -time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := disconnectedStops(last, last.Add(tt.silent), allocs); !slices.Equal(got, tt.want) {
				t.Errorf("stops %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContactRestored(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := newContact(t0)
	if c.ok(t0.Add(time.Second)) {
		t.Error("restored without a failure")
	}
	c.failed()
	c.failed()
	if got := c.since(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("last contact %v after failures, want the last success", got)
	}
	if !c.ok(t0.Add(time.Minute)) {
		t.Error("not restored after failures")
	}
	if c.ok(t0.Add(2 * time.Minute)) {
		t.Error("restored twice")
	}
}
