package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/server"
)

// TestSnapshotAndAutopilotConfig: the snapshot and autopilot blocks of
// the server configuration file, their defaults and their errors.
func TestSnapshotAndAutopilotConfig(t *testing.T) {
	def := server.DefaultConfig()
	if def.SnapshotInterval != time.Hour || def.SnapshotRetain != 24 || !def.Autopilot.CleanupDeadServers ||
		def.Autopilot.DeadServerGrace != 5*time.Minute || def.SnapshotRestoreMaxBytes != 1<<30 {
		t.Fatalf("defaults: %+v", def)
	}
	c := server.DefaultConfig()
	err := server.ParseConfigFile(&c, "server.hcl", []byte(`
snapshot {
  interval = "15m"
  retain   = 4
}
autopilot {
  cleanup_dead_servers = false
  dead_server_grace    = "30m"
  min_quorum           = 3
}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.SnapshotInterval != 15*time.Minute || c.SnapshotRetain != 4 || c.Autopilot.CleanupDeadServers ||
		c.Autopilot.DeadServerGrace != 30*time.Minute || c.Autopilot.MinQuorum != 3 {
		t.Fatalf("parsed: %+v", c)
	}
	c = server.DefaultConfig()
	if err := server.ParseConfigFile(&c, "server.hcl", []byte("snapshot {\n  enabled = false\n}\n")); err != nil || c.SnapshotInterval != 0 {
		t.Fatalf("enabled = false: %v, interval %s", err, c.SnapshotInterval)
	}
	for src, want := range map[string]string{
		"snapshot {\n  interval = \"soon\"\n}\n":          "server.hcl:2,14-20: Invalid snapshot interval",
		"autopilot {\n  dead_server_grace = \"-1m\"\n}\n": "server.hcl:2,23-28: Invalid dead_server_grace",
		"autopilot {\n  cleanup = true\n}\n":              "Unsupported argument",
	} {
		c := server.DefaultConfig()
		err := server.ParseConfigFile(&c, "server.hcl", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
	c = server.DefaultConfig()
	c.DataDir = t.TempDir()
	c.SnapshotInterval, c.SnapshotRetain, c.Autopilot.MinQuorum = 100*time.Millisecond, 0, -1
	err = c.Validate()
	for _, want := range []string{"snapshot interval 100ms: want at least 1s", "snapshot retain", "min_quorum"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v, want %q", err, want)
		}
	}
}
