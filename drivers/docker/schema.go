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
