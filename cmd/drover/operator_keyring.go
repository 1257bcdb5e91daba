package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/droverhq/drover/api"
)

// `drover operator root keyring list|rotate`: Nomad's commands for the
// root keyring that encrypts variables.

func runOperatorRoot(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator root", "Manage the root keyring that encrypts variables.",
		[]command{{"keyring", "List or rotate the root keys", runOperatorRootKeyring}}, args, io)
}

func runOperatorRootKeyring(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator root keyring", "List or rotate the root keys that encrypt variables.", []command{
		{"list", "List the root keys (IDs and states, never the keys)", runKeyringList},
		{"rotate", "Make a new active root key; -full re-encrypts every variable", runKeyringRotate},
	}, args, io)
}

const keyringListHelp = `
Usage: drover operator root keyring list [options]

List the root keys that encrypt variables: the active one, which
encrypts new writes, and the older ones that still decrypt what they
encrypted ("rekeying" while a full rotation re-encrypts their variables).
Needs operator:read.

Examples:
  drover operator root keyring list
  drover operator root keyring list -json | jq -r '.[] | select(.State == "active") | .KeyID'

Exit codes: 0 success, 1 an error.
`

func runKeyringList(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("operator root keyring list", keyringListHelp, io)
	var opts queryOptions
	opts.register(fs, "print the keys as JSON")
	_, client, now, code, ok := opts.start(fs, args, io, 0, 0, "Error: keyring list takes no arguments")
	if !ok {
		return code
	}
	keys, err := client.Operator().KeyringKeys(ctx)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, keys, func() { renderKeyring(io.out, keys, now) })
}

func renderKeyring(w io.Writer, keys []*api.RootKeyMeta, now time.Time) {
	if len(keys) == 0 {
		fmt.Fprintln(w, "No root keys yet (the first variable write creates one)")
		return
	}
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []string{k.KeyID, k.State, formatTime(time.Unix(0, k.CreateTime), now), strconv.FormatUint(k.CreateIndex, 10)})
	}
	writeTable(w, []string{"Key", "State", "Create Time", "Create Index"}, rows)
}

const keyringRotateHelp = `
Usage: drover operator root keyring rotate [options]

Make a new active root key: new variable writes are encrypted with it.
With -full, the leader also re-encrypts every existing variable with it
in the background, in small batches, and deletes each old key once no
variable uses it; reads keep working throughout. Needs operator:write.

Examples:
  drover operator root keyring rotate
  drover operator root keyring rotate -full && drover operator root keyring list

Exit codes: 0 success, 1 an error.
`

func runKeyringRotate(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("operator root keyring rotate", keyringRotateHelp, io)
	var opts queryOptions
	opts.register(fs, "print the new key as JSON")
	full := fs.Bool("full", false, "re-encrypt every variable with the new key in the background")
	_, client, _, code, ok := opts.start(fs, args, io, 0, 0, "Error: keyring rotate takes no arguments")
	if !ok {
		return code
	}
	resp, err := client.Operator().KeyringRotate(ctx, *full)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, resp.Key, func() {
		fmt.Fprintf(io.out, "Rotated the root keyring: key %s is active.\n", resp.Key.KeyID)
		if *full {
			fmt.Fprintln(io.out, "Every variable is being re-encrypted with it in the background; 'drover operator root keyring list' shows the old keys until they are unused.")
		}
	})
}
