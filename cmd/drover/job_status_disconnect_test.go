package main

import (
	"slices"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestJobSummaryUnknownColumn(t *testing.T) {
	job := &cluster.Job{ID: "web", Spec: &jobspec.Job{ID: "web", Groups: []*jobspec.Group{{Name: "web"}}}}
	tests := []struct {
		name       string
		summary    map[string]int
		wantHeader []string
		wantRow    []string
	}{
		{"no unknown: Nomad's columns up to Lost", map[string]int{cluster.AllocClientRunning: 2, cluster.AllocClientLost: 1},
			[]string{"Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"},
			[]string{"web", "0", "0", "2", "0", "0", "1"}},
		{"unknown shown", map[string]int{cluster.AllocClientRunning: 1, cluster.AllocClientUnknown: 1},
			[]string{"Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown"},
			[]string{"web", "0", "0", "1", "0", "0", "0", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &jobStatusView{Job: job, Summary: map[string]map[string]int{"web": tt.summary}}
			if got := summaryHeader(v); !slices.Equal(got, tt.wantHeader) {
				t.Errorf("header %q, want %q", got, tt.wantHeader)
			}
			rows := summaryRows(v)
			if len(rows) != 1 || !slices.Equal(rows[0], tt.wantRow) {
				t.Errorf("rows %q, want [%q]", rows, tt.wantRow)
			}
		})
	}
}
