//go:build !linux

package exec

import (
	"errors"
	"log/slog"
	"syscall"

	"github.com/droverhq/drover/jobspec"
)

// The exec driver runs tasks on Linux only; elsewhere it builds, so the
// CLI can still validate job files, and fingerprints as not detected.

var errNotLinux = errors.New("exec driver needs Linux")

func shimProcAttr(bool) *syscall.SysProcAttr                         { return nil }
func parseSignal(string) (syscall.Signal, error)                     { return 0, errNotLinux }
func procStartTime(int) (uint64, error)                              { return 0, errNotLinux }
func running(int, uint64) bool                                       { return false }
func signalGroup(int, uint64, syscall.Signal) (bool, error)          { return false, errNotLinux }
func waitGone(<-chan struct{}, int, uint64) bool                     { return true }
func probeCgroups(string, string) cgroupSupport                      { return cgroupSupport{reason: "not Linux"} }
func createCgroup(string, string, jobspec.Resources) (string, error) { return "", errNotLinux }
func killCgroup(string)                                              {}
func removeCgroup(string) error                                      { return nil }
func cgroupOOMKilled(string) bool                                    { return false }

func createCgroupV1(map[string]string, string, jobspec.Resources) ([]string, error) {
	return nil, errNotLinux
}

func runTask(*slog.Logger, *shimSpec, func(shimStarted)) (shimStatus, error) {
	return shimStatus{}, errNotLinux
}
