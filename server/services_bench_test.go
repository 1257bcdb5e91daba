package server_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

const fanoutWatchers = 1000

// BenchmarkServiceBlockingFanout measures one catalog change waking
// 1,000 blocking queries on GET /v1/service/{name} (what 1,000 templates
// watching nomadService do): each iteration parks every watcher at the
// current index, then one allocation update flips an instance between
// passing and critical. Reported: the wake-up latency of the watchers
// from the write (p50, p99) and the time until the last one answered.
func BenchmarkServiceBlockingFanout(b *testing.B) {
	s := servertest.Single(b, noHeartbeats)
	ctx := b.Context()
	n := testNode(1)
	n.Attributes[cluster.NodeAttrIP] = "127.0.0.1"
	if _, err := asNode(s.Client, n.ID).Nodes().Register(ctx, n); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(b, apiJob(2))}); err != nil {
		b.Fatal(err)
	}
	var allocs []*cluster.Allocation
	servertest.WaitFor(b, "2 allocations", func() bool {
		as, _, err := s.Client.Jobs().Allocations(ctx, "api", nil)
		allocs = liveAllocs(as)
		return err == nil && len(allocs) == 2
	})
	node := asNode(s.Client, n.ID).Nodes()
	report := func(state string) {
		var us []*cluster.Allocation
		for i, a := range allocs {
			st := cluster.TaskStateRunning
			if i == 0 {
				st = state
			}
			us = append(us, &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
				TaskStates: map[string]*cluster.TaskState{"server": {State: st}}})
		}
		if _, err := node.UpdateAllocs(ctx, n.ID, us); err != nil {
			b.Fatal(err)
		}
	}
	report(cluster.TaskStateRunning)

	tr := &http.Transport{MaxIdleConns: fanoutWatchers + 10, MaxIdleConnsPerHost: fanoutWatchers + 10}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	url := "http://" + s.HTTPAddr() + "/v1/service/api"
	index := func() uint64 {
		resp, err := hc.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		i, _ := strconv.ParseUint(resp.Header.Get(api.HeaderIndex), 10, 64)
		return i
	}

	var wakes []time.Duration
	var total time.Duration
	states := []string{cluster.TaskStatePending, cluster.TaskStateRunning}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		idx := index()
		var wg sync.WaitGroup
		start := make(chan time.Time, fanoutWatchers)
		lat := make([]time.Duration, fanoutWatchers)
		errs := make(chan error, fanoutWatchers)
		var parked sync.WaitGroup
		parked.Add(fanoutWatchers)
		for w := range fanoutWatchers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?index=%d&wait=1m", url, idx), nil)
				parked.Done()
				resp, err := hc.Do(req)
				got := time.Now()
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if i, _ := strconv.ParseUint(resp.Header.Get(api.HeaderIndex), 10, 64); i <= idx {
					errs <- fmt.Errorf("watcher %d woke at index %d, not past %d", w, i, idx)
					return
				}
				lat[w] = got.Sub(<-start)
			}()
		}
		parked.Wait()
		// Every request is sent; give the server time to park them all
		// in the store's watch before the write.
		time.Sleep(500 * time.Millisecond)
		b.StartTimer()
		t0 := time.Now()
		report(states[it%2])
		for range fanoutWatchers {
			start <- t0
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		slices.Sort(lat)
		total += lat[len(lat)-1]
		wakes = append(wakes, lat...)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(wakes)
	b.ReportMetric(float64(wakes[len(wakes)/2].Microseconds())/1000, "wake-p50-ms")
	b.ReportMetric(float64(wakes[len(wakes)*99/100].Microseconds())/1000, "wake-p99-ms")
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "all-woken-ms")
}
