package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.StatsReporter = (*Driver)(nil)

// maxStatsBody bounds what Stats reads of the daemon's answer. One
// sample is a few KiB even with a per-CPU entry for hundreds of CPUs.
const maxStatsBody = 1 << 20

// Stats implements drivers.StatsReporter with one sample of the Engine's
// stats API (what `docker stats --no-stream` shows), taken at once: no
// stream, and no second sample a second later for a CPU percentage,
// since the agent exports CPU time as a counter. It covers every process
// of the container, which is its cgroup.
func (d *Driver) Stats(ctx context.Context, h *drivers.TaskHandle) (*drivers.TaskStats, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return nil, err
	}
	if t.exit.Exited() {
		return nil, fmt.Errorf("docker: stats of %s: task is not running", h.TaskID)
	}
	res, err := d.api.ContainerStats(ctx, t.st.ContainerID, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: false})
	if err != nil {
		return nil, fmt.Errorf("docker: stats of %s (container %s): %w", h.TaskID, t.st.ContainerName, err)
	}
	defer res.Body.Close()
	s, err := decodeStats(res.Body)
	if err != nil {
		return nil, fmt.Errorf("docker: stats of %s (container %s): %w", h.TaskID, t.st.ContainerName, err)
	}
	return s, nil
}

// decodeStats turns one of the daemon's samples into TaskStats. The
// daemon answers a stopped container with an empty sample rather than an
// error; that is reported as not running.
func decodeStats(r io.Reader) (*drivers.TaskStats, error) {
	var raw container.StatsResponse
	if err := json.NewDecoder(io.LimitReader(r, maxStatsBody)).Decode(&raw); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the daemon's answer is cut short or over %d bytes: %w", maxStatsBody, err)
		}
		return nil, fmt.Errorf("decode the daemon's stats: %w", err)
	}
	if raw.Read.IsZero() {
		return nil, errors.New("the container is not running (the daemon sent an empty sample)")
	}
	rss, ok := memoryRSS(raw.MemoryStats)
	if !ok {
		return nil, errors.New("the daemon reports no memory use for the container: is the memory cgroup controller enabled for Docker (rootless Docker needs it delegated)?")
	}
	return &drivers.TaskStats{
		Time:          raw.Read,
		MemoryRSSByte: rss,
		CPUUserTime:   time.Duration(raw.CPUStats.CPUUsage.UsageInUsermode),
		CPUSystemTime: time.Duration(raw.CPUStats.CPUUsage.UsageInKernelmode),
	}, nil
}

// memoryRSS is the container's resident memory, from its cgroup's
// memory.stat as the daemon passes it on: anonymous memory, the nearest
// to the RSS of a process, is "total_rss" (its whole subtree) or "rss" on
// cgroup v1 and "anon" on v2. Without those it falls back to what `docker
// stats` shows, usage less the inactive page cache. ok is false when the
// daemon gave no memory figures at all.
func memoryRSS(m container.MemoryStats) (rss uint64, ok bool) {
	for _, k := range []string{"total_rss", "rss", "anon"} {
		if v, ok := m.Stats[k]; ok {
			return v, true
		}
	}
	if m.Usage == 0 && len(m.Stats) == 0 {
		return 0, false
	}
	// The docker CLI's calculateMemUsageUnixNoCache.
	if v, v1 := m.Stats["total_inactive_file"]; v1 && v < m.Usage {
		return m.Usage - v, true
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return m.Usage - v, true
	}
	return m.Usage, true
}
