//go:build linux

package exec

import (
	"os"
	"testing"
)

// TestIsolatedHostname: an isolated task with a group network hostname
// sees it (uname's nodename, what `hostname` prints) in its own UTS
// namespace; the node keeps its own; a task without one sees the node's.
func TestIsolatedHostname(t *testing.T) {
	d := isolatedDriver(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, hostname, want string }{
		{"set", "web-2.example", "web-2.example"},
		{"unset keeps the node's", "", host},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := isoTask(t, `echo hostname=$(hostname); echo uname=$(uname -n)`)
			cfg.Hostname = tt.hostname
			res := wait(t, d, start(t, d, cfg))
			out := taskOutput(t, cfg)
			if !res.Successful() {
				t.Fatalf("exit = %+v; output:\n%s", res, out)
			}
			got := outputLines(out)
			if got["hostname"] != tt.want || got["uname"] != tt.want {
				t.Errorf("the task sees hostname %q, uname -n %q; want %q", got["hostname"], got["uname"], tt.want)
			}
			if now, _ := os.Hostname(); now != host {
				t.Fatalf("the node's hostname changed from %q to %q", host, now)
			}
		})
	}
}
