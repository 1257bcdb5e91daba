package allocrunner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// Health of an allocation within its deployment, as Nomad's
// client/allochealth tracker decides it: healthy once every main task runs
// and (for health_check = "checks") every check passes, continuously, for
// min_healthy_time; unhealthy as soon as a task fails or healthy_deadline
// passes first. "manual" leaves the verdict to an operator.

// Values of an update block's health_check.
const (
	healthChecks     = "checks"
	healthTaskStates = "task_states"
	healthManual     = "manual"
)

// healthObs is what the tracker saw at one instant.
type healthObs struct {
	Mode           string // checks, task_states, manual
	MinHealthyTime time.Duration
	Deadline       time.Duration
	// Start is when tracking began.
	Start time.Time
	// Failed: a task failed or died for good.
	Failed bool
	// OKSince is when the allocation last became "all running (and all
	// checks passing)", or zero if it is not now.
	OKSince time.Time
}

// healthVerdict is the pure decision: nil while unknown.
func healthVerdict(o healthObs, now time.Time) *bool {
	healthy, unhealthy := true, false
	if o.Mode == healthManual {
		return nil // an operator decides
	}
	if o.Failed {
		return &unhealthy
	}
	if !o.OKSince.IsZero() && now.Sub(o.OKSince) >= o.MinHealthyTime {
		// Met min_healthy_time: healthy even if that is right at the
		// deadline.
		return &healthy
	}
	if o.Deadline > 0 && !now.Before(o.Start.Add(o.Deadline)) {
		return &unhealthy
	}
	return nil
}

// allOK reports whether the allocation is "up" for the mode: every main
// task running, and for "checks" every check passing.
func allOK(mode string, tasks []taskView, checks []bool) bool {
	main := 0
	for _, t := range tasks {
		if t.Hook != "" && !t.Sidecar {
			continue // prestart/poststart/poststop hooks need not run
		}
		main++
		if !t.Running {
			return false
		}
	}
	if main == 0 {
		return false
	}
	if mode == healthChecks {
		for _, ok := range checks {
			if !ok {
				return false
			}
		}
	}
	return true
}

func anyFailed(tasks []taskView) bool {
	for _, t := range tasks {
		if t.Failed || (t.Dead && (t.Hook == "" || t.Sidecar)) {
			return true
		}
	}
	return false
}

// checkSpec is one check bound to this allocation.
type checkSpec struct {
	name     string
	kind     string // http, tcp, script
	addr     string // host:port for http and tcp
	path     string
	method   string
	header   map[string][]string
	command  string
	args     []string
	task     string
	interval time.Duration
	timeout  time.Duration
	// onUpdate is the effective on_update (on_update.go).
	onUpdate string
	// service and owner name the service the check belongs to: owner is
	// its task, empty for a group service (cluster.CheckStatus).
	service, owner string
	// addrIn is how addr was resolved; for address_mode = "driver" the
	// task's own network is only known once it runs, so runCheck
	// resolves again then (address_mode.go).
	addrIn addrInput
	// restart is the check's check_restart, nil without one
	// (check_restart.go).
	restart *jobspec.CheckRestart
}

// healthChecks binds the group's and tasks' service checks to the
// allocation's addresses.
func (r *Runner) healthChecks() ([]checkSpec, error) {
	type svc struct {
		s     jobspec.Service
		task  string
		owner string
	}
	var svcs []svc
	for _, s := range r.group.Services {
		svcs = append(svcs, svc{s, s.Task, ""})
	}
	for _, t := range r.group.Tasks {
		for _, s := range t.Services {
			svcs = append(svcs, svc{s, t.Name, t.Name})
		}
	}
	var out []checkSpec
	for _, sv := range svcs {
		for i, c := range sv.s.Checks {
			cs := checkSpec{
				name: c.Name, kind: c.Type, path: c.Path, method: c.Method, header: c.Header,
				command: c.Command, args: c.Args, task: c.Task, interval: c.Interval, timeout: c.Timeout,
				onUpdate: checkOnUpdate(sv.s.OnUpdate, c.OnUpdate),
				service:  sv.s.Name, owner: sv.owner, restart: jobspec.EffectiveCheckRestart(&sv.s, &c),
			}
			cs.name = cluster.CheckName(sv.s.Name, i, c.Name)
			if cs.task == "" {
				cs.task = sv.task
			}
			if cs.interval <= 0 {
				cs.interval = 10 * time.Second
			}
			if cs.timeout <= 0 {
				cs.timeout = 2 * time.Second
			}
			if cs.kind == "http" || cs.kind == "tcp" {
				port := c.Port
				if port == "" {
					port = sv.s.Port
				}
				// The check's own address_mode (default host): Nomad does
				// not inherit the service's.
				cs.addrIn = addrInput{Mode: c.AddressMode, Port: port, HostIP: r.cfg.IP, Ports: r.Alloc().Resources.Ports}
				addr, err := resolveAddr(cs.addrIn)
				if err != nil {
					return nil, fmt.Errorf("check %q: %w", cs.name, err)
				}
				cs.addr = addr
			}
			out = append(out, cs)
		}
	}
	return out, nil
}

// runCheck runs one check once.
func (r *Runner) runCheck(ctx context.Context, c checkSpec) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.addrIn.Mode == addrModeDriver {
		addr, err := r.driverCheckAddr(ctx, c)
		if err != nil {
			return err
		}
		c.addr = addr
	}
	switch c.kind {
	case "http":
		path := c.path
		if path == "" {
			path = "/"
		}
		method := c.method
		if method == "" {
			method = http.MethodGet
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://"+c.addr+path, nil)
		if err != nil {
			return err
		}
		for k, vs := range c.header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("%w: HTTP %d", errCheckWarning, resp.StatusCode)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case "tcp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return err
		}
		return conn.Close()
	case "script":
		return r.runScriptCheck(ctx, c)
	}
	return fmt.Errorf("unknown check type %q", c.kind)
}

// maxCheckOutput bounds how much of a failing script check's output its
// error quotes.
const maxCheckOutput = 512

// runScriptCheck runs a script check's command inside its task, through
// the task's driver (drivers.Execer): in the container, or in the exec
// task's namespaces and root as the task's user, with the task's
// environment. Never on the host with the agent's: a job file is
// untrusted, and the agent runs as root with its token in its
// environment. Exit code 0 passes; anything else fails, quoting the
// output.
func (r *Runner) runScriptCheck(ctx context.Context, c checkSpec) error {
	var tr *taskRunner
	for _, t := range r.order {
		if t.task.Name == c.task {
			tr = t
		}
	}
	if tr == nil {
		return fmt.Errorf("script check %q: the group has no task %q to run it in (set the check's task)", c.name, c.task)
	}
	tr.mu.Lock()
	h := tr.handle
	tr.mu.Unlock()
	if h == nil {
		return fmt.Errorf("script check %q: task %q is not running", c.name, c.task)
	}
	ex, ok := r.driverFor(tr.task).(drivers.Execer)
	if !ok {
		return fmt.Errorf("script check %q: driver %q cannot run commands inside its tasks, and script checks never run on the host; use an http or tcp check", c.name, tr.task.Driver)
	}
	res, err := ex.Exec(ctx, h, append([]string{c.command}, c.args...))
	if err != nil {
		return fmt.Errorf("script check %q: %w", c.name, err)
	}
	if res.ExitCode != 0 {
		out := strings.TrimSpace(string(res.Stdout) + "\n" + string(res.Stderr))
		if len(out) > maxCheckOutput {
			out = out[:maxCheckOutput] + "…"
		}
		if res.ExitCode == 1 {
			// Exit code 1 is a warning, as in Consul and Nomad.
			return fmt.Errorf("script check %q: %w (exit code 1): %s", c.name, errCheckWarning, out)
		}
		return fmt.Errorf("script check %q: exit code %d: %s", c.name, res.ExitCode, out)
	}
	return nil
}

// needsHealth reports whether the allocation's health must be tracked
// for deployment id: a service allocation of a deployment whose health is
// not known yet.
func (r *Runner) needsHealth(a *cluster.Allocation) bool {
	if a.DeploymentID == "" || r.batch() || r.group.Update == nil {
		return false
	}
	return a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil
}

// trackHealth decides the allocation's health for its current deployment
// and reports it once. It returns when the verdict is reported, the
// allocation stops, or ctx ends.
func (r *Runner) trackHealth(ctx context.Context, deploymentID string) {
	u := r.group.Update
	mode := u.HealthCheck
	if mode == "" {
		mode = healthChecks
	}
	checks, err := r.healthChecks()
	start := r.now()
	obs := healthObs{Mode: mode, MinHealthyTime: u.MinHealthyTime, Deadline: u.HealthyDeadline, Start: start}
	if err != nil {
		r.log.Warn("health checks", "err", err)
		obs.Failed = true
	}

	// results[i]: does check i let the allocation count as healthy for
	// the deployment (its on_update applied to its last status)? An
	// ignored check does from the start; the others once they pass. The
	// checks themselves run in runCheckStatuses, for the catalog too:
	// this reads their last results rather than running each twice.
	results := make([]bool, len(checks))
	update := func() {
		for i, c := range checks {
			st, ran := r.checks.status(i)
			results[i] = c.onUpdate == onUpdateIgnore || ran && healthyForDeployment(c.onUpdate, st)
		}
	}

	tick := 50 * time.Millisecond
	if u.MinHealthyTime > 0 && u.MinHealthyTime/10 < tick {
		tick = max(u.MinHealthyTime/10, 5*time.Millisecond)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		a := r.Alloc()
		if a.DeploymentID != deploymentID || r.Finished() {
			return
		}
		r.mu.Lock()
		stopping := r.stopRequested
		r.mu.Unlock()
		if stopping {
			return
		}
		views := r.views()
		update()
		ok := allOK(mode, views, results)
		now := r.now()
		if !obs.Failed {
			obs.Failed = anyFailed(views)
		}
		switch {
		case !ok:
			obs.OKSince = time.Time{}
		case obs.OKSince.IsZero():
			obs.OKSince = now
		}
		if v := healthVerdict(obs, now); v != nil {
			r.mu.Lock()
			r.health = &cluster.AllocDeploymentStatus{Healthy: v, Timestamp: now}
			if a.DeploymentStatus != nil {
				r.health.Canary = a.DeploymentStatus.Canary
			}
			r.healthFor = deploymentID
			r.mu.Unlock()
			r.log.Info("allocation health", "healthy", *v, "deployment", deploymentID)
			r.report()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) views() []taskView {
	views := make([]taskView, len(r.order))
	for i, tr := range r.order {
		views[i] = tr.view()
	}
	return views
}

// runHealth starts a tracker for each deployment the allocation joins
// with unknown health (placement, or an in-place update into a new
// deployment).
func (r *Runner) runHealth(ctx context.Context) {
	tracked := ""
	for {
		a := r.Alloc()
		if a.DeploymentID != tracked && r.needsHealth(a) {
			tracked = a.DeploymentID
			r.trackHealth(ctx, tracked)
		}
		if r.Finished() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.allocC:
		case <-r.done:
			return
		}
	}
}
