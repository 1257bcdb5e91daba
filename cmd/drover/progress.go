package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
)

// Live rollout progress for `drover reconcile --once`, `drover job run`
// and `drover deployment status -monitor`: per wave, per job and per
// task group, how many allocations are desired, placed, running and
// healthy, and where canaries stand.
//
// What to show (progressLines) is a pure function of what the cluster
// reported, so its wording is table-tested on constructed deployments;
// how to show it (progressRenderer) is separate: on a terminal a block
// redrawn in place, otherwise one timestamped line per change, so that
// CI logs stay readable and greppable.

// progressState colours a line on a terminal.
type progressState uint8

const (
	progressPending progressState = iota
	progressOK
	progressFailed
	progressWaiting // waits on a human: canaries to promote, a paused deployment
)

// progressLine is one line of the block. Key identifies it across
// redraws (plain mode prints a line again only when its text for the
// key changed); Depth indents it on a terminal. Text is complete on its
// own, since plain mode prints it without the lines around it.
type progressLine struct {
	Key   string
	Depth int
	Text  string
	State progressState
}

// progressJob is one job of a wave.
type progressJob struct {
	ID      string
	Version uint64
	Stop    bool
	// Rollout is what the cluster shows of the submitted version; nil
	// while the job's wave has not been submitted.
	Rollout *reconciler.Rollout
	Health  reconciler.Health
}

// progressWave is a set of jobs submitted together (depends_on in
// drover.hcl orders them). Title is empty when there is only one wave.
type progressWave struct {
	Title string
	Jobs  []progressJob
}

// progressLines is what the progress block shows for waves: a title
// line per wave, a line per job, and a line per task group of each
// submitted version.
func progressLines(waves []progressWave) []progressLine {
	var lines []progressLine
	for wi, w := range waves {
		depth := 0
		if w.Title != "" {
			lines = append(lines, progressLine{Key: fmt.Sprintf("wave/%d", wi), Text: w.Title})
			depth = 1
		}
		for _, j := range w.Jobs {
			if j.Rollout == nil {
				lines = append(lines, progressLine{Key: "job/" + j.ID, Depth: depth, Text: fmt.Sprintf("%s: waiting for wave %d to be healthy", j.ID, wi)})
				continue
			}
			lines = append(lines, jobProgressLine(j, depth))
			if !j.Stop {
				lines = append(lines, groupProgressLines(j.ID, j.Rollout, depth+1)...)
			}
		}
	}
	return lines
}

// jobProgressLine says where a job's rollout stands: its deployment's
// status when it has one, else the reconciler's assessment.
func jobProgressLine(j progressJob, depth int) progressLine {
	l := progressLine{Key: "job/" + j.ID, Depth: depth}
	what := fmt.Sprintf("%s version %d", j.ID, j.Version)
	if j.Stop {
		what = j.ID + " stop"
	}
	if d := j.Rollout.Deployment; d != nil && d.JobVersion == j.Version {
		l.Text = fmt.Sprintf("%s: deployment %s %s", what, shortID(d.ID), d.Status)
		if d.StatusDescription != "" {
			l.Text += " (" + d.StatusDescription + ")"
		}
		switch {
		case d.Status == cluster.DeploymentSuccessful:
			l.State = progressOK
		case d.Status == cluster.DeploymentFailed || d.Status == cluster.DeploymentCancelled:
			l.State = progressFailed
		case d.Status == cluster.DeploymentPaused || awaitsPromotion(d):
			l.State = progressWaiting
		}
		return l
	}
	h := j.Health
	switch h.State {
	case reconciler.RolloutFailed:
		l.Text, l.State = fmt.Sprintf("%s: failed: %s", what, h.Reason), progressFailed
	case reconciler.RolloutHealthy:
		l.Text, l.State = what+": healthy", progressOK
		if h.Reason != "" {
			l.Text += " (" + h.Reason + ")"
		}
	default:
		l.Text = what + ": in progress"
		if h.Reason != "" {
			l.Text += ": " + h.Reason
		}
	}
	return l
}

// groupProgress counts one task group's allocations of a version.
type groupProgress struct {
	placed, running, complete, failed int
}

// groupProgressLines gives a line per task group: the deployment's
// numbers when the version has one (desired, placed, healthy, canaries,
// the batch of a rolling update), and the allocations the agents run.
func groupProgressLines(jobID string, r *reconciler.Rollout, depth int) []progressLine {
	var spec *jobspec.Job
	if r.Latest != nil && r.Latest.Version == r.Version {
		spec = r.Latest.Spec
	}
	var d *cluster.Deployment
	if r.Deployment != nil && r.Deployment.JobVersion == r.Version {
		d = r.Deployment
	}
	counts := map[string]*groupProgress{}
	rolling := false
	for _, a := range r.Allocs {
		if a.JobVersion != r.Version {
			rolling = rolling || !a.Terminal()
			continue
		}
		if a.DesiredStatus != cluster.AllocDesiredRun {
			continue
		}
		c := counts[a.TaskGroup]
		if c == nil {
			c = &groupProgress{}
			counts[a.TaskGroup] = c
		}
		switch a.ClientStatus {
		case cluster.AllocClientRunning:
			c.running++
		case cluster.AllocClientComplete:
			c.complete++
		case cluster.AllocClientFailed, cluster.AllocClientLost:
			c.failed++
			continue
		}
		c.placed++
	}
	// Groups in the job file's order; any others (a deployment of a
	// version whose spec is gone) by name.
	var names []string
	if spec != nil {
		for _, g := range spec.Groups {
			names = append(names, g.Name)
		}
	}
	var extra []string
	if d != nil {
		extra = slices.Collect(maps.Keys(d.TaskGroups))
	}
	for name := range counts {
		extra = append(extra, name)
	}
	slices.Sort(extra)
	for _, name := range slices.Compact(extra) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	batch := spec != nil && (spec.Type == jobspec.JobTypeBatch || spec.Type == jobspec.JobTypeSysBatch)
	system := spec != nil && (spec.Type == jobspec.JobTypeSystem || spec.Type == jobspec.JobTypeSysBatch)
	lines := make([]progressLine, 0, len(names))
	for _, name := range names {
		c := counts[name]
		if c == nil {
			c = &groupProgress{}
		}
		desired := -1 // unknown: a system job runs one per eligible node
		var tg *jobspec.Group
		if spec != nil {
			tg = spec.Group(name)
		}
		if tg != nil && !system {
			desired = tg.Count
		}
		var dg *cluster.DeploymentGroup
		if d != nil {
			dg = d.TaskGroups[name]
		}
		if dg != nil {
			desired = dg.DesiredTotal
		}
		l := progressLine{Key: "group/" + jobID + "/" + name, Depth: depth}
		var parts []string
		ran, verb := c.running, "running"
		if batch {
			ran, verb = c.complete, "complete"
		}
		if desired >= 0 {
			parts = append(parts, fmt.Sprintf("%d/%d %s", ran, desired, verb))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", ran, verb))
		}
		placed := c.placed
		if dg != nil {
			placed = dg.PlacedAllocs
			parts = append(parts, fmt.Sprintf("%d placed", placed), fmt.Sprintf("%d/%d healthy", dg.HealthyAllocs, dg.DesiredTotal))
			if dg.UnhealthyAllocs > 0 {
				parts = append(parts, fmt.Sprintf("%d unhealthy", dg.UnhealthyAllocs))
			}
			if dg.DesiredCanaries > 0 {
				c := fmt.Sprintf("canaries %d/%d", len(dg.PlacedCanaries), dg.DesiredCanaries)
				switch {
				case dg.Promoted:
					c += " promoted"
				case dg.AutoPromote:
					c += ", auto-promote once healthy"
				case d.Active():
					c += ", awaiting promotion: drover deployment promote " + shortID(d.ID)
					l.State = progressWaiting
				}
				parts = append(parts, c)
			} else if mp := maxParallel(tg); d.Active() && rolling && mp > 0 && dg.DesiredTotal > mp {
				batches := (dg.DesiredTotal + mp - 1) / mp
				parts = append(parts, fmt.Sprintf("batch %d/%d", min(dg.HealthyAllocs/mp+1, batches), batches))
			}
			if dg.HealthyAllocs >= dg.DesiredTotal && l.State == progressPending {
				l.State = progressOK
			}
		} else {
			parts = append(parts, fmt.Sprintf("%d placed", placed))
			if desired >= 0 && ran >= desired {
				l.State = progressOK
			}
		}
		if c.failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", c.failed))
		}
		l.Text = fmt.Sprintf("%s/%s: %s", jobID, name, strings.Join(parts, ", "))
		lines = append(lines, l)
	}
	return lines
}

func maxParallel(g *jobspec.Group) int {
	if g == nil || g.Update == nil {
		return 0
	}
	return g.Update.MaxParallel
}

// awaitsPromotion reports whether a running deployment waits for
// `drover deployment promote`: every canary of a group without
// auto_promote is placed and healthy, and the group is not promoted.
func awaitsPromotion(d *cluster.Deployment) bool {
	if d.Status != cluster.DeploymentRunning {
		return false
	}
	waiting := false
	for _, g := range d.TaskGroups {
		if g.DesiredCanaries == 0 || g.Promoted {
			continue
		}
		if g.AutoPromote || len(g.PlacedCanaries) < g.DesiredCanaries || g.HealthyAllocs < g.DesiredCanaries {
			return false
		}
		waiting = true
	}
	return waiting
}

// progressMode decides how progress is shown on w: redrawn in place on a
// terminal (not TERM=dumb), coloured unless NO_COLOR is set.
func progressMode(w io.Writer, io stdio) (redraw, color bool) {
	f, ok := w.(*os.File)
	if !ok || io.getenv("TERM") == "dumb" || !termIsTerminal(int(f.Fd())) {
		return false, false
	}
	return true, io.getenv("NO_COLOR") == ""
}

// progressRenderer shows successive progress blocks.
type progressRenderer struct {
	w     io.Writer
	tty   bool
	color bool
	// size is the terminal's width and height; nil or an error means
	// 80x24.
	size  func() (width, height int, err error)
	clock func() time.Time

	drawn int      // lines of the block on screen (tty)
	prev  []string // the block on screen, to skip identical redraws (tty)
	last  map[string]string
}

// newProgressRenderer returns a renderer for w: redrawing on a terminal,
// plain lines otherwise.
func newProgressRenderer(w io.Writer, io stdio, clock func() time.Time) *progressRenderer {
	r := &progressRenderer{w: w, clock: clock, last: map[string]string{}}
	r.tty, r.color = progressMode(w, io)
	if f, ok := w.(*os.File); ok && r.tty {
		r.size = func() (int, int, error) { return term.GetSize(int(f.Fd())) }
	}
	return r
}

// The ANSI sequences the redraw uses: cursor up N lines, clear the whole
// line, clear from the cursor to the end of the screen.
const (
	ansiUp        = "\x1b[%dA"
	ansiClearLine = "\r\x1b[2K"
	ansiClearDown = "\x1b[J"
	ansiReset     = "\x1b[0m"
)

var progressColors = map[progressState]string{progressOK: "\x1b[32m", progressFailed: "\x1b[31m", progressWaiting: "\x1b[33m"}

// draw shows lines: on a terminal it replaces the block drawn last, in
// one write and never taller than the terminal (so the cursor can go
// back up to its start); otherwise it prints each line whose text
// changed, with a timestamp.
func (r *progressRenderer) draw(lines []progressLine) {
	if !r.tty {
		var b strings.Builder
		ts := r.clock().Format(time.RFC3339)
		for _, l := range lines {
			if r.last[l.Key] == l.Text {
				continue
			}
			r.last[l.Key] = l.Text
			fmt.Fprintf(&b, "    %s: %s\n", ts, l.Text)
		}
		io.WriteString(r.w, b.String())
		return
	}
	width, height := 80, 24
	if r.size != nil {
		if w, h, err := r.size(); err == nil && w > 0 && h > 0 {
			width, height = w, h
		}
	}
	shown := make([]string, 0, len(lines))
	// One row stays for the cursor below the block.
	room := max(height-1, 1)
	for i, l := range lines {
		if len(lines) > room && i == room-1 {
			shown = append(shown, r.paint(progressPending, fitWidth(fmt.Sprintf("... and %d more lines", len(lines)-i), width)))
			break
		}
		shown = append(shown, r.paint(l.State, fitWidth(strings.Repeat("  ", l.Depth)+l.Text, width)))
	}
	if slices.Equal(shown, r.prev) {
		return
	}
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, ansiUp, r.drawn)
	}
	for _, s := range shown {
		b.WriteString(ansiClearLine + s + "\n")
	}
	b.WriteString(ansiClearDown)
	io.WriteString(r.w, b.String())
	r.drawn, r.prev = len(shown), shown
}

// println prints a line below the block, which then stays as it is.
func (r *progressRenderer) println(text string) {
	if r.tty {
		fmt.Fprintln(r.w, text)
		r.drawn, r.prev = 0, nil
		return
	}
	fmt.Fprintf(r.w, "==> %s: %s\n", r.clock().Format(time.RFC3339), text)
}

func (r *progressRenderer) paint(s progressState, text string) string {
	if c := progressColors[s]; r.color && c != "" {
		return c + text + ansiReset
	}
	return text
}

// fitWidth cuts text to fit in width columns without wrapping (a wrapped
// line would throw the redraw's line count off). Runes count as one
// column: the texts are job and group names, numbers and words.
func fitWidth(text string, width int) string {
	room := max(width-1, 1)
	if utf8.RuneCountInString(text) <= room {
		return text
	}
	runes := []rune(text)
	if room <= 3 {
		return string(runes[:room])
	}
	return string(runes[:room-3]) + "..."
}

// deploymentMonitor follows one deployment until it ends, showing its
// progress. Each round is a blocking query on the deployment, bounded by
// wait so that allocations the agents report running (which do not
// change the deployment) show up too.
type deploymentMonitor struct {
	client *api.Client
	r      *progressRenderer
	wait   time.Duration
	// untilPromotion stops following once the deployment waits for
	// `drover deployment promote`, as `job run` does; `deployment
	// status -monitor` goes on until it ends.
	untilPromotion bool
}

func (m deploymentMonitor) run(ctx context.Context, id string) (*cluster.Deployment, error) {
	var index uint64
	var job *cluster.Job
	for {
		d, meta, err := m.client.Deployments().Info(ctx, id, &api.QueryOptions{WaitIndex: index, WaitTime: m.wait})
		if err != nil {
			return nil, err
		}
		// A blocking query that timed out returns the same index; wait
		// again from it so that the next round blocks.
		index = meta.LastIndex
		q := &api.QueryOptions{Params: map[string]string{"namespace": d.Namespace}}
		if job == nil || job.Version < d.JobVersion {
			if job, _, err = m.client.Jobs().Info(ctx, d.JobID, q); err != nil && !api.IsNotFound(err) {
				return nil, err
			}
		}
		allocs, _, err := m.client.Jobs().Allocations(ctx, d.JobID, q)
		if err != nil {
			return nil, err
		}
		ro := reconciler.Rollout{Version: d.JobVersion, Latest: job, Allocs: allocs, Deployment: d}
		m.r.draw(progressLines([]progressWave{{Jobs: []progressJob{{ID: d.JobID, Version: d.JobVersion, Rollout: &ro}}}}))
		switch {
		case !d.Active():
			return d, nil
		case m.untilPromotion && awaitsPromotion(d):
			return d, nil
		}
	}
}

// deploymentOutcome is the closing line of a followed deployment, in
// Nomad's words, and the exit code: 0 only for a successful one (or one
// left waiting for its canaries' promotion).
func deploymentOutcome(d *cluster.Deployment) (string, int) {
	short := shortID(d.ID)
	switch {
	case d.Status == cluster.DeploymentSuccessful:
		return fmt.Sprintf("Deployment %q successful", short), exitOK
	case awaitsPromotion(d):
		return fmt.Sprintf("Deployment %q waits for its canaries' promotion: run 'drover deployment promote %s' (or 'drover deployment fail %s')", short, short, short), exitOK
	}
	return fmt.Sprintf("Deployment %q %s: %s", short, d.Status, orNone(d.StatusDescription)), exitError
}

// followJobDeployment follows the deployment of a job version that `job
// run` submitted, if the scheduler made one, and returns the exit code
// for its outcome. Interrupting it leaves the deployment going.
func followJobDeployment(ctx context.Context, client *api.Client, ns, jobID string, version uint64, clock func() time.Time, io stdio) int {
	q := &api.QueryOptions{Params: map[string]string{"namespace": ns}}
	ds, _, err := client.Jobs().Deployments(ctx, jobID, q)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	var d *cluster.Deployment
	for _, c := range ds {
		if c.JobVersion == version && (d == nil || c.CreateIndex > d.CreateIndex) {
			d = c
		}
	}
	if d == nil {
		return exitOK // no update block: the evaluation's placements are the whole story
	}
	r := newProgressRenderer(io.out, io, clock)
	fmt.Fprintf(io.out, "==> %s: Monitoring deployment %q\n", clock().Format(time.RFC3339), shortID(d.ID))
	end, err := deploymentMonitor{client: client, r: r, wait: 2 * time.Second, untilPromotion: true}.run(ctx, d.ID)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(io.err, "Stopped following deployment %q; it goes on on the server. Run 'drover deployment status -monitor %s' to follow it again.\n", shortID(d.ID), shortID(d.ID))
			return exitError
		}
		return printAPIError(io, err, client.Address())
	}
	text, code := deploymentOutcome(end)
	r.println(text)
	return code
}

// deploymentStatusMonitor is `deployment status -monitor`.
func deploymentStatusMonitor(ctx context.Context, opts deploymentStatusOptions, io stdio) int {
	switch {
	case opts.json:
		fmt.Fprintln(io.err, "Error: -monitor shows live progress and -json one snapshot: choose one")
		return exitError
	case opts.wait < 100*time.Millisecond || opts.wait > 10*time.Minute:
		fmt.Fprintf(io.err, "Error: -wait %v: want from 100ms to 10m\n", opts.wait)
		return exitError
	}
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	r := newProgressRenderer(io.out, io, opts.clock)
	end, err := deploymentMonitor{client: client, r: r, wait: opts.wait}.run(ctx, opts.deployment)
	switch {
	case api.IsNotFound(err):
		fmt.Fprintf(io.err, "No deployment with ID %q (run 'drover deployment list')\n", opts.deployment)
		return exitError
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(io.err, "Stopped following deployment %q; it goes on on the server.\n", opts.deployment)
		return exitError
	case err != nil:
		return printAPIError(io, err, client.Address())
	}
	text, code := deploymentOutcome(end)
	r.println(text)
	return code
}
