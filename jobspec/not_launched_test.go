package jobspec_test

import (
	"testing"

	"github.com/droverhq/drover/jobspec"
)

// TestNotLaunched: the one decision of which jobs Drover stores without
// running (the server schedules none of them; job status, the job list,
// plans and sync status say so), and the words for it.
func TestNotLaunched(t *testing.T) {
	periodic := validJob()
	periodic.Type, periodic.Periodic = jobspec.JobTypeBatch, &jobspec.Periodic{Crons: []string{"0 3 * * *"}, Enabled: true}
	parameterized := validJob()
	parameterized.Type, parameterized.Parameterized = jobspec.JobTypeBatch, &jobspec.Parameterized{Payload: "optional"}
	for _, tc := range []struct {
		name               string
		job                *jobspec.Job
		kind, reason, note string
	}{
		{"nil", nil, "", "", ""},
		{"service", validJob(), "", "", ""},
		// The leader launches a periodic job's children (server/periodic.go).
		{"periodic", periodic, "", "", ""},
		{"parameterized", parameterized, "parameterized", "stored; runs when dispatched (drover job dispatch)",
			"parameterized job: stored; runs when dispatched (drover job dispatch)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if kind, reason := tc.job.NotLaunched(); kind != tc.kind || reason != tc.reason {
				t.Errorf("NotLaunched() = %q, %q; want %q, %q", kind, reason, tc.kind, tc.reason)
			}
			if note := tc.job.NotLaunchedNote(); note != tc.note {
				t.Errorf("NotLaunchedNote() = %q, want %q", note, tc.note)
			}
		})
	}
}
