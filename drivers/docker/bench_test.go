package docker

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

const benchStarts = 50

// BenchmarkDockerStart measures placement → container running with a
// local image: Drover's Start until it returns (the container runs), next
// to the same image started by `docker run -d` (the CLI, what an operator
// compares with) and by bare create+start API calls (the floor). Each
// iteration starts benchStarts containers of each kind, interleaved so
// daemon warm-up and load hit all alike, and reports the medians.
func BenchmarkDockerStart(b *testing.B) {
	d := newDriver(b)
	ensureTestImage(b, d)
	_, cliErr := exec.LookPath("docker")
	ctx := b.Context()
	var drover, api, cli []time.Duration
	for b.Loop() {
		for i := range benchStarts {
			cfg, _ := httpTask(b, fmt.Sprintf("bench%d", i))
			t0 := time.Now()
			h, err := d.Start(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			drover = append(drover, time.Since(t0))
			b.StopTimer()
			if err := d.Destroy(ctx, h); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()

			// The baselines get the same port mappings and binds.
			cfg, _ = httpTask(b, fmt.Sprintf("base%d", i))
			spec, err := buildSpec(d.cfg, cfg)
			if err != nil {
				b.Fatal(err)
			}
			api = append(api, apiRun(b, ctx, d.api, spec))
			if cliErr == nil {
				cfg, port := httpTask(b, fmt.Sprintf("cli%d", i))
				args := []string{"run", "-d",
					"-p", fmt.Sprintf("127.0.0.1:%d:8080/tcp", port), "-p", fmt.Sprintf("127.0.0.1:%d:8080/udp", port),
					"-v", cfg.AllocDir + ":/alloc", "-v", cfg.LocalDir + ":/local", testImage}
				cli = append(cli, cliRun(b, ctx, args))
			}
		}
	}
	p50 := median(drover)
	b.ReportMetric(float64(p50.Microseconds())/1000, "drover-p50-ms")
	b.ReportMetric(float64(median(api).Microseconds())/1000, "api-p50-ms")
	b.ReportMetric(float64(p50)/float64(median(api)), "x-api")
	if cliErr == nil {
		b.ReportMetric(float64(median(cli).Microseconds())/1000, "docker-run-p50-ms")
		b.ReportMetric(float64(p50)/float64(median(cli)), "x-docker-run")
	} else {
		b.Logf("no docker CLI (%v): reporting against bare API calls only", cliErr)
	}
}

// apiRun is the floor: create and start, nothing else.
func apiRun(b *testing.B, ctx context.Context, api *client.Client, spec *containerSpec) time.Duration {
	t0 := time.Now()
	res, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: spec.Config, HostConfig: spec.Host})
	if err == nil {
		_, err = api.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
	}
	took := time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	_, _ = api.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true})
	b.StartTimer()
	return took
}

func cliRun(b *testing.B, ctx context.Context, args []string) time.Duration {
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	took := time.Since(t0)
	if err != nil {
		b.Fatalf("docker run: %v", err)
	}
	b.StopTimer()
	_ = exec.CommandContext(ctx, "docker", "rm", "-f", strings.TrimSpace(string(out))).Run()
	b.StartTimer()
	return took
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
