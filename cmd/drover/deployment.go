package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// drover deployment list|status|promote|fail|pause|resume: the rollouts
// of service jobs, as `nomad deployment` shows and steers them.

func deploymentCommands() []command {
	return []command{
		{"list", "List deployments, newest first", runDeploymentList},
		{"status", "Show a deployment's progress per group and its allocations' health", runDeploymentStatus},
		{"promote", "Promote a deployment's healthy canaries", runDeploymentAction("promote")},
		{"fail", "Mark a deployment failed (auto_revert rolls the job back)", runDeploymentAction("fail")},
		{"pause", "Stop a deployment from placing further batches", runDeploymentAction("pause")},
		{"resume", "Let a paused deployment go on", runDeploymentAction("resume")},
	}
}

func runDeployment(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "deployment", "Inspect and steer the rollouts of service jobs.", deploymentCommands(), args, io)
}

const deploymentListHelp = `
Usage: drover deployment list [options]

List deployments, newest first: one per job version rolled out with an
update block, with its status and why.

Options:
  -job JOB   only this job's deployments
  -json      print the deployments as JSON

Examples:
  drover deployment list
  drover deployment list -job web -json | jq '.[0].status'

Exit codes: 0 success, 1 an error (an unreachable server).
`

type deploymentListOptions struct {
	queryOptions
	job string
}

func runDeploymentList(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("deployment list", deploymentListHelp, io)
	var opts deploymentListOptions
	opts.register(fs, "print the deployments as JSON")
	fs.StringVar(&opts.job, "job", "", "only this job's deployments")
	_, code, done := parseArgs(fs, args, io, 0, 0, "Error: drover deployment list takes no arguments (use -job JOB)")
	if done {
		return code
	}
	return deploymentList(ctx, opts, io)
}

func deploymentList(ctx context.Context, opts deploymentListOptions, io stdio) int {
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	q := &api.QueryOptions{}
	if opts.job != "" {
		q.Params = map[string]string{"job": opts.job}
	}
	ds, _, err := client.Deployments().List(ctx, q)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	sortDeployments(ds)
	return opts.output(io, ds, func() { renderDeploymentList(io.out, ds, now) })
}

func sortDeployments(ds []*cluster.Deployment) {
	slices.SortFunc(ds, func(a, b *cluster.Deployment) int {
		if a.CreateIndex != b.CreateIndex {
			return int(b.CreateIndex) - int(a.CreateIndex)
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func renderDeploymentList(w io.Writer, ds []*cluster.Deployment, now time.Time) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "No deployments")
		return
	}
	rows := make([][]string, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, []string{shortID(d.ID), d.JobID, strconv.FormatUint(d.JobVersion, 10), d.Status, orNone(d.StatusDescription), relTime(d.CreateTime, now)})
	}
	writeTable(w, []string{"ID", "Job ID", "Job Version", "Status", "Description", "Created"}, rows)
}

const deploymentStatusHelp = `
Usage: drover deployment status [options] DEPLOYMENT

Show one deployment (an ID or a unique prefix): its status and why, then
per task group the desired, placed, healthy and unhealthy allocations,
whether it reverts on failure and by when it must make progress, then
the deployment's allocations with their health, oldest first, so that
the batches of a rolling update read top to bottom.

With -monitor it follows the deployment until it ends instead, showing
per task group the allocations desired, placed, running and healthy and
where canaries stand: a block redrawn in place on a terminal (coloured
unless NO_COLOR is set), one timestamped line per change otherwise, so
that CI logs stay readable. It waits on blocking queries, at most -wait
between refreshes.

Options:
  -monitor   follow the deployment until it ends
  -wait D    with -monitor, the longest wait between refreshes (default 2s)
  -json      print the deployment and its allocations as JSON (not with -monitor)

Examples:
  drover deployment status 8e2b1c4d
  drover deployment status -json 8e2b | jq '.deployment.task_groups'
  drover deployment status -monitor 8e2b

Exit codes: 0 success (with -monitor: the deployment succeeded), 1 an
error (an unknown or ambiguous ID, an unreachable server; with -monitor:
the deployment failed or was cancelled).
`

type deploymentStatusOptions struct {
	queryOptions
	deployment string
	monitor    bool
	wait       time.Duration
	clock      func() time.Time // stamps -monitor's plain lines
}

// deploymentStatusView is what `deployment status` shows, and its -json.
type deploymentStatusView struct {
	Deployment  *cluster.Deployment   `json:"deployment"`
	Allocations []*cluster.Allocation `json:"allocations"`
}

func runDeploymentStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("deployment status", deploymentStatusHelp, io)
	opts := deploymentStatusOptions{clock: time.Now}
	opts.register(fs, "print the deployment and its allocations as JSON")
	fs.BoolVar(&opts.monitor, "monitor", false, "follow the deployment until it ends, showing its progress")
	fs.DurationVar(&opts.wait, "wait", 2*time.Second, "with -monitor, the longest `duration` between refreshes")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give exactly one deployment ID or prefix: drover deployment status DEPLOYMENT")
	if done {
		return code
	}
	opts.deployment = pos[0]
	if opts.monitor {
		return deploymentStatusMonitor(ctx, opts, io)
	}
	return deploymentStatus(ctx, opts, io)
}

func deploymentStatus(ctx context.Context, opts deploymentStatusOptions, io stdio) int {
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	v, err := fetchDeploymentStatus(ctx, client, opts.deployment)
	if err != nil {
		if api.IsNotFound(err) {
			fmt.Fprintf(io.err, "No deployment with ID %q (run 'drover deployment list')\n", opts.deployment)
			return exitError
		}
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, v, func() { renderDeploymentStatus(io.out, v, now) })
}

func fetchDeploymentStatus(ctx context.Context, client *api.Client, id string) (*deploymentStatusView, error) {
	d, _, err := client.Deployments().Info(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	allocs, _, err := client.Allocations().List(ctx, &api.QueryOptions{Params: map[string]string{"job": d.JobID}})
	if err != nil {
		return nil, err
	}
	v := &deploymentStatusView{Deployment: d, Allocations: []*cluster.Allocation{}}
	for _, a := range allocs {
		if a.DeploymentID == d.ID {
			v.Allocations = append(v.Allocations, a)
		}
	}
	slices.SortFunc(v.Allocations, func(a, b *cluster.Allocation) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return v, nil
}

// renderDeploymentStatus prints a deployment as `nomad deployment status`
// does, with its allocations' health below.
func renderDeploymentStatus(w io.Writer, v *deploymentStatusView, now time.Time) {
	d := v.Deployment
	writeKV(w, [][2]string{
		{"ID", d.ID},
		{"Job ID", d.JobID},
		{"Job Version", strconv.FormatUint(d.JobVersion, 10)},
		{"Status", d.Status},
		{"Description", orNone(d.StatusDescription)},
		{"Created", relTime(d.CreateTime, now)},
		{"Modified", relTime(d.ModifyTime, now)},
	})
	fmt.Fprintln(w, "\nDeployed")
	canaries := false
	for _, g := range d.TaskGroups {
		canaries = canaries || g.DesiredCanaries > 0
	}
	header := []string{"Task Group", "Auto Revert"}
	if canaries {
		header = append(header, "Promoted", "Desired Canaries", "Placed Canaries")
	}
	header = append(header, "Desired", "Placed", "Healthy", "Unhealthy", "Progress Deadline")
	var rows [][]string
	for _, name := range slices.Sorted(maps.Keys(d.TaskGroups)) {
		g := d.TaskGroups[name]
		row := []string{name, strconv.FormatBool(g.AutoRevert)}
		if canaries {
			row = append(row, strconv.FormatBool(g.Promoted), strconv.Itoa(g.DesiredCanaries), strconv.Itoa(len(g.PlacedCanaries)))
		}
		deadline := "N/A"
		if !g.RequireProgressBy.IsZero() {
			deadline = formatTime(g.RequireProgressBy, now)
		}
		row = append(row, strconv.Itoa(g.DesiredTotal), strconv.Itoa(g.PlacedAllocs), strconv.Itoa(g.HealthyAllocs), strconv.Itoa(g.UnhealthyAllocs), deadline)
		rows = append(rows, row)
	}
	writeTable(w, header, rows)

	fmt.Fprintln(w, "\nAllocations")
	if len(v.Allocations) == 0 {
		fmt.Fprintln(w, "No allocations placed")
		return
	}
	rows = rows[:0]
	for _, a := range v.Allocations {
		rows = append(rows, []string{shortID(a.ID), orNone(a.NodeName), a.TaskGroup, strconv.FormatUint(a.JobVersion, 10),
			a.DesiredStatus, a.ClientStatus, allocHealth(a, now), relTime(a.CreateTime, now)})
	}
	writeTable(w, []string{"ID", "Node", "Task Group", "Version", "Desired", "Status", "Health", "Created"}, rows)
}

// allocHealth is an allocation's health in its deployment: "healthy" or
// "unhealthy" with when it was decided, or "pending".
func allocHealth(a *cluster.Allocation, now time.Time) string {
	ds := a.DeploymentStatus
	if ds == nil || ds.Healthy == nil {
		return "pending"
	}
	s := "unhealthy"
	if *ds.Healthy {
		s = "healthy"
	}
	if ds.Canary {
		s += " (canary)"
	}
	if !ds.Timestamp.IsZero() {
		s += " " + relTime(ds.Timestamp, now)
	}
	return s
}

const deploymentActionHelp = `
Usage: drover deployment %[1]s [options] DEPLOYMENT

%[2]s

Examples:
  drover deployment %[1]s 8e2b1c4d
  drover deployment %[1]s -json 8e2b

Exit codes: 0 success, 1 an error (an unknown or finished deployment,
an unreachable server).
`

var deploymentActionAbout = map[string]string{
	"promote": "Promote the deployment's canaries once all of them are healthy: the\nrollout then replaces the remaining allocations.",
	"fail":    "Mark a running or paused deployment failed. A group with\nauto_revert = true rolls the job back to its last stable version.",
	"pause":   "Pause a running deployment: allocations already placed finish\nbecoming healthy, but no further batch starts until 'resume'.",
	"resume":  "Resume a paused deployment: the next batch starts.",
}

func runDeploymentAction(action string) func(context.Context, []string, stdio) int {
	return func(ctx context.Context, args []string, io stdio) int {
		fs := newFlagSet("deployment "+action, fmt.Sprintf(deploymentActionHelp, action, deploymentActionAbout[action]), io)
		var opts queryOptions
		opts.register(fs, "print the deployment as JSON")
		pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give exactly one deployment ID or prefix: drover deployment "+action+" DEPLOYMENT")
		if done {
			return code
		}
		c, ok := opts.client.newClient(io)
		if !ok {
			return exitError
		}
		do := map[string]func(context.Context, string) (*cluster.Deployment, error){
			"promote": c.Deployments().Promote, "fail": c.Deployments().Fail,
			"pause": c.Deployments().Pause, "resume": c.Deployments().Resume,
		}[action]
		d, err := do(ctx, pos[0])
		if err != nil {
			return printAPIError(io, err, c.Address())
		}
		return opts.output(io, d, func() {
			fmt.Fprintf(io.out, "Deployment %s: %s (%s)\n", shortID(d.ID), d.Status, orNone(d.StatusDescription))
		})
	}
}
