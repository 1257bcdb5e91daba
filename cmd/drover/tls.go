package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/droverhq/drover/pki"
)

// `drover tls` makes a CA and certificates offline, as `nomad tls` does:
// for operators who bring their own CA to the servers, and for CLI
// certificates signed by the CA the first server created.

const tlsHelp = `
Usage: drover tls <subcommand> [options]

Create a certificate authority and certificates for a Drover cluster,
offline (no server is contacted). A cluster makes its own CA and hands
out server and agent certificates through join tokens; these commands
are for a CA of your own and for operators' CLI certificates.

Subcommands:
  ca create     Create a CA: drover-agent-ca.pem and drover-agent-ca-key.pem
  cert create   Create a server, client (agent) or CLI certificate signed by a CA
  kek create    Create the key-encryption key servers with a CA of your own share

Examples:
  drover tls ca create
  drover tls cert create -cli
  drover tls cert create -cli -ca /var/lib/drover/tls/ca.pem -key /var/lib/drover/tls/ca-key.pem
  drover tls kek create -out /etc/drover/kek

Run 'drover tls <subcommand> create --help' for its options.
`

func runTLS(ctx context.Context, args []string, io stdio) int {
	return tlsGroup(ctx, "tls", tlsHelp, []command{
		{"ca", "Create a certificate authority", func(ctx context.Context, args []string, io stdio) int {
			return tlsGroup(ctx, "tls ca", tlsHelp, []command{{"create", "Create a CA", runTLSCACreate}}, args, io)
		}},
		{"cert", "Create certificates signed by a CA", func(ctx context.Context, args []string, io stdio) int {
			return tlsGroup(ctx, "tls cert", tlsHelp, []command{{"create", "Create a certificate", runTLSCertCreate}}, args, io)
		}},
		{"kek", "Create a key-encryption key", func(ctx context.Context, args []string, io stdio) int {
			return tlsGroup(ctx, "tls kek", tlsHelp, []command{{"create", "Create a key-encryption key", runTLSKEKCreate}}, args, io)
		}},
	}, args, io)
}

// tlsGroup dispatches to subs, but answers help itself: the generic
// group help says that subcommands talk to a server, which these do not.
func tlsGroup(ctx context.Context, group, help string, subs []command, args []string, io stdio) int {
	if len(args) == 0 {
		fmt.Fprint(io.err, help[1:])
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(io.out, help[1:])
		return exitOK
	}
	return dispatch(ctx, group, "", subs, args, io)
}

const tlsExitCodes = "\nExit codes: 0 files written, 1 an error (nothing is overwritten).\n"

const tlsCACreateHelp = `
Usage: drover tls ca create [options]

Create a certificate authority (ECDSA P-256) and write it to -out-dir as
drover-agent-ca.pem and drover-agent-ca-key.pem (mode 0600). Existing
files are never overwritten.

Keep the key secret: whoever holds it can make servers and agents of
the cluster. Servers check certificates against drover-agent-ca.pem.

Examples:
  drover tls ca create
  drover tls ca create -region eu -days 1825 -out-dir /etc/drover/tls
` + tlsExitCodes

// tlsCAOptions are the flags of `tls ca create`.
type tlsCAOptions struct {
	region string
	days   int
	outDir string
}

const (
	tlsCAFile    = "drover-agent-ca.pem"
	tlsCAKeyFile = "drover-agent-ca-key.pem"
)

func runTLSCACreate(_ context.Context, args []string, io stdio) int {
	var opts tlsCAOptions
	flags := newFlagSet("tls ca create", tlsCACreateHelp, io)
	flags.StringVar(&opts.region, "region", pki.DefaultRegion, "the cluster's `region`, named in the CA")
	flags.IntVar(&opts.days, "days", 3650, "how many `days` the CA is valid")
	flags.StringVar(&opts.outDir, "out-dir", ".", "the `dir` to write the files to")
	if _, code, done := parseArgs(flags, args, io, 0, 0, "drover tls ca create: takes no arguments; run 'drover tls ca create --help'"); done {
		return code
	}
	if err := tlsCACreate(opts, time.Now(), io); err != nil {
		fmt.Fprintf(io.err, "drover tls ca create: %v\n", err)
		return exitError
	}
	return exitOK
}

func tlsCACreate(opts tlsCAOptions, now time.Time, io stdio) error {
	if opts.days <= 0 {
		return fmt.Errorf("-days %d: want a positive number of days", opts.days)
	}
	ca, err := pki.NewCAValidFor(opts.region, now, time.Duration(opts.days)*24*time.Hour)
	if err != nil {
		return err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(opts.outDir, tlsCAFile), filepath.Join(opts.outDir, tlsCAKeyFile)
	if err := tlsWriteNew([]tlsFile{{certPath, ca.CertPEM(), 0o644}, {keyPath, keyPEM, 0o600}}); err != nil {
		return err
	}
	fmt.Fprintf(io.out, "==> CA certificate saved to %s (valid until %s, SHA-256 %s)\n",
		certPath, ca.Cert.NotAfter.UTC().Format(time.DateOnly), pki.FingerprintString(ca.Fingerprint()))
	fmt.Fprintf(io.out, "==> CA key saved to %s (mode 0600: keep it secret)\n", keyPath)
	return nil
}

const tlsKEKCreateHelp = `
Usage: drover tls kek create [options]

Create a key-encryption key (KEK) for servers that use a CA of your own
(tls { ca_file cert_file key_file }) and write it to -out, mode 0600.
Servers seal with it the root keyring of variables, the age keys of
sealed files and the workload identity signing key before these go into
Raft. Copy the same file to every server and name it in their config:

  tls {
    kek_file = "/etc/drover/kek"
  }

With the built-in CA this is not needed: the first server makes the KEK
and hands it to the servers that join. Keep the file secret and backed
up: Raft snapshots are useless without it. The file is never overwritten.

Examples:
  drover tls kek create
  drover tls kek create -out /etc/drover/kek
` + tlsExitCodes

func runTLSKEKCreate(_ context.Context, args []string, io stdio) int {
	flags := newFlagSet("tls kek create", tlsKEKCreateHelp, io)
	out := flags.String("out", "drover-kek", "the `file` to write")
	if _, code, done := parseArgs(flags, args, io, 0, 0, "drover tls kek create: takes no arguments; run 'drover tls kek create --help'"); done {
		return code
	}
	if _, err := os.Lstat(*out); err == nil {
		fmt.Fprintf(io.err, "drover tls kek create: %s exists: remove it or pick another -out (nothing was written)\n", *out)
		return exitError
	}
	kek, err := pki.NewKEK()
	if err == nil {
		err = tlsWriteNew([]tlsFile{{*out, []byte(pki.EncodeKEK(kek) + "\n"), 0o600}})
	}
	if err != nil {
		fmt.Fprintf(io.err, "drover tls kek create: %v\n", err)
		return exitError
	}
	fmt.Fprintf(io.out, "==> Key-encryption key saved to %s (mode 0600: keep it secret, copy it to every server, name it in tls { kek_file })\n", *out)
	return exitOK
}

const tlsCertCreateHelp = `
Usage: drover tls cert create -server|-client|-cli [options]

Create a key and a certificate signed by the CA (-ca and -key) and write
them to -out-dir as <region>-<role>-drover.pem and
<region>-<role>-drover-key.pem (mode 0600), as 'nomad tls cert create'
does. Existing files are never overwritten. Certificates name the role,
not the host:

  -server  server.<region>.drover: a server's Raft and HTTPS identity
  -client  client.<region>.drover and urn:drover:node:<-node-id>: an agent
  -cli     cli.<region>.drover: an operator's CLI, for an API that
           requires client certificates (DROVER_CACERT,
           DROVER_CLIENT_CERT and DROVER_CLIENT_KEY)

The certificate is valid for -days, and never past the CA.

Examples:
  drover tls cert create -server
  drover tls cert create -client -node-id "$(cat /etc/machine-id)"

  # A CLI certificate from the CA a cluster created, on its first server:
  drover tls cert create -cli -ca /var/lib/drover/tls/ca.pem \
    -key /var/lib/drover/tls/ca-key.pem
  export DROVER_CACERT=/var/lib/drover/tls/ca.pem \
    DROVER_CLIENT_CERT=global-cli-drover.pem DROVER_CLIENT_KEY=global-cli-drover-key.pem
` + tlsExitCodes

// tlsCertOptions are the flags of `tls cert create`.
type tlsCertOptions struct {
	server, client, cli bool
	caFile, keyFile     string
	region              string
	nodeID              string
	days                int
	outDir              string
}

func runTLSCertCreate(_ context.Context, args []string, io stdio) int {
	var opts tlsCertOptions
	flags := newFlagSet("tls cert create", tlsCertCreateHelp, io)
	flags.BoolVar(&opts.server, "server", false, "create a server certificate")
	flags.BoolVar(&opts.client, "client", false, "create a client (agent) certificate")
	flags.BoolVar(&opts.cli, "cli", false, "create a CLI certificate")
	flags.StringVar(&opts.caFile, "ca", tlsCAFile, "the CA certificate `file`")
	flags.StringVar(&opts.keyFile, "key", tlsCAKeyFile, "the CA key `file`")
	flags.StringVar(&opts.region, "region", pki.DefaultRegion, "the cluster's `region`, named in the certificate")
	flags.StringVar(&opts.nodeID, "node-id", "", "the agent's node `ID` (-client; default a new random UUID)")
	flags.IntVar(&opts.days, "days", 365, "how many `days` the certificate is valid")
	flags.StringVar(&opts.outDir, "out-dir", ".", "the `dir` to write the files to")
	if _, code, done := parseArgs(flags, args, io, 0, 0, "drover tls cert create: takes no arguments; run 'drover tls cert create --help'"); done {
		return code
	}
	if err := tlsCertCreate(opts, time.Now(), io); err != nil {
		fmt.Fprintf(io.err, "drover tls cert create: %v\n", err)
		return exitError
	}
	return exitOK
}

func (o tlsCertOptions) role() (pki.CertRole, error) {
	var roles []pki.CertRole
	for _, r := range []struct {
		set  bool
		role pki.CertRole
	}{{o.server, pki.CertRoleServer}, {o.client, pki.CertRoleClient}, {o.cli, pki.CertRoleCLI}} {
		if r.set {
			roles = append(roles, r.role)
		}
	}
	if len(roles) != 1 {
		return "", errors.New("give exactly one of -server, -client and -cli")
	}
	return roles[0], nil
}

func tlsCertCreate(opts tlsCertOptions, now time.Time, io stdio) error {
	role, err := opts.role()
	if err != nil {
		return err
	}
	if opts.days <= 0 {
		return fmt.Errorf("-days %d: want a positive number of days", opts.days)
	}
	nodeID := opts.nodeID
	switch {
	case role == pki.CertRoleClient && nodeID == "":
		nodeID = tlsNewNodeID()
	case role != pki.CertRoleClient && nodeID != "":
		return fmt.Errorf("-node-id goes with -client only: a %s certificate names no node", role)
	}
	caPEM, err := os.ReadFile(opts.caFile)
	if err != nil {
		return fmt.Errorf("read the CA certificate: %w (give -ca FILE; 'drover tls ca create' makes one)", err)
	}
	caKeyPEM, err := os.ReadFile(opts.keyFile)
	if err != nil {
		return fmt.Errorf("read the CA key: %w (give -key FILE)", err)
	}
	ca, err := pki.LoadCA(caPEM, caKeyPEM)
	if err != nil {
		return fmt.Errorf("%s and %s: %w", opts.caFile, opts.keyFile, err)
	}
	certPEM, keyPEM, err := ca.IssueCert(role, opts.region, nodeID, now, time.Duration(opts.days)*24*time.Hour)
	if err != nil {
		return err
	}
	base := filepath.Join(opts.outDir, fmt.Sprintf("%s-%s-drover", opts.region, role))
	certPath, keyPath := base+".pem", base+"-key.pem"
	if err := tlsWriteNew([]tlsFile{{certPath, certPEM, 0o644}, {keyPath, keyPEM, 0o600}}); err != nil {
		return err
	}
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.out, "==> Using CA %s (SHA-256 %s)\n", opts.caFile, pki.FingerprintString(ca.Fingerprint()))
	names := cert.DNSNames[0]
	if role == pki.CertRoleClient {
		names += ", node " + nodeID
	}
	fmt.Fprintf(io.out, "==> %s certificate saved to %s (%s; valid until %s)\n",
		role, certPath, names, cert.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(io.out, "==> %s key saved to %s (mode 0600)\n", role, keyPath)
	return nil
}

// tlsNewNodeID returns a random UUID (version 4), the form agents use
// for node IDs.
func tlsNewNodeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type tlsFile struct {
	path string
	data []byte
	mode fs.FileMode
}

// tlsWriteNew writes files that must not exist yet: it checks all of them
// first, creates each exclusively, and removes what it wrote if one
// fails, so that a refusal leaves nothing half done.
func tlsWriteNew(files []tlsFile) error {
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%s exists: remove it or pick another -out-dir (nothing was written)", f.path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for i, f := range files {
		if err := tlsWriteExclusive(f); err != nil {
			for _, done := range files[:i] {
				_ = os.Remove(done.path)
			}
			return err
		}
	}
	return nil
}

func tlsWriteExclusive(f tlsFile) error {
	out, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: remove it or pick another -out-dir", f.path)
	}
	if err != nil {
		return err
	}
	if _, err := out.Write(f.data); err != nil {
		out.Close()
		_ = os.Remove(f.path)
		return err
	}
	if err := out.Close(); err != nil {
		_ = os.Remove(f.path)
		return err
	}
	return nil
}
