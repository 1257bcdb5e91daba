package agent

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

type fileConfig struct {
	DataDir    *string           `hcl:"data_dir,optional"`
	Servers    []string          `hcl:"servers,optional"`
	NodeName   *string           `hcl:"node_name,optional"`
	Datacenter *string           `hcl:"datacenter,optional"`
	NodeClass  *string           `hcl:"node_class,optional"`
	NodePool   *string           `hcl:"node_pool,optional"`
	HTTPAddr   *string           `hcl:"http_addr,optional"`
	NetworkIP  *string           `hcl:"network_ip,optional"`
	Meta       map[string]string `hcl:"meta,optional"`
	Reserved   *struct {
		CPU      *int `hcl:"cpu,optional"`
		MemoryMB *int `hcl:"memory,optional"`
		DiskMB   *int `hcl:"disk,optional"`
	} `hcl:"reserved,block"`
	ACL *struct {
		TokenFile *string `hcl:"token_file,optional"`
	} `hcl:"acl,block"`
	TLS *struct {
		CAFile   *string `hcl:"ca_file,optional"`
		CertFile *string `hcl:"cert_file,optional"`
		KeyFile  *string `hcl:"key_file,optional"`
	} `hcl:"tls,block"`
	JoinTokenFile *string `hcl:"join_token_file,optional"`
	Region        *string `hcl:"region,optional"`

	// ChrootEnv maps "host path" = "path in the task's root". Nomad's
	// HCL1 block form has quoted argument names, which HCL2 does not
	// allow in a block, so it is a map here.
	ChrootEnv map[string]string `hcl:"chroot_env,optional"`
	// Options are Nomad's client options; Drover reads user.denylist,
	// driver.allowlist and driver.denylist.
	Options map[string]string `hcl:"options,optional"`
	Plugins []pluginBlock     `hcl:"plugin,block"`
	// HostVolumes are host_volume "name" { path read_only } blocks.
	HostVolumes []hostVolumeBlock `hcl:"host_volume,block"`
	// Telemetry is telemetry { prometheus_listen = "127.0.0.1:9465" }:
	// a separate GET /metrics listener without a token.
	Telemetry *struct {
		PrometheusListen *string `hcl:"prometheus_listen,optional"`
	} `hcl:"telemetry,block"`
}

// pluginBlock is plugin "<driver>" { config { ... } }.
type pluginBlock struct {
	Name   string `hcl:"name,label"`
	Config *struct {
		Body hcl.Body `hcl:",remain"`
	} `hcl:"config,block"`
}

// rawExecPluginConfig is plugin "raw_exec" { config { ... } }.
type rawExecPluginConfig struct {
	Enabled *bool `hcl:"enabled,optional"`
}

// dockerPluginConfig is plugin "docker" { config { ... } }, the part of
// Nomad's that Drover enforces.
type dockerPluginConfig struct {
	Endpoint        *string  `hcl:"endpoint,optional"`
	AllowPrivileged *bool    `hcl:"allow_privileged,optional"`
	AllowCaps       []string `hcl:"allow_caps,optional"`
	Volumes         *struct {
		Enabled *bool `hcl:"enabled,optional"`
	} `hcl:"volumes,block"`
}

// qemuPluginConfig is plugin "qemu" { config { ... } }.
type qemuPluginConfig struct {
	ImagePaths    []string `hcl:"image_paths,optional"`
	ArgsAllowlist []string `hcl:"args_allowlist,optional"`
}

// knownOptions are the client options Drover reads.
var knownOptions = []string{"driver.allowlist", "driver.denylist", "user.denylist"}

// applyOptions applies options = { ... }. body locates an unknown key.
func applyOptions(c *Config, opts map[string]string, body *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		list := splitList(opts[k])
		switch k {
		case "user.denylist":
			c.UserDenylist = list
		case "driver.allowlist":
			c.DriverAllowlist = list
		case "driver.denylist":
			c.DriverDenylist = list
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown option",
				Detail:   fmt.Sprintf("options: %q is not an option Drover knows (known: %s).", k, strings.Join(knownOptions, ", ")),
				Subject:  optionKeyRange(body, k),
			})
		}
	}
	return diags
}

// splitList splits a comma-separated option value, dropping blanks: never
// nil, so that an empty value overrides a default list.
func splitList(v string) []string {
	out := []string{}
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// optionKeyRange is where key is written in options = { ... }, or the
// attribute itself when the expression is not an object literal.
func optionKeyRange(body *hclsyntax.Body, key string) *hcl.Range {
	if body == nil {
		return nil
	}
	attr, ok := body.Attributes["options"]
	if !ok {
		return nil
	}
	if obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr); ok {
		for _, it := range obj.Items {
			var k string
			if diags := gohcl.DecodeExpression(it.KeyExpr, nil, &k); !diags.HasErrors() && k == key {
				r := it.KeyExpr.Range()
				return &r
			}
		}
	}
	r := attr.SrcRange
	return &r
}

// applyPlugins applies the plugin blocks, in order. An unknown plugin is
// an error at its label; unknown attributes are errors at their names.
func applyPlugins(c *Config, plugins []pluginBlock, body *hclsyntax.Body) hcl.Diagnostics {
	var labels []hcl.Range
	if body != nil {
		for _, b := range body.Blocks {
			if b.Type == "plugin" && len(b.LabelRanges) > 0 {
				labels = append(labels, b.LabelRanges[0])
			}
		}
	}
	var diags hcl.Diagnostics
	for i, p := range plugins {
		decode := func(v any) bool {
			if p.Config == nil {
				return true
			}
			d := gohcl.DecodeBody(p.Config.Body, nil, v)
			diags = append(diags, d...)
			return !d.HasErrors()
		}
		switch p.Name {
		case "raw_exec":
			var rc rawExecPluginConfig
			if decode(&rc) && rc.Enabled != nil {
				c.RawExecEnabled = *rc.Enabled
			}
		case "docker":
			var dc dockerPluginConfig
			if !decode(&dc) {
				continue
			}
			if dc.Endpoint != nil {
				c.Docker.Endpoint = *dc.Endpoint
			}
			if dc.AllowPrivileged != nil {
				c.Docker.AllowPrivileged = *dc.AllowPrivileged
			}
			if dc.AllowCaps != nil {
				c.Docker.AllowCaps = dc.AllowCaps
			}
			if dc.Volumes != nil && dc.Volumes.Enabled != nil {
				c.Docker.VolumesEnabled = *dc.Volumes.Enabled
			}
		case "qemu":
			var qc qemuPluginConfig
			if !decode(&qc) {
				continue
			}
			if qc.ImagePaths != nil {
				c.QEMU.ImagePaths = qc.ImagePaths
			}
			if qc.ArgsAllowlist != nil {
				c.QEMU.ArgsAllowlist = qc.ArgsAllowlist
			}
		default:
			d := &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown plugin",
				Detail:   fmt.Sprintf("plugin %q: Drover configures plugin \"raw_exec\", \"docker\" and \"qemu\" here.", p.Name),
			}
			if i < len(labels) {
				d.Subject = &labels[i]
			}
			diags = append(diags, d)
		}
	}
	return diags
}

// ParseConfigFile applies an HCL agent configuration on top of c and
// returns the token file it names, if any:
//
//	data_dir   = "/var/lib/drover-agent"
//	servers    = ["10.0.0.1:4747", "10.0.0.2:4747"]
//	node_name  = "web-1"
//	datacenter = "dc1"
//	node_class = "web"
//	node_pool  = "edge"                                 # default: "default"; created if new
//	http_addr  = "127.0.0.1:4646"
//	network_ip = "10.0.0.21"
//	meta       = { rack = "r1" }
//	reserved { cpu = 500  memory = 512 }
//	acl { token_file = "/etc/drover/token" }
//	chroot_env = {                                      # what exec tasks see of the
//	  "/bin" = "/bin"                                   # host, read-only (default:
//	  "/usr" = "/usr"                                   # exec.DefaultChrootEnv)
//	}
//	options = {
//	  "user.denylist"    = "root,admin"                 # exec/raw_exec tasks may not run as these
//	  "driver.allowlist" = "exec,docker"                # only these drivers (default: all)
//	  "driver.denylist"  = "qemu"                       # never these
//	}
//	plugin "raw_exec" {                                 # raw_exec is off by default
//	  config { enabled = true }
//	}
//	plugin "docker" {
//	  config {
//	    allow_privileged = false                        # the default
//	    allow_caps       = ["chown", "net_raw"]         # cap_add may name these (default: Docker's defaults)
//	    volumes { enabled = false }                     # host paths outside the allocation (default: off)
//	  }
//	}
//	plugin "qemu" {
//	  config {
//	    image_paths    = ["/srv/vm-images"]             # besides the allocation directory
//	    args_allowlist = ["-smp", "-kernel"]            # default: no args at all
//	  }
//	}
//	host_volume "data" {                                # a host directory jobs mount with
//	  path      = "/srv/data"                           # volume { type = "host" source = "data" };
//	  read_only = false                                 # it must exist when the agent starts
//	}
//	join_token_file = "/etc/drover/client.join-token"   # the built-in CA
//	tls {                                               # or your own PKI:
//	  ca_file   = "/etc/drover/ca.pem"                  # a client certificate naming
//	  cert_file = "/etc/drover/client.pem"              # client.<region>.drover and
//	  key_file  = "/etc/drover/client-key.pem"          # urn:drover:node:<node ID>
//	}
//
// Errors carry the file's line and column.
func ParseConfigFile(c *Config, filename string, src []byte) (tokenFile string, err error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return "", diags
	}
	var fc fileConfig
	if diags := gohcl.DecodeBody(f.Body, nil, &fc); diags.HasErrors() {
		return "", diags
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.DataDir, fc.DataDir)
	set(&c.NodeName, fc.NodeName)
	set(&c.Datacenter, fc.Datacenter)
	set(&c.NodeClass, fc.NodeClass)
	set(&c.NodePool, fc.NodePool)
	set(&c.HTTPAddr, fc.HTTPAddr)
	set(&c.NetworkIP, fc.NetworkIP)
	set(&c.Region, fc.Region)
	set(&c.JoinTokenFile, fc.JoinTokenFile)
	if fc.Telemetry != nil {
		set(&c.MetricsAddr, fc.Telemetry.PrometheusListen)
	}
	if t := fc.TLS; t != nil {
		set(&c.TLSCAFile, t.CAFile)
		set(&c.TLSCertFile, t.CertFile)
		set(&c.TLSKeyFile, t.KeyFile)
	}
	if fc.Servers != nil {
		c.Servers = fc.Servers
	}
	if fc.Meta != nil {
		if c.Meta == nil {
			c.Meta = map[string]string{}
		}
		for k, v := range fc.Meta {
			c.Meta[k] = v
		}
	}
	if r := fc.Reserved; r != nil {
		if r.CPU != nil {
			c.Reserved.CPU = *r.CPU
		}
		if r.MemoryMB != nil {
			c.Reserved.MemoryMB = *r.MemoryMB
		}
		if r.DiskMB != nil {
			c.Reserved.DiskMB = *r.DiskMB
		}
	}
	if fc.ChrootEnv != nil {
		c.ChrootEnv = fc.ChrootEnv
	}
	body, _ := f.Body.(*hclsyntax.Body)
	if diags := applyOptions(c, fc.Options, body); diags.HasErrors() {
		return "", diags
	}
	if diags := applyPlugins(c, fc.Plugins, body); diags.HasErrors() {
		return "", diags
	}
	if diags := applyHostVolumes(c, fc.HostVolumes, body); diags.HasErrors() {
		return "", diags
	}
	if fc.ACL != nil && fc.ACL.TokenFile != nil {
		tokenFile = *fc.ACL.TokenFile
	}
	return tokenFile, nil
}
