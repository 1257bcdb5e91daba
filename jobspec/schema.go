package jobspec

// The specs below describe Drover's dialect. Names Nomad accepts but
// Drover does not are listed per block with a hint, so that a job written
// for Nomad fails loudly at the exact line instead of silently losing a
// feature.

const (
	hintConsul   = "Drover has no Consul integration."
	hintVault    = "Drover has no Vault integration; use templates with values from the repository or the environment."
	hintVolumes  = "Drover does not manage volumes; use the driver's own mounts in config."
	hintArtifact = "Drover does not download artifacts; bake them into the image or fetch them in a prestart task."
	hintDynamic  = "Write the blocks out, or generate the file before committing it."
)

var topSpec = newSpec("file", specOpts{
	blocks: map[string]int{"job": 1, "variable": 1, "locals": 0},
})

var jobSpec = newSpec("job", specOpts{
	attrs: []string{"name", "type", "datacenters", "region", "namespace", "priority", "meta"},
	blocks: map[string]int{
		"meta": 0, "constraint": 0, "affinity": 0, "spread": 0, "update": 0,
		"periodic": 0, "parameterized": 0, "group": 1, "reschedule": 0, "migrate": 0,
	},
	single: []string{"meta", "update", "periodic", "parameterized", "reschedule", "migrate"},
	nomad: map[string]string{
		"all_at_once": "", "node_pool": "", "consul_token": hintConsul, "vault_token": hintVault,
		"vault_namespace": hintVault, "consul_namespace": hintConsul, "id": "The job's ID is its label.",
		"vault": hintVault, "consul": hintConsul, "multiregion": "", "ui": "",
		"task":    "Put the task in a group.",
		"dynamic": hintDynamic, "payload": "", "stop": "",
	},
})

var groupSpec = newSpec("group", specOpts{
	attrs: []string{"count", "meta"},
	blocks: map[string]int{
		"meta": 0, "constraint": 0, "affinity": 0, "spread": 0, "update": 0,
		"restart": 0, "reschedule": 0, "migrate": 0, "network": 0, "service": 0,
		"task": 1, "ephemeral_disk": 0, "rollout": 0,
	},
	single: []string{"meta", "update", "restart", "reschedule", "migrate", "network", "ephemeral_disk", "rollout"},
	nomad: map[string]string{
		"shutdown_delay": "Set shutdown_delay on the tasks.", "stop_after_client_disconnect": "",
		"max_client_disconnect": "", "prevent_reschedule_on_lost": "",
		"vault": hintVault, "consul": hintConsul, "volume": hintVolumes, "scaling": "",
		"disconnect": "", "dynamic": hintDynamic, "max_run_duration": "",
	},
})

var taskSpec = newSpec("task", specOpts{
	attrs:    []string{"driver", "user", "env", "meta", "kill_timeout", "kill_signal", "shutdown_delay", "leader"},
	required: []string{"driver"},
	blocks: map[string]int{
		"config": 0, "env": 0, "meta": 0, "resources": 0, "service": 0, "restart": 0,
		"lifecycle": 0, "template": 0, "logs": 0, "constraint": 0, "affinity": 0,
	},
	single: []string{"config", "env", "meta", "resources", "restart", "lifecycle", "logs"},
	nomad: map[string]string{
		"kind": "", "max_run_duration": "", "vault": hintVault, "consul": hintConsul,
		"artifact": hintArtifact, "volume_mount": hintVolumes, "dispatch_payload": "",
		"identity": "", "scaling": "", "csi_plugin": hintVolumes, "schedule": "",
		"action": "", "secret": hintVault, "dynamic": hintDynamic,
	},
})

var resourcesSpec = newSpec("resources", specOpts{
	attrs: []string{"cpu", "cores", "memory", "memory_max"},
	nomad: map[string]string{
		"disk": "Use the group's ephemeral_disk block.",
		"iops": "", "secrets": "",
		"network": "Declare the network in the group.",
		"device":  "", "numa": "",
	},
})

var networkSpec = newSpec("network", specOpts{
	attrs:  []string{"mode"},
	blocks: map[string]int{"port": 1},
	nomad:  map[string]string{"mbits": "", "hostname": "", "dns": "", "cni": ""},
})

var portSpec = newSpec("port", specOpts{
	attrs: []string{"static", "to", "host_network"},
	nomad: map[string]string{"ignore_collision": ""},
})

var serviceSpec = newSpec("service", specOpts{
	attrs:  []string{"name", "port", "tags", "canary_tags", "provider", "task", "meta"},
	blocks: map[string]int{"meta": 0, "check": 0},
	single: []string{"meta"},
	nomad: map[string]string{
		"address_mode": "", "address": "", "enable_tag_override": hintConsul, "on_update": "",
		"cluster": hintConsul, "kind": "", "connect": hintConsul, "canary_meta": "",
		"tagged_addresses": hintConsul, "identity": "", "weights": "",
	},
})

var checkSpec = newSpec("check", specOpts{
	attrs: []string{
		"type", "name", "path", "method", "protocol", "header", "port", "command",
		"args", "task", "interval", "timeout", "initial_status",
	},
	blocks: map[string]int{"check_restart": 0, "header": 0},
	single: []string{"check_restart", "header"},
	nomad: map[string]string{
		"address_mode": "", "expose": hintConsul, "grpc_service": "", "grpc_use_tls": "",
		"tls_skip_verify": "", "tls_server_name": "", "on_update": "", "body": "",
		"success_before_passing": "", "failures_before_critical": "",
		"failures_before_warning": "", "notes": "",
	},
})

var constraintSpec = newSpec("constraint", specOpts{
	attrs: append([]string{"attribute", "operator", "value"}, shorthandOps...),
})

var affinitySpec = newSpec("affinity", specOpts{
	attrs: []string{"attribute", "operator", "value", "weight", "version", "semver", "regexp", "set_contains_all", "set_contains_any"},
})

var spreadSpec = newSpec("spread", specOpts{
	attrs:    []string{"attribute", "weight"},
	required: []string{"attribute"},
	blocks:   map[string]int{"target": 1},
})

var targetSpec = newSpec("target", specOpts{
	attrs:    []string{"percent"},
	required: []string{"percent"},
})

var periodicSpec = newSpec("periodic", specOpts{
	attrs: []string{"cron", "crons", "prohibit_overlap", "time_zone", "enabled"},
})

var parameterizedSpec = newSpec("parameterized", specOpts{
	attrs: []string{"payload", "meta_required", "meta_optional"},
})

var templateSpec = newSpec("template", specOpts{
	attrs: []string{
		"data", "source", "destination", "env", "change_mode", "change_signal",
		"perms", "left_delimiter", "right_delimiter",
	},
	required: []string{"destination"},
	nomad: map[string]string{
		"splay": "", "vault_grace": hintVault, "error_on_missing_key": "", "uid": "", "gid": "",
		"wait": "", "change_script": "", "once": "",
	},
})

var lifecycleSpec = newSpec("lifecycle", specOpts{
	attrs:    []string{"hook", "sidecar"},
	required: []string{"hook"},
})
