package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// TestAllocExecCheck: what an agent asks before running an action with
// a caller's token: alloc-exec on the allocation's namespace passes;
// read-job, or alloc-exec elsewhere, is refused; a prefix is not an ID.
func TestAllocExecCheck(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
		c.HeartbeatTTL = time.Hour
	})
	ctx := ctxT(t)
	registerNodes(t, s.Client, 1)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, noDeployment))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")
	allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations %v %v", allocs, err)
	}
	id := allocs[0].ID
	for i, tc := range []struct {
		name, rules string
		code        int
	}{
		{"alloc-exec", `namespace "default" { capabilities = ["alloc-exec"] }`, 0},
		{"read", `namespace "default" { policy = "read" }`, http.StatusForbidden},
		{"write", `namespace "default" { policy = "write" }`, http.StatusForbidden},
		{"alloc-exec elsewhere", `namespace "other" { capabilities = ["alloc-exec"] }`, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientFor(t, s, mustToken(t, s.Client, fmt.Sprintf("exec-%d", i), tc.rules))
			a, err := c.Allocations().ExecCheck(ctx, id)
			if statusCode(err) != tc.code || tc.code == 0 && (err != nil || a.ID != id) {
				t.Fatalf("exec check: %v, want %d", err, tc.code)
			}
		})
	}
	if _, err := s.Client.Allocations().ExecCheck(ctx, id[:8]); statusCode(err) != http.StatusNotFound {
		t.Fatalf("a prefix: %v, want 404", err)
	}
}
