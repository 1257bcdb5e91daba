package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/droverhq/drover/server"
)

const serverHelp = `
Usage: drover server [options]

Run a Drover server: it keeps the cluster state in Raft, serves the HTTP
API, and, while it leads, schedules jobs and watches node heartbeats.

The API listens on 127.0.0.1:4747 unless told otherwise. Binding it to any
other address requires a token (-token-file or DROVER_TOKEN); every request
must then send "Authorization: Bearer <token>". With -acl, tokens carry
policies (drover acl): the first server writes the management token to
<data-dir>/management.token and logs how to use it; -acl-bootstrap=manual
leaves that to "drover acl bootstrap".

Examples:
  # One server on its own:
  drover server -bootstrap-expect 1 -data-dir /var/lib/drover

  # Three servers that find each other and bootstrap together. The first
  # creates the cluster CA and writes the server join token to
  # /data/s1/server.join-token; the others obtain their certificates with it:
  drover server -node-name s1 -data-dir /data/s1 -bootstrap-expect 3 \
    -http-addr 10.0.0.1:4747 -raft-addr 10.0.0.1:4647 -token-file /etc/drover/token \
    -join 10.0.0.2:4747 -join 10.0.0.3:4747
  drover server -node-name s2 -data-dir /data/s2 -bootstrap-expect 3 \
    -http-addr 10.0.0.2:4747 -raft-addr 10.0.0.2:4647 -token-file /etc/drover/token \
    -join 10.0.0.1:4747 -join 10.0.0.3:4747 -join-token-file /etc/drover/server.join-token

  # Add a server to a running cluster:
  drover server -data-dir /data/s4 -join 10.0.0.1:4747 -token-file /etc/drover/token \
    -join-token DRVTKN-1-server-...

Raft between servers is always mutual TLS with certificates of the
cluster's own CA (in <data-dir>/tls); a join token is needed only once, to
obtain the certificate. Print it with 'drover operator join-token server'.

  # Settings from a file (HCL), flags override it:
  drover server -config /etc/drover/server.hcl

A restarted server resumes from its data dir and never bootstraps again.
It stops gracefully on SIGINT or SIGTERM.

Exit codes: 0 stopped cleanly, 1 error.
`

// serverOptions are the command's flags; set records which were given,
// since only those override the configuration file.
type serverOptions struct {
	configFile      string
	dataDir         string
	httpAddr        string
	raftAddr        string
	bootstrapExpect int
	join            listFlag
	allowedHosts    listFlag
	nodeName        string
	tokenFile       string
	joinToken       string
	joinTokenFile   string
	region          string
	acl             bool
	aclBootstrap    string
	logLevel        string
	logJSON         bool
	set             map[string]bool
}

func runServer(ctx context.Context, args []string, io stdio) int {
	var opts serverOptions
	fs := newFlagSet("server", serverHelp, io)
	declareDaemonFlags(fs, &opts.configFile, &opts.logLevel, &opts.logJSON)
	fs.StringVar(&opts.dataDir, "data-dir", "", "keep the server ID, Raft log and snapshots in `dir`")
	fs.StringVar(&opts.httpAddr, "http-addr", "", "serve the API on `host:port` (default 127.0.0.1:4747)")
	fs.StringVar(&opts.raftAddr, "raft-addr", "", "talk Raft to the other servers on `host:port` (default 127.0.0.1:4647)")
	fs.IntVar(&opts.bootstrapExpect, "bootstrap-expect", 0, "form a new cluster once `N` servers found each other (1: alone)")
	fs.Var(&opts.join, "join", "HTTP `address` of another server (repeatable)")
	fs.Var(&opts.allowedHosts, "http-allowed-hosts", "also answer requests whose Host is one of these comma-separated `names` (\"*\": any; default: only loopback names on a loopback -http-addr)")
	fs.StringVar(&opts.nodeName, "node-name", "", "the server's `name` (default: the hostname)")
	fs.StringVar(&opts.tokenFile, "token-file", "", "require the API token in `file` (else DROVER_TOKEN)")
	fs.StringVar(&opts.joinToken, "join-token", "", "obtain this server's certificate from the -join servers with the server join `token`")
	fs.StringVar(&opts.joinTokenFile, "join-token-file", "", "read the server join token from `file` (the first server writes <data-dir>/server.join-token)")
	fs.StringVar(&opts.region, "region", "", "the cluster's `region`, named in its certificates (default \"global\")")
	fs.BoolVar(&opts.acl, "acl", false, "require ACL tokens with policies on the API (drover acl; the first server writes the management token to <data-dir>/management.token)")
	fs.StringVar(&opts.aclBootstrap, "acl-bootstrap", "", "`mode` of the first management token: auto (written to <data-dir>/management.token) or manual (drover acl bootstrap)")
	set, code, done := parseDaemonFlags(fs, args, io)
	if done {
		return code
	}
	opts.set = set
	return serve(ctx, opts, io)
}

// serverConfig merges the defaults, the configuration file, the
// environment and the flags, in rising precedence.
func serverConfig(opts serverOptions, io stdio) (server.Config, error) {
	cfg := server.DefaultConfig()
	cfg.Version = version
	err := readConfigFile(opts.configFile, func(filename string, src []byte) error {
		return server.ParseConfigFile(&cfg, filename, src)
	})
	if err != nil {
		return cfg, err
	}
	if tok := envToken(io); tok != "" {
		cfg.Token = tok
	}
	override(opts.set, "data-dir", &cfg.DataDir, opts.dataDir)
	override(opts.set, "http-addr", &cfg.HTTPAddr, opts.httpAddr)
	override(opts.set, "raft-addr", &cfg.RaftAddr, opts.raftAddr)
	override(opts.set, "bootstrap-expect", &cfg.BootstrapExpect, opts.bootstrapExpect)
	override(opts.set, "join", &cfg.Join, []string(opts.join))
	override(opts.set, "http-allowed-hosts", &cfg.HTTPAllowedHosts, splitCommaList(opts.allowedHosts))
	override(opts.set, "node-name", &cfg.Name, opts.nodeName)
	override(opts.set, "region", &cfg.Region, opts.region)
	override(opts.set, "join-token-file", &cfg.JoinTokenFile, opts.joinTokenFile)
	if opts.set["join-token"] {
		cfg.JoinToken, cfg.JoinTokenFile = opts.joinToken, ""
	}
	override(opts.set, "acl", &cfg.ACL, opts.acl)
	override(opts.set, "acl-bootstrap", &cfg.ACLBootstrap, opts.aclBootstrap)
	if opts.set["token-file"] {
		// An explicit file wins over the environment.
		cfg.Token, cfg.TokenFile = "", opts.tokenFile
	}
	return cfg, nil
}

// splitCommaList splits the comma-separated values of a repeatable flag.
func splitCommaList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func serverLogger(opts serverOptions, io stdio) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", opts.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	if opts.logJSON {
		return slog.New(slog.NewJSONHandler(io.err, ho)), nil
	}
	return slog.New(slog.NewTextHandler(io.err, ho)), nil
}

func serve(ctx context.Context, opts serverOptions, io stdio) int {
	logger, err := serverLogger(opts, io)
	if err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	cfg, err := serverConfig(opts, io)
	if err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, "server-id"))
	resumed := cfg.DataDir != "" && statErr == nil
	s, err := server.New(cfg, logger)
	if err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	fmt.Fprintf(io.out, "==> Drover server started: HTTP on http://%s, Raft on %s, data in %s\n", s.HTTPAddr(), s.RaftAddr(), s.DataDir())
	fmt.Fprintf(io.out, "    name %s, server ID %s\n", s.Name(), s.ID())
	switch {
	case resumed && s.State().HasState():
		fmt.Fprintln(io.out, "==> resuming from the cluster state in the data dir")
	case cfg.BootstrapExpect == 1:
		fmt.Fprintln(io.out, "==> bootstrapped a new single-server cluster")
	case cfg.BootstrapExpect > 1:
		fmt.Fprintf(io.out, "==> waiting for %d servers to bootstrap… (joining through %s)\n", cfg.BootstrapExpect, strings.Join(cfg.Join, ", "))
	case len(cfg.Join) > 0:
		fmt.Fprintf(io.out, "==> joining the cluster through %s…\n", strings.Join(cfg.Join, ", "))
	}
	if err := s.Run(ctx); err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	fmt.Fprintln(io.out, "==> Drover server stopped")
	return exitOK
}
