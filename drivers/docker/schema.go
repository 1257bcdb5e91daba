package docker

import "github.com/droverhq/drover/drivers"

// ConfigSpec implements drivers.Driver.
func (d *Driver) ConfigSpec() drivers.Schema { return ConfigSpec() }

// ConfigSpec is the docker task config {} block, with Nomad's names. It is
// a function of nothing, so `drover validate` can check job files on a
// machine without Docker.
func ConfigSpec() drivers.Schema {
	return drivers.Schema{
		{Name: "image", Type: drivers.TypeString, Required: true,
			Description: "Image reference, e.g. \"redis:7\" or \"registry.example.com/app@sha256:…\". Used as is when present locally; pulled otherwise."},
		{Name: "command", Type: drivers.TypeString,
			Description: "Replaces the image's CMD; args follow it."},
		{Name: "args", Type: drivers.TypeListString,
			Description: "Arguments to command, or to the image's entrypoint when command is unset."},
		{Name: "entrypoint", Type: drivers.TypeListString,
			Description: "Replaces the image's ENTRYPOINT."},
		{Name: "ports", Type: drivers.TypeListString,
			Description: "Labels of the group's network ports to publish: host port → the port's `to` (or the same number) in the container, tcp and udp."},
		{Name: "volumes", Type: drivers.TypeListString,
			Description: "Bind mounts \"src:dst[:ro]\"; a relative src is under the task directory. Paths outside the allocation and named volumes need the node's volumes permission."},
		{Name: "mount", Type: drivers.TypeBlock, Block: mountSchema(),
			Description: "A bind, volume or tmpfs mount."},
		{Name: "mounts", Type: drivers.TypeBlock, Block: mountSchema(),
			Description: "Nomad's list form of mount: mounts = [{ type = \"bind\", source = \"local\", target = \"/x\" }]; both may be used."},
		{Name: "labels", Type: drivers.TypeMapString, BlockForm: true,
			Description: "Container labels; the drover.* prefix is reserved."},
		{Name: "network_mode", Type: drivers.TypeString,
			Description: "bridge (default), host, none, container:<id> or a network name."},
		{Name: "work_dir", Type: drivers.TypeString,
			Description: "Working directory inside the container."},
		{Name: "force_pull", Type: drivers.TypeBool,
			Description: "Pull the image even when present locally."},
		{Name: "auth", Type: drivers.TypeBlock, MaxBlocks: 1, Block: authSchema(),
			Description: "Registry credentials for the pull; without it the node's docker config.json is used."},
		{Name: "hostname", Type: drivers.TypeString,
			Description: "The container's hostname."},
		{Name: "cap_add", Type: drivers.TypeListString,
			Description: "Capabilities to add, within what the node allows."},
		{Name: "cap_drop", Type: drivers.TypeListString,
			Description: "Capabilities to drop; \"ALL\" drops all."},
		{Name: "privileged", Type: drivers.TypeBool,
			Description: "Run privileged; only on nodes that allow it."},
		{Name: "auth_soft_fail", Type: drivers.TypeBool,
			Description: "When the node's registry credentials cannot be read, pull without them instead of failing the task."},
		{Name: "port_map", Type: drivers.TypeMapNumber, BlockForm: true,
			Description: "Deprecated (Nomad 0.x): port label → container port, as the port's `to`; the labels are published as if listed in ports."},
		{Name: "devices", Type: drivers.TypeBlock, Block: deviceSchema(),
			Description: "Host devices to expose in the container; only on nodes that allow privileged containers."},
		{Name: "ipc_mode", Type: drivers.TypeString,
			Description: "IPC namespace: private (the default), shareable, none; host or container:<name> only on nodes that allow privileged containers."},
		{Name: "pid_mode", Type: drivers.TypeString,
			Description: "PID namespace: private (the default); host or container:<name> only on nodes that allow privileged containers."},
		{Name: "dns_servers", Type: drivers.TypeListString,
			Description: "DNS server addresses for the container's resolv.conf."},
		{Name: "dns_search_domains", Type: drivers.TypeListString,
			Description: "DNS search domains."},
		{Name: "dns_options", Type: drivers.TypeListString,
			Description: "resolv.conf options, e.g. \"ndots:2\"."},
		{Name: "extra_hosts", Type: drivers.TypeListString,
			Description: "Extra /etc/hosts lines as \"name:address\"."},
		{Name: "init", Type: drivers.TypeBool,
			Description: "Run an init process (docker-init) as pid 1 that reaps zombies and forwards signals."},
		{Name: "readonly_rootfs", Type: drivers.TypeBool,
			Description: "Mount the container's root file system read-only."},
		{Name: "shm_size", Type: drivers.TypeNumber,
			Description: "Size of /dev/shm in bytes."},
		{Name: "sysctl", Type: drivers.TypeMapString, BlockForm: true,
			Description: "Namespaced kernel parameters (net.*, kernel.shm*, ...); the daemon refuses others."},
		{Name: "ulimit", Type: drivers.TypeMapString, BlockForm: true,
			Description: "Resource limits, name → \"soft[:hard]\", e.g. nofile = \"4096:8192\"."},
		{Name: "pids_limit", Type: drivers.TypeNumber,
			Description: "Most processes the container may have."},
		{Name: "healthchecks", Type: drivers.TypeBlock, MaxBlocks: 1, Block: drivers.Schema{
			{Name: "disable", Type: drivers.TypeBool, Description: "Do not run the image's HEALTHCHECK."},
		}, Description: "healthchecks { disable = true } turns off the image's HEALTHCHECK."},
		{Name: "memory_hard_limit", Type: drivers.TypeNumber,
			Description: "Hard memory limit in MB above resources.memory (which becomes the reservation), as memory_max."},
		{Name: "oom_score_adj", Type: drivers.TypeNumber,
			Description: "0 to 1000: how readily the kernel's OOM killer picks this container; below 0 only on nodes that allow privileged containers."},
		{Name: "group_add", Type: drivers.TypeListString,
			Description: "Extra groups the container's process runs with."},
		{Name: "interactive", Type: drivers.TypeBool,
			Description: "Keep the container's stdin open (nothing is attached to it), for programs that exit at end of input."},
		{Name: "logging", Type: drivers.TypeBlock, MaxBlocks: 1, Block: drivers.Schema{
			{Name: "type", Type: drivers.TypeString, Description: "The daemon's log driver: json-file (default), local, journald, fluentd, ..."},
			{Name: "driver", Type: drivers.TypeString, Description: "Nomad's older name for type."},
			{Name: "config", Type: drivers.TypeMapString, BlockForm: true, Description: "The log driver's options, e.g. max-size."},
		}, Description: "The container's log driver and its options. Drover streams task logs back from the daemon, which for drivers other than json-file, local and journald needs the daemon's dual logging (on by default since Docker 20.10)."},
		{Name: "image_pull_timeout", Type: drivers.TypeString,
			Description: "How long a pull of the image may take, e.g. \"10m\"; at most 1h (default: the node's, 5m)."},
		{Name: "security_opt", Type: drivers.TypeListString,
			Description: "\"no-new-privileges\" anywhere; other options (seccomp, apparmor, label) only on nodes that allow privileged containers."},
	}
}

func deviceSchema() drivers.Schema {
	return drivers.Schema{
		{Name: "host_path", Type: drivers.TypeString, Required: true, Description: "The device on the host, e.g. /dev/fuse."},
		{Name: "container_path", Type: drivers.TypeString, Description: "Where it appears in the container; the host path by default."},
		{Name: "cgroup_permissions", Type: drivers.TypeString, Description: "Any of r, w and m (mknod); rwm by default."},
	}
}

func mountSchema() drivers.Schema {
	return drivers.Schema{
		{Name: "type", Type: drivers.TypeString, Description: "bind, volume (default) or tmpfs."},
		{Name: "target", Type: drivers.TypeString, Required: true, Description: "Path in the container."},
		{Name: "source", Type: drivers.TypeString, Description: "Host path (bind; relative is under the task directory) or volume name."},
		{Name: "readonly", Type: drivers.TypeBool},
		{Name: "bind_options", Type: drivers.TypeBlock, MaxBlocks: 1, Block: drivers.Schema{
			{Name: "propagation", Type: drivers.TypeString},
		}},
		{Name: "volume_options", Type: drivers.TypeBlock, MaxBlocks: 1, Block: drivers.Schema{
			{Name: "no_copy", Type: drivers.TypeBool},
			{Name: "labels", Type: drivers.TypeMapString, BlockForm: true},
		}},
		{Name: "tmpfs_options", Type: drivers.TypeBlock, MaxBlocks: 1, Block: drivers.Schema{
			{Name: "size", Type: drivers.TypeNumber, Description: "Bytes."},
			{Name: "mode", Type: drivers.TypeNumber, Description: "File mode, e.g. 0o1777 written as 1023."},
		}},
	}
}

func authSchema() drivers.Schema {
	return drivers.Schema{
		{Name: "username", Type: drivers.TypeString},
		{Name: "password", Type: drivers.TypeString},
		{Name: "email", Type: drivers.TypeString},
		{Name: "server_address", Type: drivers.TypeString},
		{Name: "identity_token", Type: drivers.TypeString},
	}
}
