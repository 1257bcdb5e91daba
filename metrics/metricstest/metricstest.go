// Package metricstest reads Prometheus scrapes in tests: the value of a
// series, and `promtool check metrics` on a whole scrape.
package metricstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Value returns the value of the series of name whose labels include
// every pair of labels (nil: any), summed over the matching series, and
// whether any matched. Counters, gauges and untyped series have a value;
// for histograms it is the sample count.
func Value(scrape, name string, labels map[string]string) (float64, bool, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(scrape))
	if err != nil {
		return 0, false, fmt.Errorf("parse scrape: %w", err)
	}
	mf := mfs[name]
	if mf == nil {
		return 0, false, nil
	}
	sum, found := 0.0, false
	for _, m := range mf.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found, nil
}

func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Names lists the metric families of a scrape, sorted.
func Names(scrape string) ([]string, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(scrape))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(mfs))
	for n := range mfs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// PromtoolCheck runs `promtool check metrics` on a scrape and fails the
// test on any finding. Without promtool (Debian's prometheus package;
// scripts/test-deps.sh installs it) the test skips, loudly.
func PromtoolCheck(t testing.TB, scrape string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Log("WARNING: promtool is missing in CI: scripts/test-deps.sh should have installed Debian's prometheus package")
		}
		t.Skip("SKIP: promtool is not installed (Debian package prometheus; `make deps` installs it): metrics not linted")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Fatalf("promtool check metrics found problems:\n%s", s)
	}
}
