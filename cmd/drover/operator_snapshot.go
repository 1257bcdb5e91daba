package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

func operatorSnapshotCommands() []command {
	return []command{
		{"save", "Save the cluster state to a snapshot file", runSnapshotSave},
		{"restore", "Replace the cluster state with a snapshot file's", runSnapshotRestore},
		{"inspect", "Check a snapshot file offline and show what it holds", runSnapshotInspect},
	}
}

func runOperatorSnapshot(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator snapshot", "Save, restore and inspect snapshots of the cluster state (Nomad's operator snapshot).",
		operatorSnapshotCommands(), args, io)
}

const snapshotSaveHelp = `
Usage: drover operator snapshot save [options] FILE

Save the whole cluster state to FILE: jobs and their versions, nodes,
allocations, evaluations, deployments, the Git sources' sync status,
ACL policies and tokens (as hashes), the audit log, the server members
and the cluster CA's keyring (sealed: only this cluster's servers can
open it). The leader takes the snapshot; -stale takes the answering
server's own, which may lag.

The file is written next to FILE and renamed into place once it is
complete and its checksum holds, mode 0600: it holds ACL token hashes.
Progress goes to stderr.

Needs a management token (-token or DROVER_TOKEN).

Examples:
  drover operator snapshot save backup.snap
  drover operator snapshot save -address http://10.0.0.2:4747 /backups/drover-$(date +%F).snap

Exit codes: 0 saved, 1 error (nothing is left at FILE).
`

type snapshotSaveOptions struct {
	client clientOptions
	stale  bool
	file   string
}

func runSnapshotSave(ctx context.Context, args []string, io stdio) int {
	var opts snapshotSaveOptions
	fs := newFlagSet("operator snapshot save", snapshotSaveHelp, io)
	opts.client.register(fs)
	fs.BoolVar(&opts.stale, "stale", false, "let the answering server save its own state instead of the leader's")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "drover operator snapshot save: want one FILE to write (see --help)")
		return exitError
	}
	opts.file = pos[0]
	return snapshotSave(ctx, opts, io)
}

func snapshotSave(ctx context.Context, opts snapshotSaveOptions, io stdio) int {
	fail := func(err error) int {
		fmt.Fprintf(io.err, "drover operator snapshot save: %v\n", err)
		return exitError
	}
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	dir := filepath.Dir(opts.file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(opts.file)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	p := newProgress(io, "Saving snapshot")
	n, err := c.Operator().SnapshotSave(ctx, p.wrap(tmp), &api.QueryOptions{Stale: opts.stale})
	p.done(n)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	// Check what arrived before it takes FILE's name: a transfer cut
	// short fails here, not at the restore it was meant for.
	if _, err := tmp.Seek(0, seekStart); err != nil {
		return fail(err)
	}
	info, err := state.InspectSnapshot(tmp)
	if err != nil {
		return fail(fmt.Errorf("the server's snapshot did not arrive intact: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), opts.file); err != nil {
		return fail(err)
	}
	fmt.Fprintf(io.out, "Saved snapshot %s: index %d, term %d, %s, from server %s\n",
		opts.file, info.Meta.Index, info.Meta.Term, formatBytes(info.Size), info.Meta.ServerID)
	fmt.Fprintf(io.out, "  %s\n", tableSummary(info.Tables))
	fmt.Fprintf(io.out, "  sha256 %s\n", info.SHA256)
	return exitOK
}

// seekStart is io.SeekStart, for functions whose stdio parameter is
// named io.
const seekStart = io.SeekStart

const snapshotRestoreHelp = `
Usage: drover operator snapshot restore [options] FILE

Replace the whole state of the cluster with the snapshot in FILE (from
'drover operator snapshot save', or an automatic snapshot in a server's
<data-dir>/snapshots). The file is checked here first, then uploaded to
the leader, which checks it again to the last byte before it changes
anything; the followers then install it from the leader. Meant for
disaster recovery: restore onto a fresh cluster, before agents and Git
sources write to it.

What comes from the snapshot: jobs and their versions, allocations,
evaluations, deployments, nodes, the Git sources' sync status, ACL
policies and tokens, and the audit log. What the cluster keeps: its
servers (members and Raft peers) and its CA keyring and join tokens.

ACL tokens are the snapshot's from then on, as in Nomad: the tokens of
the snapshot's cluster work here, and this cluster's own, including the
management token in <data-dir>/management.token, no longer do. Keep the
old cluster's management token at hand.

Nodes of the snapshot are kept as they were; an agent that does not
heartbeat this cluster within its TTL is marked down as usual.

Needs a management token (-token or DROVER_TOKEN). Progress goes to
stderr.

Examples:
  drover operator snapshot restore backup.snap
  DROVER_ADDR=http://10.1.0.1:4747 drover operator snapshot restore /backups/drover-2026-01-02.snap

Exit codes: 0 restored, 1 error (the file is damaged, or the server
refused it: the state is unchanged).
`

type snapshotRestoreOptions struct {
	client clientOptions
	file   string
}

func runSnapshotRestore(ctx context.Context, args []string, io stdio) int {
	var opts snapshotRestoreOptions
	fs := newFlagSet("operator snapshot restore", snapshotRestoreHelp, io)
	opts.client.register(fs)
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "drover operator snapshot restore: want one snapshot FILE (see --help)")
		return exitError
	}
	opts.file = pos[0]
	return snapshotRestore(ctx, opts, io)
}

func snapshotRestore(ctx context.Context, opts snapshotRestoreOptions, io stdio) int {
	fail := func(err error) int {
		fmt.Fprintf(io.err, "drover operator snapshot restore: %v\n", err)
		return exitError
	}
	f, err := os.Open(opts.file)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	// Check it here first: a damaged file is refused without uploading
	// a byte.
	info, err := state.InspectSnapshot(f)
	if err != nil {
		return fail(fmt.Errorf("%s: %w; nothing was restored", opts.file, err))
	}
	if _, err := f.Seek(0, seekStart); err != nil {
		return fail(err)
	}
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	p := newProgress(io, "Uploading snapshot")
	resp, err := c.Operator().SnapshotRestore(ctx, p.reader(f), info.Size)
	p.done(info.Size)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	fmt.Fprintf(io.out, "Restored snapshot %s (index %d of server %s, taken %s): the cluster is at index %d\n",
		opts.file, resp.SnapshotIndex, resp.SnapshotServer, resp.SnapshotTime, resp.Index)
	fmt.Fprintf(io.out, "  %s\n", tableSummary(resp.Tables))
	fmt.Fprintln(io.out, "The ACL tokens are now the snapshot's: this cluster's previous tokens, including the management token")
	fmt.Fprintln(io.out, "in <data-dir>/management.token, no longer work. Use a token of the cluster the snapshot came from.")
	return exitOK
}

const snapshotInspectHelp = `
Usage: drover operator snapshot inspect [options] FILE

Check a snapshot file without a server and show what it holds: its Raft
index and term, when and by which server it was taken, the Drover version,
its size, the records per table, and the servers of the Raft
configuration. The whole file is read: the SHA-256 checksum at its end
must match, and every record must decode. A truncated or altered file
is an error that says which.

Examples:
  drover operator snapshot inspect backup.snap
  drover operator snapshot inspect -json backup.snap | jq .tables

Exit codes: 0 the file is intact, 1 it is not (or cannot be read).
`

type snapshotInspectOptions struct {
	file string
	json bool
}

func runSnapshotInspect(ctx context.Context, args []string, io stdio) int {
	var opts snapshotInspectOptions
	fs := newFlagSet("operator snapshot inspect", snapshotInspectHelp, io)
	fs.BoolVar(&opts.json, "json", false, "print what the file holds as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "drover operator snapshot inspect: want one snapshot FILE (see --help)")
		return exitError
	}
	opts.file = pos[0]
	return snapshotInspect(opts, io)
}

func snapshotInspect(opts snapshotInspectOptions, io stdio) int {
	f, err := os.Open(opts.file)
	if err != nil {
		fmt.Fprintf(io.err, "drover operator snapshot inspect: %v\n", err)
		return exitError
	}
	defer f.Close()
	info, err := state.InspectSnapshot(f)
	if err != nil {
		fmt.Fprintf(io.err, "drover operator snapshot inspect: %s: %v\n", opts.file, err)
		return exitError
	}
	if opts.json {
		return jsonExit(writeJSON(io.out, info))
	}
	renderSnapshotInfo(io.out, opts.file, info)
	return exitOK
}

func renderSnapshotInfo(w io.Writer, file string, info *state.SnapshotInfo) {
	m := info.Meta
	writeKV(w, [][2]string{
		{"File", file},
		{"Index", fmt.Sprint(m.Index)},
		{"Term", fmt.Sprint(m.Term)},
		{"Taken", m.Time.UTC().Format(time.RFC3339)},
		{"Server", m.ServerID},
		{"Drover Version", orNone(m.DroverVersion)},
		{"Format", fmt.Sprint(m.Format)},
		{"Size", fmt.Sprintf("%s (%d bytes; state %d bytes)", formatBytes(info.Size), info.Size, m.StateSize)},
		{"Records", fmt.Sprint(info.Records)},
		{"SHA-256", info.SHA256 + " (verified)"},
	})
	fmt.Fprintln(w, "\nTables")
	names := make([]string, 0, len(info.Tables))
	for t := range info.Tables {
		names = append(names, t)
	}
	slices.Sort(names)
	rows := make([][]string, 0, len(names))
	for _, t := range names {
		rows = append(rows, []string{t, fmt.Sprint(info.Tables[t])})
	}
	writeTable(w, []string{"Table", "Records"}, rows)
	fmt.Fprintf(w, "\nRaft Configuration (at index %d)\n", m.ConfigurationIndex)
	rows = rows[:0]
	for _, s := range m.Servers {
		rows = append(rows, []string{s.ID, s.Addr, fmt.Sprint(s.Voter)})
	}
	writeTable(w, []string{"ID", "Address", "Voter"}, rows)
}

// tableSummary is one line of the counts that matter most.
func tableSummary(tables map[string]int) string {
	parts := []string{}
	for _, t := range []struct{ table, name string }{
		{state.TableJobs, "jobs"}, {state.TableJobVersions, "job versions"}, {state.TableAllocs, "allocations"},
		{state.TableNodes, "nodes"}, {state.TableDeployments, "deployments"}, {state.TableSyncStatus, "sources"},
		{state.TableACLPolicies, "ACL policies"}, {state.TableACLTokens, "ACL tokens"},
	} {
		parts = append(parts, fmt.Sprintf("%d %s", tables[t.table], t.name))
	}
	return strings.Join(parts, ", ")
}

// formatBytes prints a size for people.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progress reports bytes moved on stderr, at most once a second, so
// that a large transfer shows it is alive; on a terminal it rewrites one
// line.
type progress struct {
	io    stdio
	what  string
	tty   bool
	mu    sync.Mutex
	n     int64
	last  time.Time
	shown bool
}

func newProgress(io stdio, what string) *progress {
	return &progress{io: io, what: what, tty: isTerminal(io.err, io), last: time.Now()}
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last, p.shown = now, true
		if p.tty {
			fmt.Fprintf(p.io.err, "\r%s… %s   ", p.what, formatBytes(p.n))
		} else {
			fmt.Fprintf(p.io.err, "%s… %s\n", p.what, formatBytes(p.n))
		}
	}
}

// done ends the progress line, if one was shown.
func (p *progress) done(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		if p.tty {
			fmt.Fprint(p.io.err, "\r")
		}
		fmt.Fprintf(p.io.err, "%s: %s done\n", p.what, formatBytes(total))
	}
}

func (p *progress) wrap(w io.Writer) io.Writer { return &progressWriterTo{w: w, p: p} }

func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressWriterTo struct {
	w io.Writer
	p *progress
}

func (w *progressWriterTo) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.p.add(n)
	return n, err
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(n)
	return n, err
}
