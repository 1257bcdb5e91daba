package agent

import "testing"

func TestParseConfigFileTelemetry(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"off by default", ``, ""},
		{"prometheus_listen", "telemetry {\n  prometheus_listen = \"127.0.0.1:9465\"\n}\n", "127.0.0.1:9465"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if _, err := ParseConfigFile(&cfg, "agent.hcl", []byte(tc.src)); err != nil {
				t.Fatal(err)
			}
			if cfg.MetricsAddr != tc.want {
				t.Fatalf("MetricsAddr = %q, want %q", cfg.MetricsAddr, tc.want)
			}
		})
	}
	var cfg Config
	if _, err := ParseConfigFile(&cfg, "agent.hcl", []byte("telemetry {\n  prometheus_lisen = \"x\"\n}\n")); err == nil {
		t.Fatal("a misspelt telemetry argument was accepted")
	}
}
