package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/metrics"
)

// BenchmarkScrape10kAllocs is one scrape of a server whose state holds
// 1,000 jobs of 10 allocations on 100 nodes: the state gauges are
// computed from the snapshot at every scrape.
func BenchmarkScrape10kAllocs(b *testing.B) {
	allocs := make([]*cluster.Allocation, 0, 10000)
	for i := range 10000 {
		allocs = append(allocs, &cluster.Allocation{
			Namespace: "default", JobID: fmt.Sprintf("job-%04d", i/10), NodeName: fmt.Sprintf("node-%03d", i%100),
			ClientStatus: []string{cluster.AllocClientRunning, cluster.AllocClientComplete}[i%2],
		})
	}
	view := metrics.ClusterView{Allocs: allocs}
	s := metrics.NewServer(func() metrics.ClusterView { return view }, nil)
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
