package main

import (
	"context"
	"flag"
	"fmt"
	goio "io"
	"os"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
)

// aclOptions are the flags of every acl subcommand; each declares the
// ones it uses.
type aclOptions struct {
	query       queryOptions
	description string
	name        string
	policies    listFlag
	typ         string
	ttl         string
}

// aclCommand is one acl subcommand: its usage, flags, argument count and
// the work.
type aclCommand struct {
	help  string
	args  int // positional arguments
	flags func(fs *flag.FlagSet, o *aclOptions)
	run   func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int
}

func aclCommands() []command {
	return []command{
		{"bootstrap", "Create the first management token (with -acl-bootstrap=manual)", aclRunner("acl bootstrap", aclBootstrapCmd)},
		{"policy", "Apply, list, show and delete ACL policies", runACLPolicy},
		{"token", "Create, list, show and revoke ACL tokens", runACLToken},
	}
}

func runACL(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "acl", "Manage ACL policies and tokens (servers started with -acl).", aclCommands(), args, io)
}

func runACLPolicy(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "acl policy", "Manage ACL policies (HCL rules that tokens name).", []command{
		{"apply", "Create or replace a policy from an HCL file", aclRunner("acl policy apply", aclPolicyApplyCmd)},
		{"list", "List policies", aclRunner("acl policy list", aclPolicyListCmd)},
		{"info", "Show a policy and its rules", aclRunner("acl policy info", aclPolicyInfoCmd)},
		{"delete", "Delete a policy", aclRunner("acl policy delete", aclPolicyDeleteCmd)},
	}, args, io)
}

func runACLToken(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "acl token", "Manage ACL tokens.", []command{
		{"create", "Create a token; its secret is printed once", aclRunner("acl token create", aclTokenCreateCmd)},
		{"list", "List tokens (accessor IDs, never secrets)", aclRunner("acl token list", aclTokenListCmd)},
		{"info", "Show a token by accessor ID", aclRunner("acl token info", aclTokenInfoCmd)},
		{"revoke", "Revoke a token by accessor ID, at once on every server", aclRunner("acl token revoke", aclTokenRevokeCmd)},
		{"self", "Show the token this command authenticates with", aclRunner("acl token self", aclTokenSelfCmd)},
	}, args, io)
}

// aclRunner parses a subcommand's flags and arguments, makes the client
// and runs it.
func aclRunner(name string, cmd aclCommand) func(ctx context.Context, args []string, io stdio) int {
	return func(ctx context.Context, args []string, io stdio) int {
		var o aclOptions
		fs := newFlagSet(name, cmd.help, io)
		o.query.register(fs, "print the result as JSON")
		if cmd.flags != nil {
			cmd.flags(fs, &o)
		}
		pos, code, done := parseArgs(fs, args, io, cmd.args, cmd.args,
			fmt.Sprintf("drover %s: want %d argument(s); run 'drover %s --help'", name, cmd.args, name))
		if done {
			return code
		}
		c, _, ok := o.query.connect(io)
		if !ok {
			return exitError
		}
		return cmd.run(ctx, c, &o, pos, io)
	}
}

const aclExitCodes = "\nExit codes: 0 success, 1 an error (unreachable server, refused token, unknown name).\n"

var aclBootstrapCmd = aclCommand{
	help: `
Usage: drover acl bootstrap [options]

Create the cluster's first management token and print it, once. Servers
started with -acl -acl-bootstrap=manual wait for this; with the default
(auto) the first server already wrote it to <data-dir>/management.token.
Keep the secret: it may do everything.

Example:
  drover acl bootstrap -json | jq -r .secret_id > ~/.drover-token
  export DROVER_TOKEN=$(cat ~/.drover-token)
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, _ []string, io stdio) int {
		tok, err := c.ACL().Bootstrap(ctx)
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, tok, func() { writeToken(io, tok, time.Now()) })
	},
}

var aclPolicyApplyCmd = aclCommand{
	args: 2,
	help: `
Usage: drover acl policy apply [options] NAME FILE

Create or replace the policy NAME from the HCL rules in FILE ("-": stdin):

  namespace "default" {
    policy       = "read"            # read, write or deny
    capabilities = ["submit-job"]    # and/or single capabilities
  }
  node     { policy = "read" }
  agent    { policy = "read" }
  operator { policy = "deny" }

Example:
  drover acl policy apply -description "CI can deploy" deployer deployer.hcl
` + aclExitCodes,
	flags: func(fs *flag.FlagSet, o *aclOptions) {
		fs.StringVar(&o.description, "description", "", "a `text` saying what the policy is for")
	},
	run: func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int {
		var src []byte
		var err error
		if pos[1] == "-" {
			src, err = readAllLimited(io)
		} else {
			src, err = os.ReadFile(pos[1])
		}
		if err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
		if err := c.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: pos[0], Description: o.description, Rules: string(src)}); err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, map[string]string{"name": pos[0]}, func() {
			fmt.Fprintf(io.out, "Applied ACL policy %q\n", pos[0])
		})
	},
}

var aclPolicyListCmd = aclCommand{
	help: `
Usage: drover acl policy list [options]

List the ACL policies (a management token is needed).

Example:
  drover acl policy list -json | jq -r '.[].name'
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, _ []string, io stdio) int {
		ps, err := c.ACL().Policies(ctx)
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, ps, func() {
			rows := [][]string{}
			for _, p := range ps {
				rows = append(rows, []string{p.Name, orNone(p.Description)})
			}
			writeTable(io.out, []string{"Name", "Description"}, rows)
		})
	},
}

var aclPolicyInfoCmd = aclCommand{
	args: 1,
	help: `
Usage: drover acl policy info [options] NAME

Show a policy and its rules.

Example:
  drover acl policy info readonly
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int {
		p, err := c.ACL().Policy(ctx, pos[0])
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, p, func() {
			writeKV(io.out, [][2]string{{"Name", p.Name}, {"Description", orNone(p.Description)}})
			fmt.Fprintf(io.out, "\nRules:\n%s\n", strings.TrimRight(p.Rules, "\n"))
		})
	},
}

var aclPolicyDeleteCmd = aclCommand{
	args: 1,
	help: `
Usage: drover acl policy delete [options] NAME

Delete a policy. Tokens that name it keep the name but are granted
nothing by it ('drover acl token info' lists it as missing).

Example:
  drover acl policy delete readonly
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int {
		if err := c.ACL().DeletePolicy(ctx, pos[0]); err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, map[string]string{"name": pos[0]}, func() {
			fmt.Fprintf(io.out, "Deleted ACL policy %q\n", pos[0])
		})
	},
}

var aclTokenCreateCmd = aclCommand{
	help: `
Usage: drover acl token create [options]

Create a token and print it. The secret is shown this once: the servers
keep only its SHA-256.

Examples:
  drover acl token create -name ci -policy deployer -ttl 720h
  drover acl token create -name alice -type management
  drover acl token create -name ro -policy readonly -json | jq -r .secret_id
` + aclExitCodes,
	flags: func(fs *flag.FlagSet, o *aclOptions) {
		fs.StringVar(&o.name, "name", "", "a human `name` for the token")
		fs.Var(&o.policies, "policy", "a `policy` the token grants (repeatable)")
		fs.StringVar(&o.typ, "type", "client", "`client` (the policies' rights) or management (everything)")
		fs.StringVar(&o.ttl, "ttl", "", "expire the token after this `duration` (e.g. 1h)")
	},
	run: func(ctx context.Context, c *api.Client, o *aclOptions, _ []string, io stdio) int {
		tok, err := c.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: o.name, Type: o.typ, Policies: o.policies, TTL: o.ttl})
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, tok, func() { writeToken(io, tok, time.Now()) })
	},
}

var aclTokenListCmd = aclCommand{
	help: `
Usage: drover acl token list [options]

List tokens by accessor ID (secrets are never shown again).

Example:
  drover acl token list -json | jq -r '.[] | select(.type == "management") | .accessor_id'
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, _ []string, io stdio) int {
		ts, err := c.ACL().Tokens(ctx)
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, ts, func() {
			rows := [][]string{}
			now := time.Now()
			for _, t := range ts {
				exp := "never"
				if t.ExpirationTime != nil {
					exp = formatTime(*t.ExpirationTime, now)
				}
				rows = append(rows, []string{t.AccessorID, orNone(t.Name), t.Type, orNone(strings.Join(t.Policies, ",")), exp})
			}
			writeTable(io.out, []string{"Accessor ID", "Name", "Type", "Policies", "Expires"}, rows)
		})
	},
}

var aclTokenInfoCmd = aclCommand{
	args: 1,
	help: `
Usage: drover acl token info [options] ACCESSOR

Show a token by its accessor ID, with the policies it names that no
longer exist.

Example:
  drover acl token info 3f6c0a8e-5d2b-4e61-9a0c-2b7d8e9f1a24
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int {
		tok, err := c.ACL().Token(ctx, pos[0])
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, tok, func() { writeToken(io, tok, time.Now()) })
	},
}

var aclTokenRevokeCmd = aclCommand{
	args: 1,
	help: `
Usage: drover acl token revoke [options] ACCESSOR

Revoke a token: every server refuses it as soon as the revoke reaches
it through Raft.

Example:
  drover acl token revoke 3f6c0a8e-5d2b-4e61-9a0c-2b7d8e9f1a24
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, pos []string, io stdio) int {
		if err := c.ACL().RevokeToken(ctx, pos[0]); err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, map[string]string{"accessor_id": pos[0]}, func() {
			fmt.Fprintf(io.out, "Revoked ACL token %s\n", pos[0])
		})
	},
}

var aclTokenSelfCmd = aclCommand{
	help: `
Usage: drover acl token self [options]

Show the token this command sends (-token or DROVER_TOKEN).

Example:
  DROVER_TOKEN=$(cat /data/s1/management.token) drover acl token self
` + aclExitCodes,
	run: func(ctx context.Context, c *api.Client, o *aclOptions, _ []string, io stdio) int {
		tok, err := c.ACL().Self(ctx)
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return o.query.output(io, tok, func() { writeToken(io, tok, time.Now()) })
	},
}

func writeToken(io stdio, t *api.ACLToken, now time.Time) {
	exp := "never"
	if t.ExpirationTime != nil {
		exp = formatTime(*t.ExpirationTime, now)
	}
	pairs := [][2]string{{"Accessor ID", orNone(t.AccessorID)}}
	if t.SecretID != "" {
		pairs = append(pairs, [2]string{"Secret ID", t.SecretID})
	}
	pairs = append(pairs,
		[2]string{"Name", orNone(t.Name)},
		[2]string{"Type", t.Type},
		[2]string{"Policies", orNone(strings.Join(t.Policies, ", "))},
	)
	if len(t.MissingPolicies) > 0 {
		pairs = append(pairs, [2]string{"Missing policies", strings.Join(t.MissingPolicies, ", ") + " (deleted: they grant nothing)"})
	}
	pairs = append(pairs, [2]string{"Expires", exp})
	if !t.CreateTime.IsZero() {
		pairs = append(pairs, [2]string{"Created", formatTime(t.CreateTime, now)})
	}
	writeKV(io.out, pairs)
}

// readAllLimited reads a policy from stdin, bounded (the server bounds
// it more tightly and says so).
func readAllLimited(s stdio) ([]byte, error) {
	data, err := goio.ReadAll(goio.LimitReader(s.in, 1<<20+1))
	if err == nil && len(data) > 1<<20 {
		return nil, fmt.Errorf("policy on stdin is larger than 1 MiB")
	}
	return data, err
}
