package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// BenchmarkVariableRead measures GET /v1/var/{path} through the HTTP API
// of a single server: routing, the ACL-free auth path, the state read and
// the AES-GCM decryption of a 1 KiB variable. It reports the p50 and p99
// latency in milliseconds.
func BenchmarkVariableRead(b *testing.B) {
	s := servertest.Single(b, noHeartbeats)
	ctx := context.Background()
	items := map[string]string{}
	for i := range 16 {
		items[string(rune('a'+i))+"key"] = string(make([]byte, 64))
	}
	if _, err := s.Client.Variables().Put(ctx, &api.Variable{Path: "bench/read", Items: items}, nil); err != nil {
		b.Fatal(err)
	}
	vars := s.Client.Variables()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, _, err := vars.Get(ctx, "", "bench/read", nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
