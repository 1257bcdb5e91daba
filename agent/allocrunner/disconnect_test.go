package allocrunner

import (
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestDisconnectedStatus(t *testing.T) {
	const why = "no contact with servers for 5s (disconnect.stop_on_client_after)"
	tests := []struct {
		name, status, reason, want string
	}{
		{"not stopped by a disconnect", cluster.AllocClientComplete, "", cluster.AllocClientComplete},
		{"tasks still stopping", cluster.AllocClientRunning, why, cluster.AllocClientRunning},
		{"stopped: lost, not complete", cluster.AllocClientComplete, why, cluster.AllocClientLost},
		{"a task failed on the kill: still lost", cluster.AllocClientFailed, why, cluster.AllocClientLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, desc := disconnectedStatus(tt.status, "desc", tt.reason)
			if got != tt.want {
				t.Errorf("status %q, want %q", got, tt.want)
			}
			if tt.want == cluster.AllocClientLost && desc != "Tasks stopped by the agent: "+why {
				t.Errorf("description %q does not say why", desc)
			}
		})
	}
}
