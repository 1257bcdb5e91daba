package reconciler_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/repo"
)

// BenchmarkCommitToPlan10k is "commit seen → plan" for a repository of
// 10,000 job files where each commit changes one: fetch (resolve the
// branch), load (only the changed blob is parsed; the loader and hash
// caches carry the rest) and decide against a cluster that runs the
// previous commit. Submitting the one changed job is one Raft apply on
// top (see server's job register benchmarks).
func BenchmarkCommitToPlan10k(b *testing.B) {
	const jobs = 10000
	r := gittest.New(b)
	files := make(map[string]string, jobs)
	for i := range jobs {
		files[fmt.Sprintf("jobs/%02d/job%05d.hcl", i%100, i)] = gittest.Job(fmt.Sprintf("job%05d", i), 1)
	}
	r.Commit("10k jobs", files)

	cfg := reconciler.DefaultSourceConfig()
	cfg.Name, cfg.URL = "bench", r.Dir
	f, err := reconciler.NewFetcher(cfg, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	loader := repo.NewLoader(repo.LoadOptions{})
	hashes := &reconciler.HashCache{}
	ctx := context.Background()
	// The cluster runs the first commit.
	fe, err := f.Fetch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	d0, err := reconciler.Load(ctx, loader, hashes, fe.Files, "")
	if err != nil {
		b.Fatal(err)
	}
	live := clusterOf(d0)
	b.ReportMetric(float64(loader.Stats().Parses), "cold-parses")

	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		r.Commit(fmt.Sprintf("Scale job00042 to %d", i+2), map[string]string{"jobs/42/job00042.hcl": gittest.Job("job00042", i+2)})
		parses := loader.Stats().Parses
		b.StartTimer()

		fe, err := f.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		d, err := reconciler.Load(ctx, loader, hashes, fe.Files, "")
		if err != nil {
			b.Fatal(err)
		}
		dec := reconciler.Decide(reconciler.Input{Source: "bench", Desired: d, Cluster: live})

		b.StopTimer()
		if len(dec.Register) != 1 || len(dec.Stop) != 0 {
			b.Fatalf("decision registers %d, stops %d; want 1 and 0", len(dec.Register), len(dec.Stop))
		}
		if n := loader.Stats().Parses - parses; n != 1 {
			b.Fatalf("parsed %d files for a one-file commit", n)
		}
		live = clusterOf(d)
		b.StartTimer()
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The reconciler's memory for the repository: parse cache, hashes,
	// tree listings (the cluster view is the test's).
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(loader)
	runtime.KeepAlive(hashes)
	runtime.KeepAlive(f)
	runtime.KeepAlive(live)
}

// clusterOf is a cluster running exactly d, all managed by "bench".
func clusterOf(d *reconciler.Desired) []*cluster.Job {
	out := make([]*cluster.Job, 0, len(d.Jobs))
	for _, j := range d.Jobs {
		out = append(out, &cluster.Job{Namespace: "default", ID: j.Spec.ID, Spec: j.Spec, Hash: j.Hash, Source: &cluster.Source{Name: "bench"}})
	}
	return out
}
