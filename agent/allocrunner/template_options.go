package allocrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// A template's runtime options, with Nomad's meaning:
//
//   - uid, gid: the rendered file's owner, set only when the agent runs
//     as root (otherwise the file stays the agent's, and the task's
//     events say so);
//   - error_on_missing_key: indexing a map with a key it lacks is a
//     render error (the task does not start) instead of "<no value>";
//   - once: rendered when the task starts, never again while it runs;
//   - wait { min max }: after the data changes, wait until it has been
//     quiet for min, but no longer than max after the first change
//     (max defaults to 4 × min, as consul-template's does), then render;
//   - splay: wait a random time up to splay before applying change_mode;
//   - change_mode = "script": run change_script inside the task through
//     its driver's exec (drivers.Execer), with its timeout (5s by
//     default); with fail_on_error a failing script kills the task.
//
// What re-renders a template while its task runs: the signal that the
// data templates read may have changed, sent by the watchers of the
// live data functions (nomadVar, nomadService, ...: template_live.go)
// when an answer changes, and by Runner.TemplatesChanged.

// Task event types of template changes, as Nomad names them.
const (
	EventRestartSignal = "Restart Signaled"
	EventHookFailed    = "Task hook failed"
	EventHookMessage   = "Task hook message"
	EventSignaling     = "Signaling"
)

// defaultScriptTimeout is Nomad's change_script timeout.
const defaultScriptTimeout = 5 * time.Second

// maxScriptOutput bounds how much of a failing change script's output
// its event quotes.
const maxScriptOutput = 512

// missingKeyOption is text/template's missingkey option for t. Nomad's
// default renders a missing map key as "<no value>"; with
// error_on_missing_key it fails the render.
func missingKeyOption(t jobspec.Template) string {
	if t.ErrorOnMissingKey {
		return "missingkey=error"
	}
	return "missingkey=zero"
}

// missingKeyHint adds to a render error caused by a missing key what
// to do about it.
func missingKeyHint(t jobspec.Template, err error) error {
	if t.ErrorOnMissingKey && strings.Contains(err.Error(), "no entry for key") {
		return fmt.Errorf("%w (error_on_missing_key = true: give the key a value, guard it with `with` or `index`, or unset error_on_missing_key)", err)
	}
	return err
}

// parseJSON is consul-template's parseJSON: a JSON document as maps,
// lists and values, to index in the template.
func parseJSON(s string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("parseJSON: %w", err)
	}
	return v, nil
}

// templateOwner is the owner to give template t's file: uid and gid
// (-1: unchanged), and a warning when they cannot be applied because
// the agent (effective uid euid) is not root, as Nomad requires.
func templateOwner(t jobspec.Template, name string, euid int) (uid, gid int, warning string) {
	uid, gid = -1, -1
	if t.UID != nil && *t.UID >= 0 {
		uid = *t.UID
	}
	if t.GID != nil && *t.GID >= 0 {
		gid = *t.GID
	}
	if uid == -1 && gid == -1 {
		return -1, -1, ""
	}
	if euid != 0 {
		return -1, -1, fmt.Sprintf("Template %s: uid/gid not applied: the agent does not run as root (uid %d), so the file belongs to the agent's user; run the agent as root or drop uid/gid", name, euid)
	}
	return uid, gid, ""
}

// renderedSet is a render of all of a task's templates.
type renderedSet struct {
	// env holds the variables of the env = true templates.
	env map[string]string
	// texts is each template's rendered text, by position.
	texts []string
	// warnings are for the task's events.
	warnings []string
}

// renderAll renders and writes every template of a task, as it starts.
func renderAll(tmpls []jobspec.Template, dirs taskenv.Dirs, env map[string]string, r *taskenv.Resolver, now time.Time, euid int) (*renderedSet, error) {
	return renderAllLive(tmpls, dirs, env, r, now, euid, nil)
}

// renderAllLive is renderAll with live data (template_live.go).
func renderAllLive(tmpls []jobspec.Template, dirs taskenv.Dirs, env map[string]string, r *taskenv.Resolver, now time.Time, euid int, live *liveData) (*renderedSet, error) {
	rs := &renderedSet{env: map[string]string{}, texts: make([]string, len(tmpls))}
	for i, t := range tmpls {
		dest := r.Interpolate(t.Destination)
		name := templateName(i, dest)
		text, err := renderOneLive(t, dirs, env, now, live)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		rs.texts[i] = text
		if t.Env {
			vars, err := parseEnvFile(text)
			if err != nil {
				return nil, fmt.Errorf("template %s (env = true): %w", name, err)
			}
			for k, v := range vars {
				rs.env[k] = v
			}
		}
		if dest == "" {
			if t.Env {
				continue
			}
			return nil, fmt.Errorf("template %s: destination is required", name)
		}
		warning, err := writeTemplate(t, name, dest, text, dirs, euid)
		if err != nil {
			return nil, err
		}
		if warning != "" {
			rs.warnings = append(rs.warnings, warning)
		}
	}
	return rs, nil
}

// taskTemplates is what a running task's templates are rendered from
// again: the inputs of its last start and the texts rendered then.
type taskTemplates struct {
	tmpls []jobspec.Template
	dirs  taskenv.Dirs
	env   map[string]string
	r     *taskenv.Resolver
	texts []string
	live  *liveData
	// restored, after an agent restart, is what each template's file
	// held when the agent re-attached: the next render is compared
	// with it instead of texts (reattach.go). Nil otherwise.
	restored []*restoredText
	// unsaved: the digests of the env-only templates' texts are not in
	// the local state yet (saveEnvSums, reattach.go).
	unsaved bool
}

// rerender renders templates idx again and writes those whose text
// changed; it returns their indexes. A render error is returned as is:
// the task cannot go on with data its template cannot render.
func (ts *taskTemplates) rerender(idx []int, now time.Time, euid int) (changed []int, warnings []string, err error) {
	for _, i := range idx {
		t := ts.tmpls[i]
		dest := ts.r.Interpolate(t.Destination)
		name := templateName(i, dest)
		text, err := renderOneLive(t, ts.dirs, ts.env, now, ts.live)
		if err != nil {
			return changed, warnings, fmt.Errorf("template %s: %w", name, err)
		}
		if b := ts.restoredAt(i); b != nil {
			ts.restored[i] = nil
			if b.same(text) {
				ts.texts[i] = text
				continue
			}
		} else if text == ts.texts[i] {
			continue
		}
		if dest != "" {
			w, err := writeTemplate(t, name, dest, text, ts.dirs, euid)
			if err != nil {
				return changed, warnings, err
			}
			if w != "" {
				warnings = append(warnings, w)
			}
		}
		ts.texts[i] = text
		changed = append(changed, i)
	}
	return changed, warnings, nil
}

// restoredAt is template i's baseline from the files on disk, if its
// first render after an agent restart is still to come.
func (ts *taskTemplates) restoredAt(i int) *restoredText {
	if i < len(ts.restored) {
		return ts.restored[i]
	}
	return nil
}

// renderAt is when a template whose data changed first at first and
// last at last renders, given its wait block: once the data has been
// quiet for min, but no later than max after the first change (max
// unset: 4 × min, consul-template's default). Without a wait, at once.
func renderAt(first, last time.Time, w *jobspec.TemplateWait) time.Time {
	if w == nil || w.Min <= 0 && w.Max <= 0 {
		return last
	}
	maxWait := w.Max
	if maxWait <= 0 {
		maxWait = 4 * w.Min
	}
	at := last.Add(w.Min)
	if limit := first.Add(maxWait); at.After(limit) {
		at = limit
	}
	return at
}

// changePlan is what to do about templates whose text changed, Nomad's
// rules: a restart if any of them says restart (and nothing else then);
// otherwise each distinct signal once and every script; after a random
// delay up to the largest splay among them.
type changePlan struct {
	restart bool
	signals []string
	scripts []jobspec.ChangeScript
	splay   time.Duration
}

func (p changePlan) empty() bool { return !p.restart && len(p.signals) == 0 && len(p.scripts) == 0 }

// planChanges decides what templates changed (indexes into tmpls) ask
// for.
func planChanges(tmpls []jobspec.Template, changed []int) changePlan {
	var p changePlan
	for _, i := range changed {
		t := tmpls[i]
		switch t.ChangeMode {
		case "noop":
			continue
		case "signal":
			if !slices.Contains(p.signals, t.ChangeSignal) {
				p.signals = append(p.signals, t.ChangeSignal)
			}
		case "script":
			if t.ChangeScript != nil {
				p.scripts = append(p.scripts, *t.ChangeScript)
			}
		default: // "restart", Nomad's default
			p.restart = true
		}
		p.splay = max(p.splay, t.Splay)
	}
	slices.Sort(p.signals)
	if p.restart {
		p.signals, p.scripts = nil, nil
	}
	return p
}

// splayDelay is a random delay in [0, splay); draw(n) returns a number
// in [0, n).
func splayDelay(splay time.Duration, draw func(n int64) int64) time.Duration {
	if splay <= 0 {
		return 0
	}
	return time.Duration(draw(int64(splay)))
}

// templateState is a task runner's template machinery across its runs.
// Guarded by the task runner's mu.
type templateState struct {
	cur *taskTemplates
	// notify is signalled (never closed) when the data templates read
	// may have changed; made on first use.
	notify chan struct{}
	// restart is set when a re-render stopped the run for
	// change_mode = "restart": the run loop starts it again at once.
	// A workload identity's change_mode = "restart" sets it too
	// (identity.go), with restartMsg, the Restarting event's message
	// (empty: the template's).
	restart    bool
	restartMsg string
	// live is the task's live template data (template_live.go); nil
	// when the agent has no servers to read it from.
	live *liveData
}

// signaler is a driver that can signal a running task. No driver has
// it yet: change_mode = "signal" on a re-render then says so in the
// task's events.
type signaler interface {
	Signal(ctx context.Context, h *drivers.TaskHandle, signal string) error
}

// TemplatesChanged tells the allocation's tasks that the data their
// templates read may have changed: each running task renders its
// templates again (not those with once), after their wait, and applies
// the change_mode of those whose text changed. It never blocks.
func (r *Runner) TemplatesChanged() {
	for _, tr := range r.order {
		select {
		case tr.templateNotify() <- struct{}{}:
		default: // one pending signal is enough
		}
	}
}

func (tr *taskRunner) templateNotify() chan struct{} {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.tmpl.notify == nil {
		tr.tmpl.notify = make(chan struct{}, 1)
	}
	return tr.tmpl.notify
}

// renderTemplates renders the task's templates for a start, keeps what
// re-renders them, and reports uid/gid that could not be applied in
// the task's events.
func (tr *taskRunner) renderTemplates(dirs taskenv.Dirs, env map[string]string, r *taskenv.Resolver) (map[string]string, error) {
	live := tr.liveData()
	rs, err := tr.renderWaitingForData(func() (*renderedSet, error) {
		return renderAllLive(tr.task.Templates, dirs, env, r, tr.ar.now(), os.Geteuid(), live)
	})
	if err != nil {
		return nil, err
	}
	for _, w := range rs.warnings {
		tr.emit(EventHookMessage, w)
	}
	ts := &taskTemplates{tmpls: tr.task.Templates, dirs: dirs, env: env, r: r, texts: rs.texts, live: live}
	tr.saveEnvSums(ts) // reattach.go: the baseline of env-only templates after an agent restart
	tr.mu.Lock()
	tr.tmpl.cur = ts
	tr.mu.Unlock()
	return rs.env, nil
}

// templateRestarted reports, once, that the run that just ended was
// stopped for a template's change_mode = "restart", and records the
// restart: it does not count against the restart policy, as in Nomad.
func (tr *taskRunner) templateRestarted() bool {
	tr.mu.Lock()
	restart, msg := tr.tmpl.restart, tr.tmpl.restartMsg
	tr.tmpl.restart, tr.tmpl.restartMsg = false, ""
	tr.mu.Unlock()
	if !restart {
		return false
	}
	if msg == "" {
		msg = "Template with change_mode restart re-rendered; task restarting now"
	}
	now := tr.ar.now()
	tr.update(func(st *cluster.TaskState) {
		appendEvent(st, event(now, EventRestarting, msg))
		st.State = cluster.TaskStatePending
		st.Restarts++
	})
	return true
}

// watchTemplates re-renders the task's templates while run h lives
// (ctx), on TemplatesChanged, honouring wait, and applies their change
// modes.
func (tr *taskRunner) watchTemplates(ctx context.Context, h *drivers.TaskHandle) {
	if !slices.ContainsFunc(tr.task.Templates, func(t jobspec.Template) bool { return !t.Once }) {
		return
	}
	notify := tr.templateNotify()
	type pending struct{ first, last time.Time }
	pend := map[int]*pending{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notify:
			now := tr.ar.now()
			for i, t := range tr.task.Templates {
				if t.Once {
					continue
				}
				if p := pend[i]; p != nil {
					p.last = now
				} else {
					pend[i] = &pending{first: now, last: now}
				}
			}
		case <-timer.C:
		}
		now := tr.ar.now()
		var due []int
		var next time.Time
		for i, p := range pend {
			at := renderAt(p.first, p.last, tr.task.Templates[i].Wait)
			if !at.After(now) {
				due = append(due, i)
				delete(pend, i)
			} else if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		slices.Sort(due)
		if len(due) > 0 && !tr.applyTemplateChanges(ctx, h, due) {
			return
		}
		timer.Stop()
		if !next.IsZero() {
			// A real timer for what the (possibly injected) clock says
			// is left.
			timer.Reset(max(next.Sub(now), time.Millisecond))
		}
	}
}

// applyTemplateChanges renders templates due again and acts on those
// that changed. It returns false when the run is ending (restarted,
// killed, or ctx done).
func (tr *taskRunner) applyTemplateChanges(ctx context.Context, h *drivers.TaskHandle, due []int) bool {
	tr.mu.Lock()
	ts := tr.tmpl.cur
	tr.mu.Unlock()
	if ts == nil {
		return true
	}
	changed, warnings, err := ts.rerender(due, tr.ar.now(), os.Geteuid())
	for _, w := range warnings {
		tr.emit(EventHookMessage, w)
	}
	var miss *errLiveMissing
	if errors.As(err, &miss) {
		// Data the template reads went away (a deleted variable): keep
		// the file as it is and the task running, as Nomad does, and
		// render again when the data comes back.
		tr.emit(EventHookMessage, "Template "+miss.Error())
		err = nil
	}
	if err != nil {
		tr.emit(EventTemplateFailure, err.Error())
		tr.failAndKill("Template failed: " + err.Error())
		return false
	}
	plan := planChanges(ts.tmpls, changed)
	if plan.empty() {
		if len(changed) > 0 || ts.unsaved {
			tr.saveEnvSums(ts)
		}
		return true
	}
	if d := splayDelay(plan.splay, rand.Int64N); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	d := tr.ar.driverFor(tr.task)
	if plan.restart {
		tr.mu.Lock()
		tr.tmpl.restart, tr.tmpl.restartMsg = true, ""
		tr.mu.Unlock()
		tr.emit(EventRestartSignal, "Template with change_mode restart re-rendered")
		if err := d.Stop(ctx, h, "", 0); err != nil && ctx.Err() == nil {
			tr.log.Warn("stop task for a template restart", "err", err)
		}
		return false
	}
	for _, sig := range plan.signals {
		s, ok := d.(signaler)
		if !ok {
			tr.emit(EventHookFailed, fmt.Sprintf("Template re-rendered, but driver %q cannot signal a running task: %s not sent; use change_mode = \"restart\" or \"script\"", tr.task.Driver, sig))
			continue
		}
		tr.emit(EventSignaling, fmt.Sprintf("Template re-rendered: sending %s", sig))
		if err := s.Signal(ctx, h, sig); err != nil && ctx.Err() == nil {
			tr.emit(EventHookFailed, fmt.Sprintf("Template failed to send %s: %v", sig, err))
		}
	}
	for _, cs := range plan.scripts {
		if !tr.runChangeScript(ctx, h, cs) {
			return false
		}
	}
	// Not for a restart (returned above): the next start saves what it
	// renders.
	tr.saveEnvSums(ts)
	return ctx.Err() == nil
}

// runChangeScript runs a change_script inside the task, through its
// driver's exec, never on the host. It returns false when it killed
// the task (fail_on_error) or the run ended.
func (tr *taskRunner) runChangeScript(ctx context.Context, h *drivers.TaskHandle, cs jobspec.ChangeScript) bool {
	argv := append([]string{cs.Command}, cs.Args...)
	fail := func(msg string) bool {
		if ctx.Err() != nil {
			return false
		}
		tr.emit(EventHookFailed, msg)
		if cs.FailOnError {
			tr.failAndKill("Template script failed, task is being killed")
			return false
		}
		return true
	}
	ex, ok := tr.ar.driverFor(tr.task).(drivers.Execer)
	if !ok {
		return fail(fmt.Sprintf("Template failed to run script %s with arguments %q because task driver %q doesn't support the exec operation", cs.Command, cs.Args, tr.task.Driver))
	}
	timeout := cs.Timeout
	if timeout <= 0 {
		timeout = defaultScriptTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := ex.Exec(sctx, h, argv)
	timedOut := sctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	cancel()
	switch {
	case timedOut:
		return fail(fmt.Sprintf("Template ran script %s with arguments %q on change but it timed out after %v", cs.Command, cs.Args, timeout))
	case err != nil:
		return fail(fmt.Sprintf("Template failed to run script %s with arguments %q: %v", cs.Command, cs.Args, err))
	case res.ExitCode != 0:
		out := strings.TrimSpace(string(res.Stdout) + "\n" + string(res.Stderr))
		if len(out) > maxScriptOutput {
			out = out[:maxScriptOutput] + "…"
		}
		msg := fmt.Sprintf("Template ran script %s with arguments %q on change but it exited with code %d", cs.Command, cs.Args, res.ExitCode)
		if out != "" {
			msg += ": " + out
		}
		return fail(msg)
	}
	tr.emit(EventHookMessage, fmt.Sprintf("Template successfully ran script %s with arguments %q. Exit code: 0", cs.Command, cs.Args))
	return true
}

// failAndKill kills the task and marks it failed, as Nomad's template
// manager does when a template or its script fails at run time.
func (tr *taskRunner) failAndKill(reason string) {
	// Killed first, so that the kill carries this reason rather than
	// the allocation's "a task of the allocation failed".
	tr.kill(reason)
	tr.update(func(st *cluster.TaskState) { st.Failed = true })
}
