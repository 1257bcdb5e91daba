package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/droverhq/drover/api"
)

// `drover operator seal recipients|rotate|remove`: the age keys of
// sealed variable files (drover var seal).

func runOperatorSeal(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator seal", "Manage the age keys that open sealed variable files.", []command{
		{"recipients", "Print the public age keys that 'drover var seal' encrypts to", runSealRecipients},
		{"rotate", "Make a new age key for new seals; old ones keep opening old files", runSealRotate},
		{"remove", "Remove an old age key: files sealed only to it stop opening", runSealRemove},
	}, args, io)
}

const sealRecipientsHelp = `
Usage: drover operator seal recipients [options]

Print the cluster's age keys, which open sealed variable files: the
active one, which 'drover var seal' encrypts to, and older ones that
still open files sealed before a rotation. They are public keys; any
valid token may read them. The first call creates the first key.

Examples:
  drover operator seal recipients
  drover operator seal recipients -raw > cluster.age   # for var seal -recipient-file
  drover operator seal recipients -json | jq -r '.Recipients[].Fingerprint'

Exit codes: 0 success, 1 an error.
`

func runSealRecipients(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("operator seal recipients", sealRecipientsHelp, io)
	var opts queryOptions
	opts.register(fs, "print the keys as JSON")
	raw := fs.Bool("raw", false, "print only the active key's age1... line (an age recipients file)")
	_, client, now, code, ok := opts.start(fs, args, io, 0, 0, "Error: seal recipients takes no arguments")
	if !ok {
		return code
	}
	resp, err := client.Operator().SealRecipients(ctx)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	if *raw {
		for _, r := range resp.Recipients {
			if r.Active {
				fmt.Fprintf(io.out, "# drover cluster %s, key %s\n%s\n", client.Address(), r.Fingerprint, r.Recipient)
			}
		}
		return exitOK
	}
	return opts.output(io, resp, func() { renderSealKeys(io.out, resp, now) })
}

func renderSealKeys(w io.Writer, resp *api.SealRecipientsResponse, now time.Time) {
	rows := make([][]string, 0, len(resp.Recipients))
	for _, r := range resp.Recipients {
		state := "decrypt only"
		if r.Active {
			state = "active"
		}
		rows = append(rows, []string{r.Fingerprint, state, formatTime(time.Unix(0, r.CreateTime), now), r.Recipient})
	}
	writeTable(w, []string{"Fingerprint", "State", "Created", "Recipient"}, rows)
}

const sealRotateHelp = `
Usage: drover operator seal rotate [options]

Make a new age key: 'drover var seal' encrypts to it from now on. The
older keys keep opening the files already sealed to them; reseal those
files, then remove the old key (drover operator seal remove). Needs
operator:write.

Examples:
  drover operator seal rotate
  drover operator seal rotate && drover operator seal recipients

Exit codes: 0 success, 1 an error.
`

func runSealRotate(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("operator seal rotate", sealRotateHelp, io)
	var opts queryOptions
	opts.register(fs, "print the keys as JSON")
	_, client, now, code, ok := opts.start(fs, args, io, 0, 0, "Error: seal rotate takes no arguments")
	if !ok {
		return code
	}
	resp, err := client.Operator().SealRotate(ctx)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, resp, func() {
		fmt.Fprintln(io.out, "Rotated the age key of sealed variables. New seals use the active key; reseal old files, then remove the old key.")
		renderSealKeys(io.out, resp, now)
	})
}

const sealRemoveHelp = `
Usage: drover operator seal remove [options] FINGERPRINT

Remove an old age key (not the active one). Files sealed only to it no
longer open: a commit that still has one is rejected, naming the key.
Needs operator:write.

Examples:
  drover operator seal remove age:3f1c0a9e5b7d2c41

Exit codes: 0 success, 1 an error.
`

func runSealRemove(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("operator seal remove", sealRemoveHelp, io)
	var opts queryOptions
	opts.register(fs, "print the remaining keys as JSON")
	pos, client, now, code, ok := opts.start(fs, args, io, 1, 1, "Error: give the fingerprint of the key to remove")
	if !ok {
		return code
	}
	resp, err := client.Operator().SealRemove(ctx, pos[0])
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, resp, func() {
		fmt.Fprintf(io.out, "Removed age key %s.\n", pos[0])
		renderSealKeys(io.out, resp, now)
	})
}
