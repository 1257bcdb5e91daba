package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func count64(n int64) *int64 { return &n }

// noDeployment turns off the job's update strategy: the nodes of these
// tests run nothing, so a deployment would never finish, and a job with
// an active deployment cannot be scaled (as in Nomad).
const noDeployment = "update {\n max_parallel = 0\n }"

// TestJobScaleAPI: POST /v1/job/{id}/scale sets the count within the
// scaling block's bounds (Nomad's messages outside them), the scheduler
// places the new count, and GET /v1/job/{id}/scale reports it with the
// event; a job without a scaling block scales too.
func TestJobScaleAPI(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	registerNodes(t, s.Client, 1)
	job := parseJob(t, strings.Replace(webJob("web", 2, noDeployment), `task "server"`, "scaling {\n min = 1\n max = 4\n }\n task \"server\"", 1))
	if job.Groups[0].Scaling == nil {
		t.Fatal("the scaling block did not parse")
	}
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")

	for _, tc := range []struct {
		count int64
		group string
		code  int
		msg   string
	}{
		{5, "web", http.StatusBadRequest, "group count was greater than scaling policy maximum: 5 > 4"},
		{0, "web", http.StatusBadRequest, "group count was less than scaling policy minimum: 0 < 1"},
		{2, "nope", http.StatusBadRequest, `task group "nope" specified for scaling does not exist in job`},
	} {
		_, err := s.Client.Jobs().Scale(ctx, "web", &api.ScalingRequest{Count: count64(tc.count), Target: map[string]string{"Group": tc.group}})
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(se.Message, tc.msg) {
			t.Fatalf("scale to %d: %v, want %d %q", tc.count, err, tc.code, tc.msg)
		}
	}

	resp, err := s.Client.Jobs().Scale(ctx, "web", &api.ScalingRequest{Count: count64(3), Message: "more traffic"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.EvalID == "" || resp.Version != 1 || len(resp.Notes) != 0 {
		t.Fatalf("scale response %+v", resp)
	}
	waitEvals(t, s.Client, "web")
	allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(liveAllocs(allocs)); n != 3 {
		t.Fatalf("%d live allocations after scaling to 3", n)
	}
	st, _, err := s.Client.Jobs().ScaleStatus(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	g := st.TaskGroups["web"]
	if g.Desired != 3 || g.Placed != 3 || len(g.Events) != 1 || *g.Events[0].Count != 3 || g.Events[0].PreviousCount != 2 ||
		g.Events[0].Message != "more traffic" || g.Scaling == nil || g.Scaling.Max != 4 {
		t.Fatalf("scale status %+v", g)
	}

	// No scaling block: any count ≥ 0, as in Nomad.
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("plain", 1, noDeployment))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Jobs().Scale(ctx, "plain", &api.ScalingRequest{Count: count64(9)}); err != nil {
		t.Fatalf("scale without a scaling block: %v", err)
	}
	if j, _, _ := s.Client.Jobs().Info(ctx, "plain", nil); j.Spec.Groups[0].Count != 9 || j.Scale == nil {
		t.Fatalf("plain job after scale: %+v", j.Spec.Groups[0])
	}

	// A body Nomad does not know is refused, strictly.
	code, e := rawRequest(t, http.MethodPost, "http://"+s.HTTPAddr()+"/v1/job/web/scale", "", []byte(`{"Count": 2, "Cuont": 3}`))
	if code != http.StatusBadRequest || !strings.Contains(e.Error, "Cuont") {
		t.Fatalf("unknown field: %d %q", code, e.Error)
	}
}

// TestJobScaleACL: scale-job or submit-job scales (Nomad's rule);
// read-job reads the status but cannot scale.
func TestJobScaleACL(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
		c.HeartbeatTTL = time.Hour
	})
	ctx := ctxT(t)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, noDeployment))}); err != nil {
		t.Fatal(err)
	}
	reader := clientFor(t, s, mustToken(t, s.Client, "reader", `namespace "default" { policy = "read" }`))
	scaler := clientFor(t, s, mustToken(t, s.Client, "scaler", `namespace "default" { capabilities = ["scale-job"] }`))
	writer := clientFor(t, s, mustToken(t, s.Client, "writer", `namespace "default" { capabilities = ["submit-job"] }`))
	if _, _, err := reader.Jobs().ScaleStatus(ctx, "web", nil); err != nil {
		t.Fatalf("read-job reads the scale status: %v", err)
	}
	if _, err := reader.Jobs().Scale(ctx, "web", &api.ScalingRequest{Count: count64(2)}); statusCode(err) != http.StatusForbidden {
		t.Fatalf("read-job scales: %v, want 403", err)
	}
	for name, c := range map[string]*api.Client{"scale-job": scaler, "submit-job": writer} {
		if _, err := c.Jobs().Scale(ctx, "web", &api.ScalingRequest{Count: count64(2)}); err != nil {
			t.Fatalf("%s cannot scale: %v", name, err)
		}
	}
	j, _, err := s.Client.Jobs().Info(ctx, "web", nil)
	if err != nil || j.SubmittedBy == "" || j.Scale == nil || j.Scale.TaskGroup != "web" {
		t.Fatalf("scaled version %+v: %v", j, err)
	}
}

// gitScaleJob is a job file whose group has a scaling block (scaling) or
// not, with a meta value to change in a later commit.
func gitScaleJob(id string, count int, scaling bool, meta string) string {
	block := ""
	if scaling {
		block = "scaling {\n  min = 1\n  max = 5\n}\n"
	}
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  meta { rev = %q }
  update { max_parallel = 0 }
  group "g" {
    count = %d
    %s
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
  }
}
`, id, meta, count, block)
}

// TestJobScaleAndGitSync is the GitOps rule on a real server and Git
// source: after `drover job scale`, a group with a scaling block keeps
// its live count across passes and across a commit that changes the
// job otherwise; a group without one is drift that self_heal puts back
// to the file's count.
func TestJobScaleAndGitSync(t *testing.T) {
	r := gittest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := r.Commit("Add jobs", map[string]string{
		"jobs/auto.hcl":  gitScaleJob("auto", 2, true, "1"),
		"jobs/fixed.hcl": gitScaleJob("fixed", 1, false, "1"),
	})
	s := servertest.Single(t, withSource("apps", r.Dir, secret), noHeartbeats)
	c := s.Client
	ctx := ctxT(t)
	waitSync(t, c, "apps", "the first commit", applied(first))

	for id, n := range map[string]int64{"auto": 4, "fixed": 3} {
		resp, err := c.Jobs().Scale(ctx, id, &api.ScalingRequest{Count: count64(n)})
		if err != nil || len(resp.Notes) != 1 {
			t.Fatalf("scale %s: %+v %v", id, resp, err)
		}
	}
	kick(t, s, "apps", []byte(`{}`), "s3cret")
	st := waitSync(t, c, "apps", "the scaled job without a scaling block to be healed", func(st *cluster.SyncStatus) bool { return len(st.Drift) > 0 })
	if d := st.Drift[0]; d.JobID != "fixed" || !d.Healed || !strings.Contains(d.Detail, "scaling block") {
		t.Errorf("drift = %+v", d)
	}
	if len(st.Drift) != 1 {
		t.Errorf("drift %+v: the job with a scaling block is not drift", st.Drift)
	}
	if j := job(t, c, "fixed"); j.Spec.Groups[0].Count != 1 || j.SubmittedBy != "" {
		t.Errorf("fixed not healed: count %d submitted by %q", j.Spec.Groups[0].Count, j.SubmittedBy)
	}
	if j := job(t, c, "auto"); j.Spec.Groups[0].Count != 4 || j.Version != 1 {
		t.Errorf("auto: count %d version %d, want the scaled version 1 with count 4", j.Spec.Groups[0].Count, j.Version)
	}

	next := r.Commit("Change auto's meta", map[string]string{"jobs/auto.hcl": gitScaleJob("auto", 2, true, "2")})
	waitSync(t, c, "apps", "the second commit", applied(next))
	j := job(t, c, "auto")
	if j.Spec.Meta["rev"] != "2" || j.Spec.Groups[0].Count != 4 || j.Source == nil || j.Source.Commit != next {
		t.Errorf("auto after a commit: rev %q count %d source %+v; want the commit's change with the live count 4", j.Spec.Meta["rev"], j.Spec.Groups[0].Count, j.Source)
	}
}
