package jobspec

import "slices"

// supportedDrivers are the task drivers Drover runs. raw_exec is kept as
// written in Task.Driver; the agent runs it with exec.
var supportedDrivers = []string{"docker", "exec", "qemu", "raw_exec"}

// SupportedDrivers returns the task driver names Drover accepts, sorted.
func SupportedDrivers() []string {
	return slices.Clone(supportedDrivers)
}

func driverSupported(name string) bool {
	return slices.Contains(supportedDrivers, name)
}
