package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/httpguard"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Config configures a server. Nothing in it is hot-reloadable: a change
// means a restart.
type Config struct {
	// Name labels the server in logs and in /v1/status/peers. Its Raft
	// ID is generated once and kept in DataDir, so renaming is harmless.
	Name string
	// DataDir holds the server ID, the Raft log and the snapshots.
	DataDir string
	// HTTPAddr is where the API listens; port 0 picks a free port.
	HTTPAddr string
	// RaftAddr is where Raft listens for the other servers.
	RaftAddr string
	// AdvertiseHTTP and AdvertiseRaft are the addresses other servers
	// reach this one at, when the bound ones are not reachable (0.0.0.0).
	AdvertiseHTTP string
	AdvertiseRaft string
	// MetricsAddr, when set, is a separate listener serving GET /metrics
	// without a token (telemetry { prometheus_listen }, -metrics-addr);
	// off by default. The API's GET /v1/metrics needs agent:read.
	MetricsAddr string
	// HTTPAllowedHosts are names (or IPs) a request's Host may carry
	// besides localhost, the loopback IPs and the bound and advertised
	// addresses; "*" allows any. Empty allows only those on a loopback
	// bind (against DNS rebinding, browser.go) and any on another bind.
	HTTPAllowedHosts []string

	// BootstrapExpect is how many servers form a new cluster: 1 starts
	// alone; N > 1 waits until N servers found each other through Join
	// and then bootstraps them together. 0 joins an existing cluster.
	// It is ignored once the data dir has Raft state.
	BootstrapExpect int
	// Join lists HTTP addresses of other servers.
	Join []string

	// Region names the cluster in its certificates: every server's is
	// issued for server.<region>.drover, and peers check that name.
	Region string
	// JoinToken is the server join token (DRVTKN-1-server-...) a new
	// server presents to the servers in Join to obtain its certificate;
	// it pins their CA. JoinTokenFile is read into JoinToken when
	// JoinToken is empty. Neither is needed once the server has its
	// certificate, nor by the server that creates the CA.
	JoinToken     string
	JoinTokenFile string
	// CertLifetime is how long the certificates this server signs are
	// valid.
	CertLifetime time.Duration

	// HeartbeatTTL is how often nodes must heartbeat. A node is marked
	// down once TTL+HeartbeatGrace passed without one.
	HeartbeatTTL   time.Duration
	HeartbeatGrace time.Duration
	// FailoverHeartbeatGrace is added to every node's deadline when a
	// server becomes leader, since nodes may have been heartbeating a
	// leader that just died.
	FailoverHeartbeatGrace time.Duration

	// Token, when set, must be presented by every request as
	// "Authorization: Bearer <token>" (except GET /v1/agent/health).
	// TokenFile is read into Token when Token is empty.
	Token     string
	TokenFile string
	// ACL turns on ACL tokens with policies (acl.go): every request but
	// health checks, webhooks and joins needs a token whose policies
	// grant the route's capability. Token, when set, is still accepted,
	// as a management token.
	ACL bool
	// ACLBootstrap is "auto" (the first leader creates the management
	// token and writes it to <data-dir>/management.token) or "manual"
	// (`drover acl bootstrap` creates it once).
	ACLBootstrap string

	// TLSHTTP makes the API speak only HTTPS, even on a loopback
	// address (Nomad's tls { http = true }). Without it the API speaks
	// only HTTPS beyond loopback and both HTTPS and plain HTTP on
	// loopback, told apart by the first byte of each connection
	// (http_listen.go): servers and agents always use HTTPS with their
	// certificates, and a local CLI or browser may use plain HTTP.
	TLSHTTP bool
	// TLSCAFile, TLSCertFile and TLSKeyFile bring the operator's own
	// PKI (tls { ca_file cert_file key_file }, Nomad's names): the
	// server uses this certificate, which must name
	// server.<region>.drover (drover tls cert create -server makes one),
	// instead of creating or joining the built-in CA. It then signs
	// nothing and renews nothing: the operator's PKI does.
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string
	// TLSKEKFile is the key-encryption key of a cluster with its own PKI
	// (tls { kek_file }): the same file on every server, made by `drover
	// tls kek create`, mode 0600. With the built-in CA the first server
	// makes the KEK and hands it to joining servers, so it is not set
	// there; with an own PKI nothing hands it out, and without it the
	// servers cannot seal variables, sealed files' keys or identities.
	TLSKEKFile string
	// InsecurePlaintextHTTP lets an API bound beyond loopback answer
	// plain HTTP too. Tokens then cross the network in the clear.
	InsecurePlaintextHTTP bool
	// VerifyHTTPSClient requires a client certificate of the cluster CA
	// on every HTTPS request but health checks, webhooks and joins
	// (Nomad's verify_https_client). On by default.
	VerifyHTTPSClient bool

	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// JobMaxCount bounds a task group's count and JobMaxAllocs the sum
	// of a job's counts (job_limits.go): a job over either is refused
	// with a 400 naming the group. Every server should have the same
	// values, since whichever leads checks Git submissions.
	JobMaxCount  int
	JobMaxAllocs int
	// DispatchMaxChildren bounds the dispatched children of one
	// parameterized job that have not finished (dispatch.go): past it a
	// dispatch is refused with 429 until some finish.
	DispatchMaxChildren int
	// SnapshotRestoreMaxBytes bounds the body of a snapshot restore (PUT
	// /v1/operator/snapshot): it holds the whole state, so it may be far
	// larger than MaxBodyBytes (snapshot.go).
	SnapshotRestoreMaxBytes int64
	// SnapshotInterval is how often the leader writes an automatic
	// snapshot to <data-dir>/snapshots (0: never); SnapshotRetain is how
	// many of them it keeps (snapshot_auto.go).
	SnapshotInterval time.Duration
	SnapshotRetain   int
	// Autopilot is the leader's dead server cleanup (autopilot.go).
	Autopilot AutopilotConfig
	// Recover rebuilds Raft state that is lost or damaged from the newest
	// snapshot in the data dir before the server starts (recover.go).
	Recover bool
	// RetryInterval paces joining, bootstrap discovery and member
	// registration.
	RetryInterval time.Duration

	// Version is the build's version, reported by GET /v1/agent/self.
	Version string

	// Sources are the Git repositories the leader keeps the cluster in
	// sync with (source blocks; see sources.go).
	Sources []reconciler.SourceConfig

	// GitHub, when it has a token, makes the leader set drover/deploy
	// commit statuses on the GitHub repositories of its sources
	// (github.go).
	GitHub GitHubConfig

	// GC is what garbage collection keeps (gc.go): Nomad's
	// job_tracked_versions, eval_gc_threshold, deployment_gc_threshold
	// and job_gc_threshold. GCInterval is how often the leader collects
	// (gc_interval).
	GC         state.GCConfig
	GCInterval time.Duration

	// Raft tunes the state store; DataDir, NodeID, BindAddr,
	// AdvertiseAddr, Bootstrap and TLS are set by the server.
	Raft state.Config
}

// DefaultConfig returns the defaults; DataDir must still be set.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:               api.DefaultAddr,
		RaftAddr:               "127.0.0.1:4647",
		HeartbeatTTL:           10 * time.Second,
		HeartbeatGrace:         10 * time.Second,
		FailoverHeartbeatGrace: 30 * time.Second,
		MaxBodyBytes:           8 << 20,
		JobMaxCount:            DefaultJobMaxCount,
		JobMaxAllocs:           DefaultJobMaxAllocs,
		DispatchMaxChildren:    DefaultDispatchMaxChildren,
		RetryInterval:          time.Second,
		Region:                 pki.DefaultRegion,
		CertLifetime:           pki.DefaultCertLifetime,
		VerifyHTTPSClient:      true,
		Raft:                   state.DefaultConfig(),
		GC:                     state.DefaultGCConfig(),
		GCInterval:             5 * time.Minute,

		// A restore body is the whole state; 1 GiB is far beyond any
		// cluster Drover is meant for, and still bounded.
		SnapshotRestoreMaxBytes: 1 << 30,
		SnapshotInterval:        time.Hour,
		SnapshotRetain:          24,
		Autopilot:               DefaultAutopilotConfig(),
	}
}

// ErrTokenRequired is why a server refuses to expose an unauthenticated
// API to the network.
var ErrTokenRequired = errors.New("the HTTP API would listen on a non-loopback address without a token: " +
	"set -token-file (or DROVER_TOKEN, or acl { token_file } in the config), or bind -http-addr to 127.0.0.1")

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is required (-data-dir)"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err))
	} else if !isLoopback(c.HTTPAddr) && c.Token == "" && !c.ACL {
		errs = append(errs, ErrTokenRequired)
	}
	if (c.TLSCAFile == "") != (c.TLSCertFile == "") || (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls: ca_file, cert_file and key_file go together: set all three, or none to use the built-in CA"))
	}
	if c.TLSKEKFile != "" && c.TLSCertFile == "" {
		errs = append(errs, errors.New("tls: kek_file goes with your own PKI (tls { cert_file }); with the built-in CA the servers make and share the key-encryption key themselves: remove kek_file"))
	}
	if c.TLSCertFile != "" && c.JoinToken != "" {
		errs = append(errs, errors.New("tls: a server with its own certificate files (tls { cert_file }) needs no join token"))
	}
	if c.TLSHTTP && c.InsecurePlaintextHTTP {
		errs = append(errs, errors.New("tls http (HTTPS only) and insecure_plaintext_http contradict each other: pick one"))
	}
	switch c.ACLBootstrap {
	case "", ACLBootstrapAuto, ACLBootstrapManual:
	default:
		errs = append(errs, fmt.Errorf("acl bootstrap %q: want %s or %s", c.ACLBootstrap, ACLBootstrapAuto, ACLBootstrapManual))
	}
	errs = append(errs, validateAllowedHosts(c.HTTPAllowedHosts)...)
	if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		errs = append(errs, fmt.Errorf("raft_addr %q: %w", c.RaftAddr, err))
	}
	if c.AdvertiseHTTP == "" && isUnspecified(c.HTTPAddr) {
		errs = append(errs, fmt.Errorf("http_addr %q is not an address other servers can reach: set an advertise address", c.HTTPAddr))
	}
	if c.AdvertiseRaft == "" && isUnspecified(c.RaftAddr) {
		errs = append(errs, fmt.Errorf("raft_addr %q is not an address other servers can reach: set an advertise address", c.RaftAddr))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, errors.New("bootstrap_expect must not be negative"))
	}
	if c.BootstrapExpect > 1 && len(c.Join) == 0 {
		errs = append(errs, fmt.Errorf("bootstrap_expect %d needs -join addresses of the other servers", c.BootstrapExpect))
	}
	for _, j := range c.Join {
		if strings.TrimSpace(j) == "" {
			errs = append(errs, errors.New("join: empty address"))
		} else if _, err := api.NewClient(api.Config{Address: j}); err != nil {
			errs = append(errs, fmt.Errorf("join: %w", err))
		}
	}
	if err := pki.ValidateRegion(c.Region); err != nil {
		errs = append(errs, err)
	}
	if c.JoinToken != "" {
		if _, err := pki.ParseJoinToken(c.JoinToken); err != nil {
			errs = append(errs, fmt.Errorf("join token: %w", err))
		} else if len(c.Join) == 0 {
			errs = append(errs, errors.New("a join token needs -join addresses of the servers to join"))
		}
	}
	if c.CertLifetime <= 0 {
		errs = append(errs, errors.New("certificate lifetime must be positive"))
	}
	if c.HeartbeatTTL <= 0 {
		errs = append(errs, errors.New("heartbeat_ttl must be positive"))
	}
	if c.HeartbeatGrace < 0 || c.FailoverHeartbeatGrace < 0 {
		errs = append(errs, errors.New("heartbeat grace periods must not be negative"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("max body bytes must be positive"))
	}
	if c.JobMaxCount <= 0 || c.JobMaxAllocs <= 0 {
		errs = append(errs, errors.New("job_max_count and job_max_allocs must be positive"))
	} else if c.JobMaxCount > c.JobMaxAllocs {
		errs = append(errs, fmt.Errorf("job_max_count %d is over job_max_allocs %d, so a group could never reach it: raise job_max_allocs too", c.JobMaxCount, c.JobMaxAllocs))
	}
	if c.DispatchMaxChildren <= 0 {
		errs = append(errs, fmt.Errorf("dispatch_max_children %d: must be positive (default %d)", c.DispatchMaxChildren, DefaultDispatchMaxChildren))
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, errors.New("retry interval must be positive"))
	}
	errs = append(errs, c.validateSnapshots()...)
	errs = append(errs, c.validateGC()...)
	if err := c.Autopilot.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, validateSources(c.Sources)...)
	if err := c.GitHub.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server config: %w", err)
	}
	return nil
}

func isLoopback(hostport string) bool { return httpguard.IsLoopback(hostport) }

func isUnspecified(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// fileConfig is the HCL configuration file. Durations are expressions so
// that a bad one is reported at its position.
type fileConfig struct {
	Name            *string        `hcl:"name,optional"`
	DataDir         *string        `hcl:"data_dir,optional"`
	HTTPAddr        *string        `hcl:"http_addr,optional"`
	RaftAddr        *string        `hcl:"raft_addr,optional"`
	AdvertiseHTTP   *string        `hcl:"advertise_http,optional"`
	AdvertiseRaft   *string        `hcl:"advertise_raft,optional"`
	AllowedHosts    []string       `hcl:"http_allowed_hosts,optional"`
	BootstrapExpect *int           `hcl:"bootstrap_expect,optional"`
	JobMaxCount     *int           `hcl:"job_max_count,optional"`
	JobMaxAllocs    *int           `hcl:"job_max_allocs,optional"`
	Join            []string       `hcl:"join,optional"`
	Region          *string        `hcl:"region,optional"`
	JoinTokenFile   *string        `hcl:"join_token_file,optional"`
	HeartbeatTTL    hcl.Expression `hcl:"heartbeat_ttl,optional"`
	HeartbeatGrace  hcl.Expression `hcl:"heartbeat_grace,optional"`

	// DispatchMaxChildren is Config.DispatchMaxChildren (dispatch.go).
	DispatchMaxChildren *int `hcl:"dispatch_max_children,optional"`

	// Garbage collection, Nomad's names (gc.go).
	JobTrackedVersions    *int           `hcl:"job_tracked_versions,optional"`
	EvalGCThreshold       hcl.Expression `hcl:"eval_gc_threshold,optional"`
	DeploymentGCThreshold hcl.Expression `hcl:"deployment_gc_threshold,optional"`
	JobGCThreshold        hcl.Expression `hcl:"job_gc_threshold,optional"`
	GCInterval            hcl.Expression `hcl:"gc_interval,optional"`

	TLS *struct {
		HTTP                  *bool     `hcl:"http,optional"`
		VerifyHTTPSClient     *bool     `hcl:"verify_https_client,optional"`
		InsecurePlaintextHTTP *bool     `hcl:"insecure_plaintext_http,optional"`
		CAFile                *string   `hcl:"ca_file,optional"`
		CertFile              *string   `hcl:"cert_file,optional"`
		KeyFile               *string   `hcl:"key_file,optional"`
		KEKFile               *string   `hcl:"kek_file,optional"`
		VerifyServerHostname  *bool     `hcl:"verify_server_hostname,optional"`
		Range                 hcl.Range `hcl:",def_range"`
	} `hcl:"tls,block"`
	ACL *struct {
		TokenFile *string `hcl:"token_file,optional"`
		Enabled   *bool   `hcl:"enabled,optional"`
		Bootstrap *string `hcl:"bootstrap,optional"`
	} `hcl:"acl,block"`
	Sources  []fileSource `hcl:"source,block"`
	Snapshot *struct {
		Enabled  *bool          `hcl:"enabled,optional"`
		Interval hcl.Expression `hcl:"interval,optional"`
		Retain   *int           `hcl:"retain,optional"`
	} `hcl:"snapshot,block"`
	Autopilot *struct {
		CleanupDeadServers *bool          `hcl:"cleanup_dead_servers,optional"`
		DeadServerGrace    hcl.Expression `hcl:"dead_server_grace,optional"`
		MinQuorum          *int           `hcl:"min_quorum,optional"`
	} `hcl:"autopilot,block"`
	GitHub *struct {
		APIURL       *string           `hcl:"api_url,optional"`
		TokenFile    *string           `hcl:"token_file,optional"`
		ExternalURL  *string           `hcl:"external_url,optional"`
		Repositories map[string]string `hcl:"repositories,optional"`
	} `hcl:"github,block"`
	Telemetry *struct {
		PrometheusListen *string `hcl:"prometheus_listen,optional"`
	} `hcl:"telemetry,block"`
}

// ParseConfigFile applies an HCL configuration file on top of c:
//
//	name             = "server-1"
//	data_dir         = "/var/lib/drover"
//	http_addr        = "127.0.0.1:4747"
//	raft_addr        = "127.0.0.1:4647"
//	bootstrap_expect = 3
//	join             = ["10.0.0.2:4747", "10.0.0.3:4747"]
//	join_token_file  = "/etc/drover/server.join-token"  # joining servers
//	region           = "global"
//	heartbeat_ttl    = "10s"
//	job_max_count    = 10000     # a group's count at most (default)
//	job_max_allocs   = 100000    # a job's counts added up, at most (default)
//	dispatch_max_children = 10000  # unfinished dispatched jobs of one parameterized job (default)
//	job_tracked_versions    = 6      # garbage collection (Nomad's names and defaults)
//	eval_gc_threshold       = "1h"   # terminal evaluations and allocations
//	deployment_gc_threshold = "1h"   # terminal deployments
//	job_gc_threshold        = "4h"   # stopped jobs
//	gc_interval             = "5m"   # how often the leader collects
//	tls {
//	  http                = true    # HTTPS only, even on loopback (-tls-http)
//	  verify_https_client = true    # HTTPS requests need a client certificate (default)
//	  ca_file   = "/etc/drover/ca.pem"          # your own PKI instead of the built-in CA:
//	  cert_file = "/etc/drover/server.pem"      # a certificate naming server.<region>.drover
//	  key_file  = "/etc/drover/server-key.pem"
//	  kek_file  = "/etc/drover/kek"             # with your own PKI: drover tls kek create, same file on every server
//	}
//	acl {
//	  token_file = "/etc/drover/token"   # a management token
//	  enabled    = true                  # ACL tokens with policies (-acl)
//	  bootstrap  = "auto"                # or "manual": drover acl bootstrap
//	}
//	snapshot {
//	  interval = "1h"     # automatic snapshots on the leader, in <data-dir>/snapshots
//	  retain   = 24       # how many to keep; enabled = false turns them off
//	}
//	autopilot {
//	  cleanup_dead_servers = true    # remove a server the leader lost for dead_server_grace
//	  dead_server_grace    = "5m"
//	  min_quorum           = 0       # never remove one when fewer voters would remain
//	}
//	github {
//	  token_file   = "/etc/drover/github-token"
//	  api_url      = "https://ghe.example.com/api/v3"   # GitHub Enterprise only
//	  external_url = "https://drover.example.com"
//	  repositories = { apps = "acme/deploy" }          # when a source URL does not say
//	}
//	telemetry {
//	  prometheus_listen = "127.0.0.1:9464"   # GET /metrics without a token (-metrics-addr); off by default
//	}
//
// Errors carry the file's line and column.
func ParseConfigFile(c *Config, filename string, src []byte) error {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	var fc fileConfig
	if diags := gohcl.DecodeBody(f.Body, nil, &fc); diags.HasErrors() {
		return diags
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Name, fc.Name)
	set(&c.DataDir, fc.DataDir)
	set(&c.HTTPAddr, fc.HTTPAddr)
	set(&c.RaftAddr, fc.RaftAddr)
	set(&c.AdvertiseHTTP, fc.AdvertiseHTTP)
	set(&c.AdvertiseRaft, fc.AdvertiseRaft)
	if fc.BootstrapExpect != nil {
		c.BootstrapExpect = *fc.BootstrapExpect
	}
	if fc.JobMaxCount != nil {
		c.JobMaxCount = *fc.JobMaxCount
	}
	if fc.JobMaxAllocs != nil {
		c.JobMaxAllocs = *fc.JobMaxAllocs
	}
	if fc.DispatchMaxChildren != nil {
		c.DispatchMaxChildren = *fc.DispatchMaxChildren
	}
	if fc.Join != nil {
		c.Join = fc.Join
	}
	set(&c.Region, fc.Region)
	set(&c.JoinTokenFile, fc.JoinTokenFile)
	if fc.Telemetry != nil {
		set(&c.MetricsAddr, fc.Telemetry.PrometheusListen)
	}
	if fc.JobTrackedVersions != nil {
		c.GC.JobTrackedVersions = *fc.JobTrackedVersions
	}
	if fc.AllowedHosts != nil {
		c.HTTPAllowedHosts = fc.AllowedHosts
	}
	if t := fc.TLS; t != nil {
		for _, f := range []struct {
			dst *bool
			v   *bool
		}{{&c.TLSHTTP, t.HTTP}, {&c.VerifyHTTPSClient, t.VerifyHTTPSClient}, {&c.InsecurePlaintextHTTP, t.InsecurePlaintextHTTP}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		set(&c.TLSCAFile, t.CAFile)
		set(&c.TLSCertFile, t.CertFile)
		set(&c.TLSKeyFile, t.KeyFile)
		set(&c.TLSKEKFile, t.KEKFile)
		if t.VerifyServerHostname != nil && !*t.VerifyServerHostname {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "verify_server_hostname cannot be turned off",
				Detail:   "Drover always checks that a server's certificate names server.<region>.drover: without it any certificate of the CA, an agent's too, could pose as a server. Remove the attribute.",
				Subject:  t.Range.Ptr(),
			}}
		}
	}
	if fc.ACL != nil {
		set(&c.TokenFile, fc.ACL.TokenFile)
		set(&c.ACLBootstrap, fc.ACL.Bootstrap)
		if fc.ACL.Enabled != nil {
			c.ACL = *fc.ACL.Enabled
		}
	}
	if g := fc.GitHub; g != nil {
		set(&c.GitHub.APIURL, g.APIURL)
		set(&c.GitHub.TokenFile, g.TokenFile)
		set(&c.GitHub.ExternalURL, g.ExternalURL)
		if g.Repositories != nil {
			c.GitHub.Repositories = g.Repositories
		}
	}
	var snapInterval, deadGrace hcl.Expression
	if sn := fc.Snapshot; sn != nil {
		snapInterval = sn.Interval
		if sn.Retain != nil {
			c.SnapshotRetain = *sn.Retain
		}
	}
	if ap := fc.Autopilot; ap != nil {
		deadGrace = ap.DeadServerGrace
		if ap.CleanupDeadServers != nil {
			c.Autopilot.CleanupDeadServers = *ap.CleanupDeadServers
		}
		if ap.MinQuorum != nil {
			c.Autopilot.MinQuorum = *ap.MinQuorum
		}
	}
	var all hcl.Diagnostics
	for _, d := range []struct {
		name string
		expr hcl.Expression
		dst  *time.Duration
	}{
		{"heartbeat_ttl", fc.HeartbeatTTL, &c.HeartbeatTTL},
		{"heartbeat_grace", fc.HeartbeatGrace, &c.HeartbeatGrace},
		{"eval_gc_threshold", fc.EvalGCThreshold, &c.GC.EvalGCThreshold},
		{"deployment_gc_threshold", fc.DeploymentGCThreshold, &c.GC.DeploymentGCThreshold},
		{"job_gc_threshold", fc.JobGCThreshold, &c.GC.JobGCThreshold},
		{"gc_interval", fc.GCInterval, &c.GCInterval},
		{"snapshot interval", snapInterval, &c.SnapshotInterval},
		{"dead_server_grace", deadGrace, &c.Autopilot.DeadServerGrace},
	} {
		v, diags := durationAttr(d.name, d.expr)
		all = append(all, diags...)
		if v != nil {
			*d.dst = *v
		}
	}
	if sn := fc.Snapshot; sn != nil && sn.Enabled != nil && !*sn.Enabled {
		c.SnapshotInterval = 0
	}
	all = append(all, applySources(c, fc.Sources)...)
	if all.HasErrors() {
		return all
	}
	return nil
}

// durationAttr evaluates an optional duration attribute ("10s").
func durationAttr(name string, expr hcl.Expression) (*time.Duration, hcl.Diagnostics) {
	if expr == nil {
		return nil, nil
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.IsNull() {
		return nil, nil
	}
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + name,
			Detail:   detail,
			Subject:  expr.Range().Ptr(),
		}}
	}
	if v.Type() != cty.String || !v.IsKnown() {
		return nil, bad(`A duration is a string such as "10s" or "1m30s".`)
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		return nil, bad(fmt.Sprintf(`%v; a duration is a string such as "10s" or "1m30s".`, err))
	}
	if d <= 0 {
		return nil, bad("The duration must be positive.")
	}
	return &d, nil
}

// HTTPSOnly reports whether the API refuses plain HTTP: with -tls-http,
// and on any address beyond loopback unless -insecure-plaintext-http.
func (c Config) HTTPSOnly() bool {
	return c.TLSHTTP || !isLoopback(c.HTTPAddr) && !c.InsecurePlaintextHTTP
}

// IsLoopback reports whether host:port names a loopback address.
func IsLoopback(hostport string) bool { return isLoopback(hostport) }
