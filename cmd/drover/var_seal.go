package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

// `drover var seal`: sealed secrets in Git (issue 16). The items are
// encrypted on this machine to the cluster's age recipient, so neither
// the values nor any hash of them leave it; the servers open the file
// when a commit brings it (repo/sealed.go, server/seal_key.go).

const varSealHelp = `
Usage: drover var seal [options] PATH [KEY=VALUE ...]
       drover var seal [options] -in json|hcl - [KEY=VALUE ...]

Encrypt a variable's items to the cluster's age key and write
PATH.sealed.hcl (or -out): a file that is safe to commit, holding only
ciphertext, the item keys and the key's fingerprint. When a commit brings
it to a Git source, the servers open it and write the variable PATH (as
'drover var put' would); plans, sync status and logs say
"(sealed: N items changed)", never a value. Deleting the file deletes the
variable when the source prunes (drover.hcl: prune = true, the default).

Items are KEY=VALUE pairs; KEY=@file reads the value from a file and
KEY=- from stdin (prefer these: a command line is visible to other users
and stays in shell history). A whole specification (Path, Namespace,
Items) can come from stdin with PATH "-" and -in json or hcl.

The recipient comes from the cluster (-address or DROVER_ADDR: GET
/v1/operator/seal/recipients, any valid token) or, for a cluster you
cannot reach, from -recipient-file: age recipients ("age1..."), one a
line, '#' comments; 'drover operator seal recipients -raw' prints it.

Examples:
  drover var seal app/db DB_PASSWORD=@./db-password.txt
  drover var seal -out jobs/api/db.sealed.hcl app/db DB_PASSWORD=- < pw.txt
  drover operator seal recipients -raw > cluster.age    # once, online
  drover var seal -recipient-file cluster.age nomad/jobs/api API_KEY=@key.txt
  git add app/db.sealed.hcl && git commit -m "Seal the database password"

Exit codes: 0 written, 1 an error.
`

func runVarSeal(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var seal", varSealHelp, io)
	var opts queryOptions
	opts.client.register(fs)
	ns := fs.String("namespace", "", "namespace (default DROVER_NAMESPACE or \"default\")")
	in := fs.String("in", "json", "format of a specification read from stdin or @file: `json` or hcl")
	out := fs.String("out", "", "the sealed file to write (default `PATH.sealed.hcl` under the current directory)")
	rfile := fs.String("recipient-file", "", "seal to the age recipients of `file` instead of asking the cluster")
	pos, code, done := parseArgs(fs, args, io, 1, 1+cluster.MaxVariableItems, "Error: give a variable path and items: drover var seal PATH KEY=VALUE ...")
	if done {
		return code
	}
	v, err := buildVarPut(pos, *in, io) // var_put.go: the same item syntax
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if *ns != "" || v.Namespace == "" {
		v.Namespace = varNamespace(*ns, io)
	}
	var recipients []string
	if *rfile != "" {
		if recipients, err = readRecipientFile(*rfile); err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
	} else {
		client, _, ok := opts.connect(io)
		if !ok {
			return exitError
		}
		resp, err := client.Operator().SealRecipients(ctx)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		for _, r := range resp.Recipients {
			if r.Active {
				recipients = append(recipients, r.Recipient)
			}
		}
		if len(recipients) == 0 {
			fmt.Fprintf(io.err, "Error: the cluster at %s has no age key to seal to; check that it runs issue 16's servers.\n", client.Address())
			return exitError
		}
	}
	src, err := repo.SealVariable(v.Namespace, v.Path, v.Items, recipients)
	for k := range v.Items {
		v.Items[k] = ""
	}
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	dest := *out
	if dest == "" {
		dest = filepath.FromSlash(v.Path) + repo.SealedFileSuffix
	}
	if !strings.HasSuffix(dest, repo.SealedFileSuffix) {
		fmt.Fprintf(io.err, "Error: -out %s: a sealed file's name must end in %s, or the repository loader takes it for a job file.\n", dest, repo.SealedFileSuffix)
		return exitError
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if err := atomicfile.Write(dest, src, 0o644); err != nil {
		fmt.Fprintf(io.err, "Error: write %s: %v\n", dest, err)
		return exitError
	}
	fps := make([]string, len(recipients))
	for i, r := range recipients {
		fps[i] = cluster.SealFingerprint(r)
	}
	fmt.Fprintf(io.out, "Sealed %d item(s) of %s for age key %s into %s.\nIt holds no value: commit it (git add %s).\n",
		len(v.Items), v.Path, strings.Join(fps, ", "), dest, filepath.ToSlash(dest))
	return exitOK
}

// readRecipientFile reads age recipients, one a line, with '#'
// comments and blank lines, as age's -R files.
func readRecipientFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("recipient file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	if err != nil {
		return nil, fmt.Errorf("recipient file %s: %w", name, err)
	}
	if len(data) > 64<<10 {
		return nil, fmt.Errorf("recipient file %s is larger than 64 KiB; it should hold a few age1... lines", name)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "age1") {
			return nil, fmt.Errorf("%s:%d: not an age X25519 recipient (age1...); only those are supported", name, n)
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("recipient file %s holds no age1... recipient", name)
	}
	return out, nil
}

// sealedPlanNotes compares two commits' sealed variables for `drover
// plan`, which has no key: an item counts when it was added, removed or
// sealed again (a new ciphertext), whatever its value; the notes say
// "resealed" for that reason. A removed file is listed when prune is
// on (drover.hcl), as the servers then delete its variable.
func sealedPlanNotes(base, head []*repo.SealedVariable, prune bool) []render.SealedNote {
	old := make(map[string]*repo.SealedVariable, len(base))
	for _, v := range base {
		old[v.ID()] = v
	}
	var out []render.SealedNote
	seen := map[string]bool{}
	for _, v := range head {
		seen[v.ID()] = true
		n := render.SealedNote{Namespace: v.Namespace, Path: v.Path, Offline: true}
		prev, ok := old[v.ID()]
		if !ok {
			n.Created, n.Changed = true, len(v.Items)
			out = append(out, n)
			continue
		}
		was := map[string]string{}
		for _, it := range prev.Items {
			was[it.Key] = it.Ciphertext
		}
		for _, it := range v.Items {
			if ct, ok := was[it.Key]; !ok || ct != it.Ciphertext {
				n.Changed++
			}
			delete(was, it.Key)
		}
		n.Changed += len(was)
		if n.Changed > 0 {
			out = append(out, n)
		}
	}
	for _, v := range base {
		if prune && !seen[v.ID()] { // without prune the variable stays
			out = append(out, render.SealedNote{Namespace: v.Namespace, Path: v.Path, Deleted: true, Offline: true})
		}
	}
	return out
}
