package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/droverhq/drover/agent"
)

const agentHelp = `
Usage: drover agent -servers ADDR[,ADDR...] [options]

Run a client agent: it fingerprints this machine (CPU, memory, OS, drivers),
registers it as a node with the servers, heartbeats, and runs the
allocations the scheduler places here through the task drivers (exec,
raw_exec, docker, qemu). It reports task states and events back.

Tasks are isolated by default: exec runs each task in its own mount, PID,
IPC and UTS namespaces, chrooted into read-only bind mounts of the host's
system directories, as nobody, with no_new_privs and cgroup limits;
user = "root" is refused (options = { "user.denylist" = "root" }).
raw_exec, which runs tasks as plain host processes, is off unless the
agent's config file enables it:
  plugin "raw_exec" { config { enabled = true } }

Tasks outlive the agent: stop it, upgrade it, or kill -9 it, and the next
agent started on the same -data-dir re-attaches to the tasks that still
run and reports those that exited meanwhile. If the servers are
unreachable, tasks keep running and the agent reconnects with backoff.

The agent serves task logs (drover alloc logs) on -http-addr, loopback and
a free port by default; the address is part of the node's registration.
A non-loopback -http-addr requires a token, which clients then must send.

The agent's identity is a client certificate of the cluster's CA, which it
obtains once with the client join token (the first server wrote it to
<data-dir>/client.join-token; 'drover operator join-token client' prints
it) and keeps in <data-dir>/tls. From then on it talks HTTPS to the
servers with it and holds no API token.

Examples:
  # Join a local server (it runs with -data-dir /var/lib/drover):
  drover agent -servers 127.0.0.1:4747 -data-dir /var/lib/drover-agent \
    -join-token-file /var/lib/drover/client.join-token

  # Join remote servers with the token itself:
  drover agent -servers 10.0.0.1:4747,10.0.0.2:4747 -data-dir /data/agent \
    -join-token DRVTKN-1-client-...

  # A name, a class and metadata for constraints:
  drover agent -servers 10.0.0.1:4747,10.0.0.2:4747 -data-dir /data/agent \
    -node-name web-1 -node-class web -meta rack=r1 -meta zone=a

  # A host directory jobs mount with volume { type = "host" source = "data" }
  # (host_volume "data" { path = "/srv/data" } in the config file):
  drover agent -servers 10.0.0.1:4747 -data-dir /data/agent -host-volume data=/srv/data

  # Settings from a file (HCL), flags override it:
  drover agent -config /etc/drover/agent.hcl

Exit codes: 0 stopped cleanly (tasks keep running), 1 error.
`

// agentOptions are the command's flags; set records which were given,
// since only those override the configuration file.
type agentOptions struct {
	configFile string
	servers    string
	dataDir    string
	nodeName   string
	datacenter string
	nodeClass  string
	nodePool   string
	meta       kvFlag
	hostVols   hostVolumeFlag
	token      string
	tokenFile  string
	joinToken  string
	joinFile   string
	region     string
	httpAddr   string
	networkIP  string
	metrics    string
	logLevel   string
	logJSON    bool
	set        map[string]bool
}

func runAgent(ctx context.Context, args []string, io stdio) int {
	opts := agentOptions{meta: kvFlag{}, hostVols: hostVolumeFlag{}}
	fs := newFlagSet("agent", agentHelp, io)
	declareDaemonFlags(fs, &opts.configFile, &opts.logLevel, &opts.logJSON)
	fs.StringVar(&opts.servers, "servers", "", "comma-separated HTTP `addresses` of servers")
	fs.StringVar(&opts.dataDir, "data-dir", "", "keep local state and allocation directories in `dir`")
	fs.StringVar(&opts.nodeName, "node-name", "", "the node's `name` (default: the hostname)")
	fs.StringVar(&opts.datacenter, "datacenter", "dc1", "the node's `datacenter`")
	fs.StringVar(&opts.nodeClass, "node-class", "", "the node's `class`, for constraints")
	fs.StringVar(&opts.nodePool, "node-pool", "", "register the node in node `pool` (default \"default\"; created if new)")
	fs.Var(opts.meta, "meta", "node metadata `key=value` (repeatable)")
	fs.Var(opts.hostVols, "host-volume", "offer host directory `name=path[:ro]` to jobs' volume { type = \"host\" source = name } (repeatable)")
	fs.StringVar(&opts.token, "token", "", "the API `token` (default $DROVER_TOKEN)")
	fs.StringVar(&opts.tokenFile, "token-file", "", "read the API token from `file`")
	fs.StringVar(&opts.joinToken, "join-token", "", "obtain the node's client certificate with the client join `token`")
	fs.StringVar(&opts.joinFile, "join-token-file", "", "read the client join token from `file` (the first server writes <data-dir>/client.join-token)")
	fs.StringVar(&opts.region, "region", "", "the cluster's `region`, named in its certificates (default \"global\")")
	fs.StringVar(&opts.httpAddr, "http-addr", "", "serve task logs on `host:port` (default 127.0.0.1 and a free port)")
	fs.StringVar(&opts.networkIP, "network-ip", "", "the `IP` tasks' ports are reachable at (default 127.0.0.1)")
	fs.StringVar(&opts.metrics, "metrics-addr", "", "also serve Prometheus metrics at GET /metrics on `host:port`, without a token (telemetry { prometheus_listen }; off by default)")
	set, code, done := parseDaemonFlags(fs, args, io)
	if done {
		return code
	}
	opts.set = set
	cfg, err := agentConfig(opts, io)
	if err != nil {
		fmt.Fprintf(io.err, "drover agent: %v\n", err)
		return exitError
	}
	return runAgentWith(ctx, cfg, opts.logLevel, opts.logJSON, io)
}

// agentConfig merges the defaults, the configuration file, the
// environment and the flags, in rising precedence.
func agentConfig(opts agentOptions, io stdio) (agent.Config, error) {
	cfg := agent.DefaultConfig()
	tokenFile := ""
	err := readConfigFile(opts.configFile, func(filename string, src []byte) (err error) {
		tokenFile, err = agent.ParseConfigFile(&cfg, filename, src)
		return err
	})
	if err != nil {
		return cfg, err
	}
	if tok := envToken(io); tok != "" {
		cfg.Token = tok
	}
	override(opts.set, "token-file", &tokenFile, opts.tokenFile)
	if tokenFile != "" && !opts.set["token"] {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return cfg, fmt.Errorf("read token file: %w", err)
		}
		if cfg.Token = strings.TrimSpace(string(b)); cfg.Token == "" {
			return cfg, fmt.Errorf("token file %s is empty", tokenFile)
		}
	}
	override(opts.set, "token", &cfg.Token, opts.token)
	if opts.set["servers"] {
		cfg.Servers = nil
		for _, s := range strings.Split(opts.servers, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.Servers = append(cfg.Servers, s)
			}
		}
	}
	override(opts.set, "join-token", &cfg.JoinToken, opts.joinToken)
	override(opts.set, "join-token-file", &cfg.JoinTokenFile, opts.joinFile)
	if cfg.JoinTokenFile != "" && cfg.JoinToken == "" {
		b, err := os.ReadFile(cfg.JoinTokenFile)
		if err != nil {
			return cfg, fmt.Errorf("read join token file: %w", err)
		}
		if cfg.JoinToken = strings.TrimSpace(string(b)); cfg.JoinToken == "" {
			return cfg, fmt.Errorf("join token file %s is empty", cfg.JoinTokenFile)
		}
	}
	override(opts.set, "region", &cfg.Region, opts.region)
	override(opts.set, "data-dir", &cfg.DataDir, opts.dataDir)
	override(opts.set, "node-name", &cfg.NodeName, opts.nodeName)
	override(opts.set, "datacenter", &cfg.Datacenter, opts.datacenter)
	override(opts.set, "node-class", &cfg.NodeClass, opts.nodeClass)
	override(opts.set, "node-pool", &cfg.NodePool, opts.nodePool)
	override(opts.set, "http-addr", &cfg.HTTPAddr, opts.httpAddr)
	override(opts.set, "network-ip", &cfg.NetworkIP, opts.networkIP)
	override(opts.set, "metrics-addr", &cfg.MetricsAddr, opts.metrics)
	if len(opts.meta) > 0 && cfg.Meta == nil {
		cfg.Meta = map[string]string{}
	}
	for k, v := range opts.meta {
		cfg.Meta[k] = v
	}
	opts.hostVols.mergeInto(&cfg.HostVolumes)
	return cfg, nil
}

func runAgentWith(ctx context.Context, cfg agent.Config, logLevel string, logJSON bool, io stdio) int {
	logger, err := serverLogger(serverOptions{logLevel: logLevel, logJSON: logJSON}, io)
	if err != nil {
		fmt.Fprintf(io.err, "drover agent: %v\n", err)
		return exitError
	}
	cfg.Logger = logger.With("component", "agent")
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintf(io.err, "drover agent: %v\n", err)
		return exitError
	}
	fmt.Fprintf(io.out, "==> Drover agent started: node ID %s, logs API on http://%s, data in %s\n", a.NodeID(), a.HTTPAddr(), cfg.DataDir)
	fmt.Fprintf(io.out, "    servers %s\n", strings.Join(cfg.Servers, ", "))
	if m := a.MetricsAddr(); m != "" {
		fmt.Fprintf(io.out, "    Prometheus metrics on http://%s/metrics (no token)\n", m)
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(io.err, "drover agent: %v\n", err)
		return exitError
	}
	fmt.Fprintln(io.out, "==> Drover agent stopped; its tasks keep running")
	return exitOK
}
