package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// waitEvalDone waits, with blocking queries, until the evaluation is no
// longer pending.
func waitEvalDone(tb testing.TB, c *api.Client, id string) *cluster.Evaluation {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var index uint64
	for {
		e, meta, err := c.Evaluations().Info(ctx, id, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			tb.Fatalf("evaluation %s: %v", id, err)
		}
		if e.Status != cluster.EvalStatusPending {
			return e
		}
		index = meta.LastIndex
	}
}

// BenchmarkPlaceBigJob places a job of count = 10,000 (the default
// job_max_count) on one big simulated node of a real single server (Raft
// on disk), from the register to the evaluation's completion, then
// purges it (not timed, reported as ms/purge). The plan goes into Raft
// in chunks of bounded size (plan_chunk.go): entries/op counts the Raft
// entries the placement took, the register's included.
func BenchmarkPlaceBigJob(b *testing.B) {
	const count = 10_000
	srv := servertest.Single(b, bigJobServer(count))
	c := srv.Client
	n := testNode(1)
	n.Resources = cluster.NodeResources{CPU: 1 << 30, MemoryMB: 1 << 30, DiskMB: 1 << 30}
	if _, err := asNode(c, n.ID).Nodes().Register(context.Background(), n); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var entries uint64
	var purge time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("big-%d", i)
		before := srv.State().AppliedIndex()
		resp, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: bigJob(b, id, count)})
		if err != nil {
			b.Fatal(err)
		}
		if e := waitEvalDone(b, c, resp.EvalID); e.Status != cluster.EvalStatusComplete {
			b.Fatalf("evaluation %s: %s", e.Status, e.StatusDescription)
		}
		entries += srv.State().AppliedIndex() - before

		b.StopTimer()
		start := time.Now()
		dr, err := c.Jobs().Deregister(ctx, id, true)
		if err != nil {
			b.Fatal(err)
		}
		waitEvalDone(b, c, dr.EvalID)
		purge += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(count)*float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
	b.ReportMetric(float64(purge.Milliseconds())/float64(b.N), "ms/purge")
}
