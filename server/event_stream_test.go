package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/events"
	"github.com/droverhq/drover/server/servertest"
)

func openStream(t *testing.T, c *api.Client, opts api.EventStreamOptions) *api.EventStream {
	t.Helper()
	st, err := c.EventStream(ctxT(t), opts)
	if err != nil {
		t.Fatalf("open event stream %+v: %v", opts, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// readUntil reads frames, heartbeats skipped, until stop says so.
func readUntil(t *testing.T, st *api.EventStream, stop func(f *api.EventFrame) bool) []*api.EventFrame {
	t.Helper()
	var out []*api.EventFrame
	for {
		f, err := st.Next()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		if f.Heartbeat() {
			continue
		}
		out = append(out, f)
		if stop(f) {
			return out
		}
	}
}

// flatten lists "index topic type key" of every event, in order.
func flatten(frames []*api.EventFrame) []string {
	var out []string
	for _, f := range frames {
		for _, e := range f.Events {
			out = append(out, fmt.Sprintf("%d %s %s %s", e.Index, e.Topic, e.Type, e.Key))
		}
	}
	return out
}

func hasEvent(f *api.EventFrame, topic, typ string) bool {
	for _, e := range f.Events {
		if e.Topic == topic && (typ == "" || e.Type == typ) {
			return true
		}
	}
	return false
}

// The acceptance: register a job, watch its Job, Allocation and
// Deployment events arrive in index order; disconnect, resume from the
// last index seen, and get every later event once.
func TestEventStreamRolloutInOrderAndResumeWithoutGap(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	registerNodes(t, c, 2)
	topics := []string{"Job", "Allocation", "Deployment"}
	ref := openStream(t, c, api.EventStreamOptions{Topics: topics})
	part1 := openStream(t, c, api.EventStreamOptions{Topics: topics})

	stop := healthReporter(ctxT(t), t, c, "web")
	defer stop()
	j := parseJob(t, webJob("web", 3, `update {
    max_parallel     = 1
    min_healthy_time = "0s"
  }`))
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
		t.Fatal(err)
	}

	// The first stream leaves after the first placement.
	first := readUntil(t, part1, func(f *api.EventFrame) bool { return hasEvent(f, "Allocation", "") })
	_ = part1.Close()
	lastSeen := first[len(first)-1].Index

	if d := waitDeploymentDone(t, c, "web", 0); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	done := func(f *api.EventFrame) bool {
		for _, e := range f.Events {
			if e.Topic == "Deployment" && strings.Contains(string(e.Payload), `"status":"successful"`) {
				return true
			}
		}
		return false
	}
	all := readUntil(t, ref, done)
	end := all[len(all)-1].Index

	// In index order, each index once, and the rollout's story is there.
	for i := 1; i < len(all); i++ {
		if all[i].Index <= all[i-1].Index {
			t.Fatalf("frame %d has index %d after %d", i, all[i].Index, all[i-1].Index)
		}
	}
	got := flatten(all)
	for _, want := range []string{"Job JobRegistered web", "Allocation PlanResult", "Deployment DeploymentStatusUpdate", "Allocation AllocationUpdated", "Deployment DeploymentAllocHealth"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no %q event in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if !strings.Contains(got[0], "Job JobRegistered web") {
		t.Errorf("first event %q, want the job's registration", got[0])
	}

	// Resume from the last index the first stream saw.
	part2 := openStream(t, c, api.EventStreamOptions{Topics: topics, Index: lastSeen})
	rest := readUntil(t, part2, func(f *api.EventFrame) bool { return f.Index >= end })
	resumed := append(flatten(first), flatten(rest)...)
	if strings.Join(resumed, "\n") != strings.Join(got, "\n") {
		t.Fatalf("disconnected at %d and resumed: gap or duplicate.\nresumed:\n%s\nuninterrupted:\n%s",
			lastSeen, strings.Join(resumed, "\n"), strings.Join(got, "\n"))
	}
	t.Logf("%d events in %d frames; resumed after index %d:\n%s", len(got), len(all), lastSeen, strings.Join(got, "\n"))
}

// A token with read-job in namespace a sees a's events and nothing of
// namespace b, nor nodes (no node:read).
func TestEventStreamFiltersByACL(t *testing.T) {
	s := aclServer(t)
	mgmt := s.Client
	tokA := mustToken(t, mgmt, "read-a", `namespace "a" { capabilities = ["read-job"] }`)
	tokNode := mustToken(t, mgmt, "node-read", `node { policy = "read" }`)
	all := api.EventStreamOptions{Topics: []string{"*"}, Namespace: "*"}
	asA := openStream(t, mgmt.WithToken(tokA), all)
	asNodeReader := openStream(t, mgmt.WithToken(tokNode), all)
	asMgmt := openStream(t, mgmt, all)

	register := func(ns string) {
		j := parseJob(t, webJob("web", 1, ""))
		j.Namespace = ns
		if _, err := mgmt.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
			t.Fatalf("register in %s: %v", ns, err)
		}
	}
	register("b")
	registerNodes(t, mgmt, 1)
	register("a")

	isJobIn := func(ns string) func(f *api.EventFrame) bool {
		return func(f *api.EventFrame) bool {
			return slices.ContainsFunc(f.Events, func(e api.Event) bool { return e.Topic == "Job" && e.Namespace == ns })
		}
	}
	mg := flatten(readUntil(t, asMgmt, isJobIn("a")))
	if !slices.ContainsFunc(mg, func(s string) bool { return strings.Contains(s, "Node NodeRegistration") }) {
		t.Fatalf("management stream misses the node: %v", mg)
	}
	seen := readUntil(t, asA, isJobIn("a"))
	for _, f := range seen {
		for _, e := range f.Events {
			if e.Namespace != "a" {
				t.Errorf("token with read-job in a saw %s %s in namespace %q", e.Topic, e.Key, e.Namespace)
			}
		}
	}
	nodes := readUntil(t, asNodeReader, func(f *api.EventFrame) bool { return hasEvent(f, "Node", "") })
	for _, e := range nodes[0].Events {
		if e.Topic != "Node" {
			t.Errorf("node:read token saw %s event %s", e.Topic, e.Key)
		}
	}

	// No token at all: refused before any stream.
	if _, err := mgmt.WithToken("").EventStream(ctxT(t), all); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("stream without a token: %v, want 401", err)
	}
}

func isStatus(err error, code int) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == code
}

func TestEventStreamHeartbeatsAndRefusals(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	b := s.State().Events()
	cfg := b.Config()
	cfg.Heartbeat = 50 * time.Millisecond
	cfg.MaxSubscribers = 2
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	st := openStream(t, s.Client, api.EventStreamOptions{})
	start := time.Now()
	for range 3 {
		f, err := st.Next()
		if err != nil || !f.Heartbeat() {
			t.Fatalf("want a heartbeat, got %+v, %v", f, err)
		}
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("three heartbeats took %s", time.Since(start))
	}

	for _, tc := range []struct {
		opts api.EventStreamOptions
		code int
		want string
	}{
		{api.EventStreamOptions{Topics: []string{"Jobs"}}, http.StatusBadRequest, "unknown topic"},
		{api.EventStreamOptions{Topics: []string{"Job:a:b"}}, http.StatusBadRequest, "bad key"},
	} {
		_, err := s.Client.EventStream(ctxT(t), tc.opts)
		if !isStatus(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %d %q", tc.opts, err, tc.code, tc.want)
		}
	}
	// Streams are bounded per server.
	openStream(t, s.Client, api.EventStreamOptions{})
	if _, err := s.Client.EventStream(ctxT(t), api.EventStreamOptions{}); !isStatus(err, http.StatusTooManyRequests) {
		t.Errorf("third stream with a bound of 2: %v, want 429", err)
	}
	// Resuming from before what the server holds is refused, not skipped.
	registerNodes(t, s.Client, 1)
	cfg.MaxEvents = 1
	_ = b.SetConfig(cfg)
	registerNodes(t, s.Client, 2) // node 2 pushes out node 1's event
	_ = st.Close()
	time.Sleep(100 * time.Millisecond) // the server notices the close
	if _, err := s.Client.EventStream(ctxT(t), api.EventStreamOptions{Index: 1}); !isStatus(err, http.StatusGone) {
		t.Errorf("resume from index 1 after it was dropped: %v, want 410", err)
	}
	_ = events.ErrIndexTooOld
}

// A stream whose reader stops reading never holds up the servers: the
// FSM keeps applying, and the reader gets a final frame saying it was
// dropped.
func TestEventStreamSlowReaderIsDropped(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	b := s.State().Events()
	cfg := b.Config()
	cfg.MaxEvents = 4
	_ = b.SetConfig(cfg)
	sub, err := b.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	registerNodes(t, s.Client, 6) // six events while nobody reads
	ctx, cancel := context.WithTimeout(ctxT(t), 5*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, events.ErrFellBehind) {
		t.Fatalf("slow reader: %v, want ErrFellBehind", err)
	}
}
