package agent

import (
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
}

// ParseConfigFile applies an HCL agent configuration on top of c and
// returns the token file it names, if any:
//
//	data_dir   = "/var/lib/drover-agent"
//	servers    = ["10.0.0.1:4747", "10.0.0.2:4747"]
//	node_name  = "web-1"
//	datacenter = "dc1"
//	node_class = "web"
//	http_addr  = "127.0.0.1:4646"
//	network_ip = "10.0.0.21"
//	meta       = { rack = "r1" }
//	reserved { cpu = 500  memory = 512 }
//	acl { token_file = "/etc/drover/token" }
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
	set(&c.HTTPAddr, fc.HTTPAddr)
	set(&c.NetworkIP, fc.NetworkIP)
	set(&c.Region, fc.Region)
	set(&c.JoinTokenFile, fc.JoinTokenFile)
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
	if fc.ACL != nil && fc.ACL.TokenFile != nil {
		tokenFile = *fc.ACL.TokenFile
	}
	return tokenFile, nil
}
