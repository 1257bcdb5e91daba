// Package agent is a Drover client agent: it fingerprints its node,
// registers it with the servers and heartbeats, watches the allocations
// placed on it with blocking queries, runs each through the task drivers
// (package allocrunner), and reports their states back. Its memory is a
// bbolt file in the data dir (package localstate), so that restarting the
// agent re-attaches to the tasks instead of losing them.
//
// The agent reaches the servers only through the api client and runs
// tasks only through drivers.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/pki"
)

// Config configures an agent. Nothing is hot-reloadable.
type Config struct {
	// DataDir holds the local state (state.db) and the allocation
	// directories (allocs/<id>/).
	DataDir string
	// Servers are the HTTP addresses of servers; the agent fails over
	// between them.
	Servers []string
	// Token is sent to the servers and required by the agent's own API.
	// An agent that joined with a client join token needs none: its
	// client certificate is its identity.
	Token string
	// JoinToken is the client join token (DRVTKN-1-client-...): with it
	// the agent obtains its client certificate once (tls.go) and from
	// then on talks HTTPS to the servers with it.
	JoinToken string
	// JoinTokenFile is read into JoinToken when JoinToken is empty.
	JoinTokenFile string
	// Region is the cluster's region, named in its certificates.
	Region string
	// TLSCAFile, TLSCertFile and TLSKeyFile bring the operator's own
	// PKI (tls { ca_file cert_file key_file }): a client certificate
	// naming client.<region>.drover and the node's ID ('drover tls cert
	// create -client -node-id ID'); a new data dir takes that node ID.
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string

	// NodeName defaults to the hostname.
	NodeName   string
	Datacenter string
	NodeClass  string
	// NodePool is the node pool the node registers in (node_pool; ""
	// is "default"). A pool that does not exist yet is created.
	NodePool string
	Meta     map[string]string
	// Reserved is held back for the host itself.
	Reserved cluster.NodeResources

	// HTTPAddr is where the agent serves its API (task logs). Port 0
	// picks a free port; the address is recorded in the node's
	// registration, which is how the CLI finds it.
	HTTPAddr string
	// MetricsAddr, when set, is a separate listener serving GET /metrics
	// without a token (telemetry { prometheus_listen }, -metrics-addr);
	// off by default.
	MetricsAddr string
	// NetworkIP is the address tasks' ports are reachable at
	// (NOMAD_IP_<label>).
	NetworkIP string

	// Drivers run the tasks; nil means the default drivers (exec,
	// raw_exec, docker, qemu) configured by the fields below.
	Drivers []drivers.Driver

	// RawExecEnabled turns on the raw_exec driver, which runs tasks as
	// plain host processes: plugin "raw_exec" { config { enabled = true } }.
	// Off, raw_exec fingerprints as not detected and jobs using it are
	// unplaceable on this node.
	RawExecEnabled bool
	// ChrootEnv is what exec tasks see of the host: host path → path in
	// the task's root, all read-only (Nomad's chroot_env).
	ChrootEnv map[string]string
	// UserDenylist are the users exec tasks may not run as (Nomad's
	// user.denylist option).
	UserDenylist []string
	// DriverAllowlist, when not empty, names the only drivers the agent
	// registers and fingerprints (Nomad's driver.allowlist option);
	// DriverDenylist names drivers it leaves out (driver.denylist). A
	// driver left out is missing on this node, so jobs that need it are
	// unplaceable here for "missing drivers".
	DriverAllowlist []string
	DriverDenylist  []string
	// HostVolumes are the host_volume blocks by name: host paths jobs
	// mount with volume { type = "host" source = NAME }, registered
	// with the node so that the scheduler places such jobs only here.
	HostVolumes map[string]cluster.HostVolume
	// Docker configures the docker driver: plugin "docker" { config {} }.
	Docker DockerPluginConfig
	// QEMU configures the qemu driver: plugin "qemu" { config {} }.
	QEMU QEMUPluginConfig

	// StopTasksOnShutdown makes Run stop every task before it returns
	// (drover dev). Otherwise tasks outlive the agent, to be re-attached
	// by the next one.
	StopTasksOnShutdown bool

	// MaxBackoff caps the wait between retries when the servers cannot
	// be reached.
	MaxBackoff time.Duration
	// SyncWindow is how long allocation updates are gathered before they
	// are sent in one request.
	SyncWindow time.Duration

	Logger *slog.Logger
}

// DockerPluginConfig is plugin "docker" { config { ... } }, with Nomad's
// names. The defaults are the secure ones: no privileged containers, no
// host volumes, and cap_add limited to Docker's default capabilities.
type DockerPluginConfig struct {
	// Endpoint is the daemon's address (endpoint); empty means
	// DOCKER_HOST, then the platform default.
	Endpoint string
	// AllowPrivileged lets tasks set privileged = true (allow_privileged).
	AllowPrivileged bool
	// AllowCaps are the capabilities cap_add may name (allow_caps), in
	// Nomad's lower-case spelling without CAP_ ("net_admin"); "all"
	// allows any. Nil means Docker's default set.
	AllowCaps []string
	// VolumesEnabled lets tasks bind host paths outside their allocation
	// and use named volumes (volumes { enabled = true }).
	VolumesEnabled bool
}

// QEMUPluginConfig is plugin "qemu" { config { ... } }.
type QEMUPluginConfig struct {
	// ImagePaths are the host directories image_path may point into
	// besides the task's allocation directory (image_paths).
	ImagePaths []string
	// ArgsAllowlist are the QEMU flags a task's args may use
	// (args_allowlist, e.g. ["-smp", "-kernel"]). Unlike Nomad, where an
	// unset list allows any argument, empty means no args at all: a free
	// "-drive file=/dev/sda" would hand a job the host's disks.
	ArgsAllowlist []string
}

// DefaultConfig returns the defaults; DataDir and Servers must be set.
func DefaultConfig() Config {
	return Config{
		Datacenter: "dc1",
		Region:     pki.DefaultRegion,
		HTTPAddr:   "127.0.0.1:0",
		NetworkIP:  "127.0.0.1",
		MaxBackoff: 15 * time.Second,
		SyncWindow: 10 * time.Millisecond,

		ChrootEnv:    exec.DefaultChrootEnv(),
		UserDenylist: exec.DefaultIsolation().UserDenylist,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is required (-data-dir)"))
	}
	if len(c.Servers) == 0 {
		errs = append(errs, errors.New("at least one server address is required (-servers)"))
	}
	for _, s := range c.Servers {
		if _, err := api.NewClient(api.Config{Address: s}); err != nil {
			errs = append(errs, fmt.Errorf("server %q: %w", s, err))
		}
	}
	if (c.TLSCAFile == "") != (c.TLSCertFile == "") || (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls: ca_file, cert_file and key_file go together: set all three, or none"))
	}
	if c.TLSCertFile != "" && c.JoinToken != "" {
		errs = append(errs, errors.New("tls: an agent with its own certificate files needs no join token"))
	}
	if c.JoinToken != "" {
		if tok, err := pki.ParseJoinToken(c.JoinToken); err != nil {
			errs = append(errs, fmt.Errorf("join token: %w", err))
		} else if tok.Role != pki.RoleClient {
			errs = append(errs, fmt.Errorf("join token: this is a %s join token; an agent joins with the client join token ('drover operator join-token client')", tok.Role))
		}
	}
	if err := pki.ValidateRegion(c.Region); err != nil {
		errs = append(errs, err)
	}
	if c.Datacenter == "" {
		errs = append(errs, errors.New("datacenter must not be empty"))
	}
	if err := cluster.ValidateNodeNodePool(c.NodePool); err != nil {
		errs = append(errs, fmt.Errorf("node_pool: %w", err))
	}
	if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err))
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) && c.Token == "" && c.JoinToken == "" && c.TLSCertFile == "" && !hasClientCert(c.DataDir) {
		errs = append(errs, fmt.Errorf("http_addr %q is not loopback: the agent serves task logs there, so it must join with the client join token "+
			"(-join-token-file; it then serves HTTPS and asks the servers about each caller's token) or have a token (-token)", c.HTTPAddr))
	}
	if net.ParseIP(c.NetworkIP) == nil {
		errs = append(errs, fmt.Errorf("network_ip %q is not an IP address", c.NetworkIP))
	}
	for k := range c.Meta {
		if k == "" || strings.ContainsAny(k, " \t\n=") {
			errs = append(errs, fmt.Errorf("meta key %q is not usable", k))
		}
	}
	if c.MaxBackoff <= 0 {
		errs = append(errs, errors.New("max backoff must be positive"))
	}
	for src, dst := range c.ChrootEnv {
		if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
			errs = append(errs, fmt.Errorf("chroot_env %q = %q: both paths must be absolute", src, dst))
		}
	}
	for _, u := range c.UserDenylist {
		if strings.TrimSpace(u) == "" {
			errs = append(errs, errors.New("user.denylist: an empty user name"))
		}
	}
	for _, l := range []struct {
		name  string
		names []string
	}{{"driver.allowlist", c.DriverAllowlist}, {"driver.denylist", c.DriverDenylist}} {
		for _, n := range l.names {
			if strings.TrimSpace(n) == "" || n != strings.TrimSpace(n) {
				errs = append(errs, fmt.Errorf("%s: %q is not a driver name", l.name, n))
			}
		}
	}
	for _, capName := range c.Docker.AllowCaps {
		if !validCapName(capName) {
			errs = append(errs, fmt.Errorf("plugin \"docker\": allow_caps: %q is not a capability name (e.g. \"net_admin\", or \"all\")", capName))
		}
	}
	for _, p := range c.QEMU.ImagePaths {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("plugin \"qemu\": image_paths: %q is not an absolute path", p))
		}
	}
	for _, a := range c.QEMU.ArgsAllowlist {
		if strings.TrimLeft(a, "-") == "" || strings.ContainsAny(a, " \t\n=") {
			errs = append(errs, fmt.Errorf("plugin \"qemu\": args_allowlist: %q is not a QEMU flag (e.g. \"-smp\")", a))
		}
	}
	if c.SyncWindow < 0 {
		errs = append(errs, errors.New("sync window must not be negative"))
	}
	errs = append(errs, validateHostVolumes(c.HostVolumes)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agent config: %w", err)
	}
	return nil
}

// validCapName reports whether s looks like a Linux capability name as
// Nomad spells them in allow_caps: letters, digits and underscores,
// optionally prefixed CAP_, in either case.
func validCapName(s string) bool {
	s = strings.TrimPrefix(strings.ToUpper(s), "CAP_")
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
