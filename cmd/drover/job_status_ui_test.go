package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestJobStatusUI(t *testing.T) {
	spec := &jobspec.Job{ID: "web", Name: "web", Type: "service", Groups: []*jobspec.Group{{Name: "web"}}}
	tests := []struct {
		name string
		ui   *jobspec.JobUI
		want []string // lines expected in order, "" for none
		not  []string
	}{
		{"no ui block", nil, nil, []string{"Description", "Links"}},
		{"description and links", &jobspec.JobUI{
			Description: "The **web** front end.\nOwned by team-web.",
			Links: []jobspec.UILink{
				{Label: "Runbook", URL: "https://wiki.example.com/web"},
				{Label: "Grafana", URL: "https://grafana.example.com/d/web"},
			},
		}, []string{
			"Description",
			"The **web** front end.",
			"Owned by team-web.",
			"Links",
			"Label    URL",
			"Runbook  https://wiki.example.com/web",
			"Grafana  https://grafana.example.com/d/web",
			"Summary",
		}, nil},
		{"links only", &jobspec.JobUI{Links: []jobspec.UILink{{Label: "Docs", URL: "https://docs.example.com"}}},
			[]string{"Links", "Docs   https://docs.example.com"}, []string{"Description"}},
		{"terminal escapes are defused", &jobspec.JobUI{Description: "evil\x1b]0;pwned\x07 title", Links: []jobspec.UILink{{Label: "x\x1b[2J", URL: "https://e.com"}}},
			[]string{"evil\uFFFD]0;pwned\uFFFD title", "x\uFFFD[2J  https://e.com"}, []string{"\x1b"}},
		{"long description is cut with a pointer to -json", &jobspec.JobUI{Description: strings.Repeat("a", 3000)},
			[]string{strings.Repeat("a", maxUIDescription) + "… (the rest: drover job status -json web)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := *spec
			s.UI = tt.ui
			v := &jobStatusView{Job: &cluster.Job{ID: "web", Namespace: "default", Status: "running", Spec: &s}, Summary: map[string]map[string]int{}}
			var buf bytes.Buffer
			renderJobStatus(&buf, v, time.Now())
			out := buf.String()
			lines := strings.Split(out, "\n")
			i := 0
			for _, want := range tt.want {
				for i < len(lines) && strings.TrimRight(lines[i], " ") != want {
					i++
				}
				if i == len(lines) {
					t.Fatalf("line %q missing (or out of order) in:\n%s", want, out)
				}
			}
			for _, bad := range tt.not {
				for _, l := range lines {
					if strings.Contains(l, bad) && !strings.HasPrefix(l, "Summary") {
						t.Errorf("unexpected %q in:\n%s", bad, out)
					}
				}
			}
			// -json carries the block as written, under the job's spec.
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Job struct {
					Spec struct {
						UI *jobspec.JobUI `json:"ui"`
					} `json:"spec"`
				} `json:"job"`
			}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if (back.Job.Spec.UI == nil) != (tt.ui == nil) || (tt.ui != nil && (back.Job.Spec.UI.Description != tt.ui.Description || len(back.Job.Spec.UI.Links) != len(tt.ui.Links))) {
				t.Errorf("-json ui = %+v, want %+v", back.Job.Spec.UI, tt.ui)
			}
		})
	}
}
