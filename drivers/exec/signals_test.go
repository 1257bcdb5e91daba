//go:build linux

package exec

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
		{"hup", syscall.SIGHUP},
		{" SIGUSR1 ", syscall.SIGUSR1},
		{"sigkill", syscall.SIGKILL},
		{"QUIT", syscall.SIGQUIT},
	} {
		got, err := parseSignal(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "15", "SIGNOPE", "TERMINATE"} {
		if got, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) = %v, want an error", bad, got)
		}
	}
}
