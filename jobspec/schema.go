package jobspec

// The specs below describe Drover's dialect. Names Nomad accepts but
// Drover does not are listed per block with a hint, so that a job written
// for Nomad fails loudly at the exact line instead of silently losing a
// feature.

const (
	hintConsul   = "Drover has no Consul integration; remove the Consul-specific settings and register services with provider = \"nomad\"."
	hintVault    = "Drover has no Vault integration; use templates with values from the repository or the environment."
	hintCSI      = "Drover has no CSI; use a host volume (volume \"x\" { type = \"host\" source = \"name\" } and a host_volume in the agent's config)."
	hintArtifact = "Drover does not download artifacts; bake them into the image or fetch them in a prestart task."
	hintDynamic  = "Write the blocks out, or generate the file before committing it."
	hintDAS      = "scaling \"cpu\" and scaling \"mem\" (Dynamic Application Sizing) are Nomad Enterprise; set the task's resources by hand."
	hintSchedule = "Task schedules are Nomad Enterprise; use a periodic batch job that starts and stops the work."
	hintMultiReg = "Multiregion deployments are Nomad Enterprise; commit one job file per region, each with its own region argument."
	// CNI: Drover's bridge mode builds the namespace, veth pair and port
	// forwards itself; it does not run CNI plugins, so a CNI network
	// cannot be honoured and is refused rather than silently replaced.
	hintCNI = "Drover has no CNI networking; use mode = \"bridge\" (a network namespace with a veth pair and port forwarding) or \"host\"."
)

var topSpec = newSpec("file", specOpts{
	blocks: map[string]int{"job": 1, "variable": 1, "locals": 0},
})

var jobSpec = newSpec("job", specOpts{
	attrs: []string{"name", "type", "datacenters", "region", "namespace", "priority", "meta", "node_pool", "all_at_once"},
	blocks: map[string]int{
		"meta": 0, "constraint": 0, "affinity": 0, "spread": 0, "update": 0,
		"periodic": 0, "parameterized": 0, "group": 1, "reschedule": 0, "migrate": 0,
		"ui": 0, "task": 1,
	},
	single: []string{"meta", "update", "periodic", "parameterized", "reschedule", "migrate", "ui"},
	nomad: map[string]string{
		"consul_token": hintConsul, "vault_token": hintVault,
		"vault_namespace": hintVault, "consul_namespace": hintConsul, "id": "The job's ID is its label: job \"id\" { ... }.",
		"vault": hintVault, "consul": hintConsul, "multiregion": hintMultiReg,
		"dynamic": hintDynamic,
		"payload": "A payload is given when the job is dispatched: drover job dispatch ID payload-file.",
		"stop":    "To stop a job, remove its file from the repository (or set the groups' count to 0).",
	},
})

var groupSpec = newSpec("group", specOpts{
	attrs: []string{
		"count", "meta", "max_run_duration", "max_client_disconnect",
		"stop_after_client_disconnect", "prevent_reschedule_on_lost", "shutdown_delay",
	},
	blocks: map[string]int{
		"meta": 0, "constraint": 0, "affinity": 0, "spread": 0, "update": 0,
		"restart": 0, "reschedule": 0, "migrate": 0, "network": 0, "service": 0,
		"task": 1, "ephemeral_disk": 0, "rollout": 0, "volume": 1, "scaling": 0,
		"disconnect": 0,
	},
	single: []string{"meta", "update", "restart", "reschedule", "migrate", "network", "ephemeral_disk", "rollout", "scaling", "disconnect"},
	nomad: map[string]string{
		"vault": hintVault, "consul": hintConsul, "dynamic": hintDynamic,
	},
})

var taskSpec = newSpec("task", specOpts{
	attrs:    []string{"driver", "user", "env", "meta", "kill_timeout", "kill_signal", "shutdown_delay", "leader", "max_run_duration"},
	required: []string{"driver"},
	blocks: map[string]int{
		"config": 0, "env": 0, "meta": 0, "resources": 0, "service": 0, "restart": 0,
		"lifecycle": 0, "template": 0, "logs": 0, "constraint": 0, "affinity": 0,
		"volume_mount": 0, "dispatch_payload": 0, "identity": optLabel, "action": 1,
	},
	single: []string{"config", "env", "meta", "resources", "restart", "lifecycle", "logs", "dispatch_payload"},
	nomad: map[string]string{
		"kind":  "The task kind is for Consul Connect proxies and gateways. " + hintConsul,
		"vault": hintVault, "consul": hintConsul,
		"artifact": hintArtifact, "csi_plugin": hintCSI,
		"scaling": hintDAS, "schedule": hintSchedule,
		"secret": hintVault, "dynamic": hintDynamic,
	},
})

var resourcesSpec = newSpec("resources", specOpts{
	attrs:  []string{"cpu", "cores", "memory", "memory_max", "disk"},
	blocks: map[string]int{"network": 0},
	single: []string{"network"},
	nomad: map[string]string{
		"iops":    "Nomad ignores iops since 0.9; remove it.",
		"secrets": "Drover does not size the secrets/ directory; remove the argument.",
		"device":  "Drover does not schedule devices; constrain the task to nodes that have the device and pass it to the container with the docker driver's devices option.",
		"numa":    "Drover does not place tasks by NUMA node; reserve whole cores with cores instead.",
	},
})

var networkSpec = newSpec("network", specOpts{
	attrs:  []string{"mode", "hostname", "mbits"},
	blocks: map[string]int{"port": 1},
	nomad: map[string]string{
		"dns": "Set DNS in the driver's config (docker: dns_servers, dns_search_domains).",
		"cni": hintCNI,
	},
})

var portSpec = newSpec("port", specOpts{
	attrs: []string{"static", "to", "host_network"},
	nomad: map[string]string{"ignore_collision": "Use a dynamic port, or a static port that no other allocation of the node uses."},
})

var serviceSpec = newSpec("service", specOpts{
	attrs:  []string{"name", "port", "tags", "canary_tags", "provider", "task", "meta", "address_mode", "on_update"},
	blocks: map[string]int{"meta": 0, "check": 0, "check_restart": 0},
	single: []string{"meta", "check_restart"},
	nomad: map[string]string{
		"address":             "Drover registers the address address_mode picks; set address_mode instead.",
		"enable_tag_override": hintConsul, "cluster": hintConsul, "kind": hintConsul,
		"connect": hintConsul, "canary_meta": "Use canary_tags.",
		"tagged_addresses": hintConsul, "identity": "Service identities are for Consul and Vault. " + hintConsul,
		"weights": hintConsul,
	},
})

var checkSpec = newSpec("check", specOpts{
	attrs: []string{
		"type", "name", "path", "method", "protocol", "header", "port", "command",
		"args", "task", "interval", "timeout", "initial_status", "address_mode", "on_update",
	},
	blocks: map[string]int{"check_restart": 0, "header": 0},
	single: []string{"check_restart", "header"},
	nomad: map[string]string{
		"expose":                   hintConsul,
		"grpc_service":             "Drover has no gRPC checks; use a tcp check, or a script check running grpc_health_probe.",
		"grpc_use_tls":             "Drover has no gRPC checks; use a tcp check, or a script check running grpc_health_probe.",
		"tls_skip_verify":          "Drover's http checks verify certificates; use a script check (curl -k) for a self-signed endpoint.",
		"tls_server_name":          "Use a script check (curl --resolve) to check a TLS endpoint under another name.",
		"body":                     "Drover's http checks send no body; use a script check (curl --data).",
		"success_before_passing":   "This Consul check option has no Nomad-provider equivalent; use check_restart to act on failing checks.",
		"failures_before_critical": "This Consul check option has no Nomad-provider equivalent; use check_restart to act on failing checks.",
		"failures_before_warning":  "This Consul check option has no Nomad-provider equivalent; use check_restart to act on failing checks.",
		"notes":                    "Check notes are shown by Consul only; put them in a comment.",
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
		"perms", "left_delimiter", "right_delimiter", "splay", "uid", "gid", "once",
		"error_on_missing_key",
	},
	required: []string{"destination"},
	blocks:   map[string]int{"wait": 0, "change_script": 0},
	single:   []string{"wait", "change_script"},
	nomad: map[string]string{
		"vault_grace": hintVault,
	},
})

var lifecycleSpec = newSpec("lifecycle", specOpts{
	attrs:    []string{"hook", "sidecar"},
	required: []string{"hook"},
})
