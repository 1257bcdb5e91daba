package drivers

import (
	"fmt"
	"strings"
)

// nomadOnly lists, for each driver Drover has, the task config options
// Nomad's driver of the same name accepts and Drover's does not, each with
// what to do instead. An unknown option is then reported as "Nomad has
// it, Drover does not: <hint>" or as unknown to both, so a job written
// for Nomad learns which. (Options both have are in each driver's
// ConfigSpec; TestNomadOnlyNotInSchemas keeps the two apart.)
var nomadOnly = map[string]map[string]string{
	"docker": {
		"advertise_ipv6_address":    "Drover registers IPv4 addresses; remove it.",
		"cgroupns":                  "Containers get the daemon's default cgroup namespace mode; set default-cgroupns-mode in daemon.json.",
		"container_exists_attempts": "Drover removes a leftover container of the same name itself; remove the option.",
		"cpu_cfs_period":            "Drover limits CPU with shares; remove it.",
		"cpu_hard_limit":            "Drover limits CPU with shares (relative weight), not a hard quota; remove it or reserve whole cores with resources { cores }.",
		"cpuset_cpus":               "Reserve whole cores with resources { cores } instead.",
		"ipv4_address":              "Drover does not pin container addresses; use the group's network ports.",
		"ipv6_address":              "Drover does not pin container addresses; use the group's network ports.",
		"isolation":                 "Windows isolation modes do not apply on Linux; remove it.",
		"load":                      "Load the image on the node beforehand (docker load), or push it to a registry.",
		"mac_address":               "Drover does not set MAC addresses; remove it.",
		"network_aliases":           "Use a service and Drover's service discovery.",
		"runtime":                   "Containers use the daemon's default runtime; set default-runtime in daemon.json.",
		"storage_opt":               "Containers use the daemon's storage options; remove it.",
		"tty":                       "Drover does not allocate a terminal; remove it.",
		"userns_mode":               "Containers use the daemon's user namespace setting (userns-remap in daemon.json).",
		"uts_mode":                  "Containers get their own UTS namespace; remove it.",
		"volume_driver":             "Use a host volume (group volume with type = \"host\" and a task volume_mount).",
	},
	"exec": {
		"cap_add":  "Drover's exec tasks run without added capabilities; use docker (cap_add) for a task that needs one.",
		"cap_drop": "Drover's exec tasks run with no capabilities as a non-root user already; remove it.",
		"work_dir": "Tasks start in their task directory; cd in a wrapper script (command = \"/bin/sh\", args = [\"-c\", \"cd dir && exec prog\"]).",
	},
	"raw_exec": {
		"cgroup_v1_override": "raw_exec tasks get a cgroup of their own under the agent's; remove it.",
		"cgroup_v2_override": "raw_exec tasks get a cgroup of their own under the agent's; remove it.",
		"oom_score_adj":      "Drover leaves the OOM score to the kernel; remove it.",
		"work_dir":           "Tasks start in their task directory; cd in a wrapper script.",
		"denied_envvars":     "Drover passes the task only its own environment; remove it.",
	},
	"qemu": {
		"guest_agent": "Drover does not talk to the QEMU guest agent; use graceful_shutdown for ACPI shutdown.",
		"emulator":    "Drover runs qemu-system-x86_64; remove it.",
	},
}

// NomadOnly reports whether Nomad's driver has the option Drover's lacks,
// and what to do instead.
func NomadOnly(driver, option string) (hint string, ok bool) {
	hint, ok = nomadOnly[driver][option]
	return hint, ok
}

// ValidateDriver is Validate for the named driver's schema, with each
// unknown top-level option explained: whether Nomad's driver has it (and
// what to use instead), or whether neither has it.
func (s Schema) ValidateDriver(driver string, cfg map[string]any) []SchemaError {
	errs := s.Validate(cfg)
	for i, e := range errs {
		if !strings.HasPrefix(e.Msg, "unknown attribute") || strings.ContainsAny(e.Path, ".[") {
			continue
		}
		if hint, ok := NomadOnly(driver, e.Path); ok {
			errs[i].Msg = fmt.Sprintf("Nomad's %s driver has this option but Drover's does not. %s", driver, hint)
			continue
		}
		errs[i].Msg = fmt.Sprintf("neither Drover's nor Nomad's %s driver has this option%s", driver, strings.TrimPrefix(e.Msg, "unknown attribute"))
	}
	return errs
}

// NomadOnlyOptions lists the options of Nomad's driver that Drover's
// lacks, in no particular order.
func NomadOnlyOptions(driver string) []string {
	out := make([]string, 0, len(nomadOnly[driver]))
	for k := range nomadOnly[driver] {
		out = append(out, k)
	}
	return out
}
