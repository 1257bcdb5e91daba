package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// TestJobScaleWithoutCount: a scale without a Count (Nomad's) records an
// event and changes nothing: no version, no evaluation, the same count.
// Error events are recorded too, but not with a count; Message and Meta
// are bounded; the events show in GET .../scale newest first, survive a
// later version, and only the newest 20 of a group are kept.
func TestJobScaleWithoutCount(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	jobs := s.Client.Jobs()
	if _, err := jobs.Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 2, noDeployment))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")
	before, _, err := jobs.Info(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	evalsBefore, _, err := jobs.Evaluations(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}

	resp, err := jobs.Scale(ctx, "web", &api.ScalingRequest{Message: "cpu within target", Meta: map[string]any{"cpu": 41.5}})
	if err != nil {
		t.Fatalf("scale without a count: %v", err)
	}
	if resp.EvalID != "" || resp.Version != before.Version || resp.JobModifyIndex != before.JobModifyIndex || resp.Index <= before.JobModifyIndex {
		t.Fatalf("answer %+v: want no evaluation, version %d, job modify index %d and a new index", resp, before.Version, before.JobModifyIndex)
	}
	if _, err := jobs.Scale(ctx, "web", &api.ScalingRequest{Error: true, Message: "metrics source unreachable"}); err != nil {
		t.Fatalf("error event: %v", err)
	}

	refused := []struct {
		name string
		req  *api.ScalingRequest
		job  string
		code int
		msg  string
	}{
		{"count with error", &api.ScalingRequest{Count: count64(3), Error: true}, "web", http.StatusBadRequest, "scaling action should not contain count if error is true"},
		{"long message", &api.ScalingRequest{Message: strings.Repeat("m", 1025)}, "web", http.StatusBadRequest, "Message is longer than 1024 bytes"},
		{"large meta", &api.ScalingRequest{Meta: map[string]any{"blob": strings.Repeat("x", 4<<10)}}, "web", http.StatusBadRequest, "Meta is larger than 4096 bytes"},
		{"unknown group", &api.ScalingRequest{Target: map[string]string{"Group": "nope"}}, "web", http.StatusBadRequest, `task group "nope" specified for scaling does not exist in job`},
		{"unknown job", &api.ScalingRequest{Message: "x"}, "nope", http.StatusNotFound, `job "nope" not found`},
	}
	for _, tc := range refused {
		_, err := jobs.Scale(ctx, tc.job, tc.req)
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(se.Message, tc.msg) {
			t.Errorf("%s: %v, want %d %q", tc.name, err, tc.code, tc.msg)
		}
	}

	after, _, err := jobs.Info(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	versions, _, err := jobs.Versions(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	evalsAfter, _, err := jobs.Evaluations(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || after.JobModifyIndex != before.JobModifyIndex || after.Spec.Groups[0].Count != 2 ||
		len(versions) != 1 || len(evalsAfter) != len(evalsBefore) {
		t.Fatalf("events changed the job: version %d->%d, job modify index %d->%d, count %d, %d versions, evals %d->%d",
			before.Version, after.Version, before.JobModifyIndex, after.JobModifyIndex, after.Spec.Groups[0].Count,
			len(versions), len(evalsBefore), len(evalsAfter))
	}

	st, _, err := jobs.ScaleStatus(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := st.TaskGroups["web"].Events
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2: %+v", len(evs), evs)
	}
	if e := evs[0]; !e.Error || e.Count != nil || e.PreviousCount != 2 || e.Message != "metrics source unreachable" || e.EvalID != nil {
		t.Errorf("newest event %+v, want the error event without a count", e)
	}
	if e := evs[1]; e.Error || e.Count != nil || e.Message != "cpu within target" || e.Meta["cpu"] != 41.5 {
		t.Errorf("older event %+v, want the no-change event with its meta", e)
	}

	// A counted scale makes a version; the events of the version before
	// still show, after it.
	if _, err := jobs.Scale(ctx, "web", &api.ScalingRequest{Count: count64(3), Message: "more traffic"}); err != nil {
		t.Fatal(err)
	}
	st, _, err = jobs.ScaleStatus(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs = st.TaskGroups["web"].Events
	if len(evs) != 3 || evs[0].Count == nil || *evs[0].Count != 3 || evs[1].Message != "metrics source unreachable" {
		t.Fatalf("events after a counted scale: %+v", evs)
	}

	// A chatty autoscaler: the newest 20 are kept.
	for i := range 22 {
		if _, err := jobs.Scale(ctx, "web", &api.ScalingRequest{Message: fmt.Sprintf("tick %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	st, _, err = jobs.ScaleStatus(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs = st.TaskGroups["web"].Events
	if len(evs) != 20 || evs[0].Message != "tick 21" || evs[19].Message != "tick 2" {
		t.Fatalf("after 22 more events: %d, newest %q, oldest %q; want 20 from tick 21 to tick 2", len(evs), evs[0].Message, evs[len(evs)-1].Message)
	}
	cur, _, err := jobs.Info(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cur.ScaleEvents); n != 20 {
		t.Fatalf("the current version keeps %d events, want 20", n)
	}
}
