package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// TestJobListNextPeriodicLaunch: GET /v1/jobs carries each periodic
// job's next launch as the leader computes it, in the job's time_zone
// (the JSON keeps the zone's offset), and none for a disabled periodic
// job or a job that is not periodic.
func TestJobListNextPeriodicLaunch(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	for _, src := range []string{
		webJob("nightly", 1, `type = "batch"
  periodic {
    crons     = ["30 3 * * *"]
    time_zone = "America/New_York"
  }`),
		webJob("off", 1, `type = "batch"
  periodic {
    crons   = ["30 3 * * *"]
    enabled = false
  }`),
		webJob("web", 1, ""),
	} {
		if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, src)}); err != nil {
			t.Fatal(err)
		}
	}
	stubs, _, err := s.Client.Jobs().List(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, st := range stubs {
		switch st.ID {
		case "nightly":
			n := st.NextPeriodicLaunch
			if n == nil {
				t.Fatalf("nightly: no next_periodic_launch")
			}
			local := n.In(ny)
			if local.Hour() != 3 || local.Minute() != 30 || !n.After(st.SubmitTime) || n.Sub(st.SubmitTime) > 25*time.Hour {
				t.Errorf("nightly: next launch %s (%s in New York), submitted %s; want the first 03:30 New York time after the submission", n, local, st.SubmitTime)
			}
		default:
			if st.NextPeriodicLaunch != nil {
				t.Errorf("%s: next_periodic_launch %s, want none", st.ID, st.NextPeriodicLaunch)
			}
		}
	}

	// On the wire: Nomad-style snake case, with the zone's offset.
	req, _ := http.NewRequest(http.MethodGet, s.Client.Address()+"/v1/jobs?prefix=nightly", nil)
	if s.Config.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Config.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var raw []map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 1 {
		t.Fatalf("GET /v1/jobs?prefix=nightly: %v\n%s", err, body)
	}
	v, _ := raw[0]["next_periodic_launch"].(string)
	if !strings.HasSuffix(v, "-04:00") && !strings.HasSuffix(v, "-05:00") {
		t.Errorf("next_periodic_launch on the wire = %q, want New York's offset", v)
	}
}
