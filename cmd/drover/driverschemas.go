package main

import (
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/docker"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/drivers/qemu"
	"github.com/droverhq/drover/drivers/rawexec"
	"github.com/droverhq/drover/jobspec"
)

// configChecker checks task config blocks against the schema each driver
// declares, so that `drover validate` and `drover plan` catch a typo in
// config {} without a node or a daemon.
func configChecker() jobspec.ConfigChecker {
	schemas := map[string]drivers.Schema{
		"exec":     exec.ConfigSpec(),
		"raw_exec": rawexec.ConfigSpec(),
		"docker":   docker.ConfigSpec(),
		"qemu":     qemu.ConfigSpec(),
	}
	return func(driver string, cfg map[string]any) []jobspec.ConfigProblem {
		s, ok := schemas[driver]
		if !ok {
			// jobspec reports unknown drivers itself.
			return nil
		}
		var out []jobspec.ConfigProblem
		for _, e := range s.ValidateDriver(driver, cfg) {
			out = append(out, jobspec.ConfigProblem{Path: e.Path, Msg: e.Msg})
		}
		return out
	}
}
