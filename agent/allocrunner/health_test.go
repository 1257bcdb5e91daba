package allocrunner

import (
	"testing"
	"time"
)

func TestHealthVerdict(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	yes, no := "healthy", "unhealthy"
	tests := []struct {
		name string
		obs  healthObs
		now  time.Time
		want string // "", healthy, unhealthy
	}{
		{"not up yet", healthObs{Mode: "checks", MinHealthyTime: time.Second, Deadline: 5 * time.Second, Start: t0}, at(2 * time.Second), ""},
		{"up, min_healthy_time not yet met", healthObs{Mode: "checks", MinHealthyTime: time.Second, Deadline: 5 * time.Second, Start: t0, OKSince: at(time.Second)}, at(1900 * time.Millisecond), ""},
		{"up for min_healthy_time", healthObs{Mode: "checks", MinHealthyTime: time.Second, Deadline: 5 * time.Second, Start: t0, OKSince: at(time.Second)}, at(2 * time.Second), yes},
		{"zero min_healthy_time", healthObs{Mode: "task_states", Start: t0, OKSince: at(time.Second)}, at(time.Second), yes},
		{"deadline passed", healthObs{Mode: "checks", MinHealthyTime: time.Second, Deadline: 5 * time.Second, Start: t0, OKSince: at(4500 * time.Millisecond)}, at(5 * time.Second), no},
		{"met exactly at the deadline", healthObs{Mode: "checks", MinHealthyTime: time.Second, Deadline: 5 * time.Second, Start: t0, OKSince: at(4 * time.Second)}, at(5 * time.Second), yes},
		{"task failed", healthObs{Mode: "checks", Deadline: 5 * time.Second, Start: t0, Failed: true, OKSince: at(0)}, at(time.Second), no},
		{"manual never decides by itself", healthObs{Mode: "manual", Start: t0, OKSince: at(0)}, at(time.Hour), ""},
		{"manual ignores the deadline and failures", healthObs{Mode: "manual", Deadline: time.Minute, Start: t0, Failed: true}, at(time.Hour), ""},
		{"no deadline waits", healthObs{Mode: "checks", MinHealthyTime: time.Second, Start: t0}, at(time.Hour), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if v := healthVerdict(tt.obs, tt.now); v != nil {
				got = map[bool]string{true: yes, false: no}[*v]
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllOK(t *testing.T) {
	run := taskView{Name: "main", Running: true}
	pre := taskView{Name: "init", Hook: "prestart"}
	side := taskView{Name: "proxy", Hook: "prestart", Sidecar: true}
	tests := []struct {
		name   string
		mode   string
		tasks  []taskView
		checks []bool
		want   bool
	}{
		{"running, checks pass", "checks", []taskView{run}, []bool{true, true}, true},
		{"one check fails", "checks", []taskView{run}, []bool{true, false}, false},
		{"task_states ignores checks", "task_states", []taskView{run}, []bool{false}, true},
		{"finished prestart hook does not count", "checks", []taskView{pre, run}, nil, true},
		{"sidecar must run", "checks", []taskView{side, run}, nil, false},
		{"main not running", "task_states", []taskView{{Name: "main"}}, nil, false},
		{"no main task", "task_states", []taskView{pre}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allOK(tt.mode, tt.tasks, tt.checks); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
