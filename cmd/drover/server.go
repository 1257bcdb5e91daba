package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/server"
)

const serverHelp = `
Usage: drover server [options]

Run a Drover server: it keeps the cluster state in Raft, serves the HTTP
API, and, while it leads, schedules jobs and watches node heartbeats.

Secure by default, with no setup:
  - ACLs are on: every API request needs a token whose policies allow it
    (drover acl). The first server creates the management token and writes
    it to <data-dir>/management.token (mode 0600); use it with
      export DROVER_TOKEN=$(cat <data-dir>/management.token)
    -acl-bootstrap=manual leaves that to "drover acl bootstrap" instead;
    -acl=false turns ACLs off (insecure: anyone who reaches the API owns
    the cluster).
  - The first server creates the cluster's CA (in <data-dir>/tls) and the
    join tokens: servers join with <data-dir>/server.join-token, agents with
    <data-dir>/client.join-token, and each gets its own certificate.
  - Raft between servers is always mutual TLS. The API (127.0.0.1:4747
    unless told otherwise) speaks HTTPS with client certificates to servers
    and agents; on a loopback address it also answers plain HTTP for the
    local CLI and browser. Bound beyond loopback it speaks only HTTPS, and
    the CLI needs DROVER_CACERT, DROVER_CLIENT_CERT and DROVER_CLIENT_KEY
    (drover tls cert create -cli). -tls-http makes it HTTPS-only on
    loopback too; -insecure-plaintext-http allows plain HTTP beyond
    loopback (insecure: tokens cross the network in the clear).

Examples:
  # One server on its own:
  drover server -bootstrap-expect 1 -data-dir /var/lib/drover

  # Three servers that find each other and bootstrap together. The first
  # creates the cluster CA and writes the server join token to
  # /data/s1/server.join-token; the others obtain their certificates with it:
  drover server -node-name s1 -data-dir /data/s1 -bootstrap-expect 3 \
    -http-addr 10.0.0.1:4747 -raft-addr 10.0.0.1:4647 \
    -join 10.0.0.2:4747 -join 10.0.0.3:4747
  drover server -node-name s2 -data-dir /data/s2 -bootstrap-expect 3 \
    -http-addr 10.0.0.2:4747 -raft-addr 10.0.0.2:4647 \
    -join 10.0.0.1:4747 -join 10.0.0.3:4747 -join-token-file /etc/drover/server.join-token

  # Add a server to a running cluster:
  drover server -data-dir /data/s4 -join 10.0.0.1:4747 -join-token DRVTKN-1-server-...

A join token is needed only once, to obtain the certificate; print the
current one with 'drover operator join-token server|client'.

  # Settings from a file (HCL), flags override it:
  drover server -config /etc/drover/server.hcl

A restarted server resumes from its data dir and never bootstraps again.
A data dir that was a cluster member and lost or damaged its raft.db
refuses to start; -recover rebuilds its Raft state from the newest local
snapshot (raft's own in <data-dir>/raft/snapshots, or an automatic one in
<data-dir>/snapshots) and moves the damaged raft.db aside:
  drover server -data-dir /var/lib/drover -bootstrap-expect 1 -recover
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
	tlsHTTP         bool
	insecureHTTP    bool
	certLifetime    time.Duration
	jobMaxCount     int
	jobMaxAllocs    int
	metricsAddr     string
	logLevel        string
	logJSON         bool
	recover         bool
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
	fs.BoolVar(&opts.acl, "acl", true, "require ACL tokens with policies on the API (drover acl; the first server writes the management token to <data-dir>/management.token); -acl=false is insecure")
	fs.DurationVar(&opts.certLifetime, "tls-cert-lifetime", 0, "how long the server and agent certificates this server signs are `valid` (default 2160h, 90 days; they renew at two thirds)")
	fs.BoolVar(&opts.tlsHTTP, "tls-http", false, "serve the API over HTTPS only, even on a loopback -http-addr")
	fs.BoolVar(&opts.insecureHTTP, "insecure-plaintext-http", false, "also answer plain HTTP on a -http-addr beyond loopback (insecure: tokens cross the network in the clear)")
	fs.StringVar(&opts.aclBootstrap, "acl-bootstrap", "", "`mode` of the first management token: auto (written to <data-dir>/management.token) or manual (drover acl bootstrap)")
	fs.BoolVar(&opts.recover, "recover", false, "when the data dir lost or damaged its raft.db, rebuild the Raft state from the newest local snapshot (the damaged file is moved aside); a no-op otherwise")
	fs.IntVar(&opts.jobMaxCount, "job-max-count", 0, "refuse a job with a group whose count is over `N` (default 10000)")
	fs.IntVar(&opts.jobMaxAllocs, "job-max-allocs", 0, "refuse a job whose groups' counts add up to over `N` (default 100000)")
	fs.StringVar(&opts.metricsAddr, "metrics-addr", "", "also serve Prometheus metrics at GET /metrics on `host:port`, without a token (telemetry { prometheus_listen }; off by default; the API's GET /v1/metrics?format=prometheus needs agent:read)")
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
	// The library's default suits embedding (drover dev, tests); the
	// server command is secure by default.
	cfg.ACL = true
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
	override(opts.set, "metrics-addr", &cfg.MetricsAddr, opts.metricsAddr)
	if opts.set["join-token"] {
		cfg.JoinToken, cfg.JoinTokenFile = opts.joinToken, ""
	}
	override(opts.set, "acl", &cfg.ACL, opts.acl)
	override(opts.set, "acl-bootstrap", &cfg.ACLBootstrap, opts.aclBootstrap)
	override(opts.set, "tls-http", &cfg.TLSHTTP, opts.tlsHTTP)
	override(opts.set, "tls-cert-lifetime", &cfg.CertLifetime, opts.certLifetime)
	override(opts.set, "insecure-plaintext-http", &cfg.InsecurePlaintextHTTP, opts.insecureHTTP)
	override(opts.set, "job-max-count", &cfg.JobMaxCount, opts.jobMaxCount)
	override(opts.set, "job-max-allocs", &cfg.JobMaxAllocs, opts.jobMaxAllocs)
	override(opts.set, "recover", &cfg.Recover, opts.recover)
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
	s, err := server.New(cfg, logger)
	if err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	scheme := "http(s)"
	if cfg.HTTPSOnly() {
		scheme = "https"
	}
	fmt.Fprintf(io.out, "==> Drover server started: API on %s://%s, Raft (mutual TLS) on %s, data in %s\n", scheme, s.HTTPAddr(), s.RaftAddr(), s.DataDir())
	fmt.Fprintf(io.out, "    name %s, server ID %s\n", s.Name(), s.ID())
	if a := s.MetricsAddr(); a != "" {
		fmt.Fprintf(io.out, "    Prometheus metrics on http://%s/metrics (no token)\n", a)
	}
	if !cfg.ACL {
		fmt.Fprintln(io.err, "==> WARNING: ACLs are off (-acl=false): anyone who can reach the API controls the cluster and runs code on its nodes")
	}
	if cfg.InsecurePlaintextHTTP && !cfg.HTTPSOnly() && !server.IsLoopback(cfg.HTTPAddr) {
		fmt.Fprintln(io.err, "==> WARNING: the API answers plain HTTP beyond loopback (-insecure-plaintext-http): tokens cross the network in the clear")
	}
	resumedAt := s.ResumedAt()
	if rec := s.Recovered(); rec != nil {
		fmt.Fprintf(io.out, "==> restored from snapshot %s (Raft index %d, term %d)\n", rec.From.Path, rec.From.Index, rec.From.Term)
		if rec.MovedDB != "" {
			fmt.Fprintf(io.out, "    the damaged raft.db was moved to %s\n", rec.MovedDB)
		}
	}
	switch {
	case resumedAt > 0:
		fmt.Fprintf(io.out, "==> resuming from the cluster state in the data dir (Raft index %d)\n", resumedAt)
	case cfg.BootstrapExpect == 1:
		fmt.Fprintln(io.out, "==> bootstrapped a new single-server cluster")
	case cfg.BootstrapExpect > 1:
		fmt.Fprintf(io.out, "==> waiting for %d servers to bootstrap… (joining through %s)\n", cfg.BootstrapExpect, strings.Join(cfg.Join, ", "))
	case len(cfg.Join) > 0:
		fmt.Fprintf(io.out, "==> joining the cluster through %s…\n", strings.Join(cfg.Join, ", "))
	}
	if cfg.BootstrapExpect > 0 && resumedAt == 0 || s.HoldsCA() {
		printJoinHints(io, s, cfg)
	}
	reportCtx, stopReport := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { reportStart(reportCtx, io, s, cfg, resumedAt) })
	err = s.Run(ctx)
	stopReport()
	wg.Wait()
	if err != nil {
		fmt.Fprintf(io.err, "drover server: %v\n", err)
		return exitError
	}
	fmt.Fprintln(io.out, "==> Drover server stopped")
	return exitOK
}

// reportStart says which path the start took once it is done: the state
// in the data dir replayed (resumedAt > 0), or the first entries of a new
// or joined cluster arrived. It polls: the state has no watch on the
// applied index, and this is one line of output.
func reportStart(ctx context.Context, io stdio, s *server.Server, cfg server.Config, resumedAt uint64) {
	r := s.State()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if applied := r.AppliedIndex(); applied > 0 && r.CaughtUpTo(resumedAt) {
			jobs := len(r.Store().Snapshot().Jobs())
			switch {
			case resumedAt > 0:
				fmt.Fprintf(io.out, "==> resumed at index %d with %d jobs\n", resumedAt, jobs)
			case cfg.BootstrapExpect != 1:
				fmt.Fprintf(io.out, "==> joined the cluster at index %d with %d jobs\n", applied, jobs)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// printJoinHints tells the operator of a new cluster how to use it: the
// management token and the join tokens, with commands that work as
// printed.
func printJoinHints(io stdio, s *server.Server, cfg server.Config) {
	if cfg.ACL && cfg.ACLBootstrap != server.ACLBootstrapManual {
		path := server.ManagementTokenFile(s.DataDir())
		fmt.Fprintf(io.out, "==> ACLs are on; the management token is (or, once elected, will be) in %s:\n", path)
		fmt.Fprintf(io.out, "      export DROVER_TOKEN=$(cat %s)\n", path)
	}
	if !s.HoldsCA() {
		return
	}
	fmt.Fprintln(io.out, "==> agents join with the client join token:")
	fmt.Fprintf(io.out, "      drover agent -servers %s -data-dir DIR -join-token-file %s\n", s.HTTPAddr(), server.JoinTokenFile(s.DataDir(), "client"))
	fmt.Fprintln(io.out, "    servers with the server join token:")
	fmt.Fprintf(io.out, "      drover server -join %s -data-dir DIR -join-token-file %s\n", s.HTTPAddr(), server.JoinTokenFile(s.DataDir(), "server"))
}
