package allocrunner

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/workloadid"
)

// SignedIdentity is one workload identity the servers signed for a task,
// and how the task receives it.
type SignedIdentity struct {
	Task, Name, JWT string
	Env, File       bool
	// Expiration is when the token expires; zero for none (no ttl).
	Expiration time.Time
}

// IdentityFetcher asks the servers for the signed identities of an
// allocation's tasks (the agent's node secret authenticates it).
type IdentityFetcher func(ctx context.Context, allocID string, tasks []string) ([]SignedIdentity, error)

// identityAttempts bounds the tries to fetch a task's identities before
// its start fails: the servers may be changing leaders.
const identityAttempts = 5

// validIdentityName is Nomad's rule for identity names: they become file
// and variable names.
var validIdentityName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// fetchIdentities fetches the task's identities when one of its identity
// blocks asks for env or file; otherwise it asks for nothing (the
// implicit default identity is signed only on demand).
func (tr *taskRunner) fetchIdentities(ctx context.Context) ([]SignedIdentity, error) {
	if !workloadid.Exposed(tr.task) {
		return nil, nil
	}
	fetch := tr.ar.cfg.Identities
	if fetch == nil {
		return nil, fmt.Errorf("task %q has identity blocks, but this agent cannot fetch workload identities", tr.task.Name)
	}
	var last error
	for attempt := range identityAttempts {
		ids, err := fetch(ctx, tr.ar.id, []string{tr.task.Name})
		if err == nil {
			return ids, nil
		}
		last = err
		tr.log.Warn("could not fetch the task's workload identities; retrying", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
	return nil, fmt.Errorf("fetch workload identities from the servers: %w", last)
}

// exposeIdentities writes the identities with file = true into the
// task's secrets directory and returns the environment variables of
// those with env = true: NOMAD_TOKEN and secrets/nomad_token for the
// default identity, NOMAD_TOKEN_<name> and secrets/nomad_<name>.jwt for
// the others.
//
// A token file is 0600 and owned by the task's user when the agent knows
// that user (the task's user, the agent running as root) or runs as the
// task's user itself. Otherwise (an exec task of the driver's default
// user, which the driver sets only at start) the file is 0644: the
// secrets directory, 0700 and handed to the task's user by the driver,
// is what keeps other users out.
func exposeIdentities(secretsDir, taskUser string, ids []SignedIdentity) (map[string]string, error) {
	env := map[string]string{}
	uid, gid := -1, -1
	mode := os.FileMode(0o600)
	if os.Geteuid() == 0 {
		mode = 0o644
		if u, err := user.Lookup(taskUser); taskUser != "" && err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
			mode = 0o600
		}
	}
	for _, id := range ids {
		if !validIdentityName.MatchString(id.Name) {
			return nil, fmt.Errorf("identity name %q: want letters, digits, _ and - only", id.Name)
		}
		if id.Env {
			env[workloadid.EnvName(id.Name)] = id.JWT
		}
		if !id.File {
			continue
		}
		// The name is one plain component (checked above), so the file
		// is directly in secretsDir. If the task planted a symbolic link
		// under that name, securejoin resolves it inside the directory;
		// the write does not follow it either way: the rename replaces
		// the link itself.
		path := filepath.Join(secretsDir, workloadid.FileName(id.Name))
		if _, err := securejoin.SecureJoin(secretsDir, workloadid.FileName(id.Name)); err != nil {
			return nil, fmt.Errorf("identity %s: %w", id.Name, err)
		}
		if err := writeSecretFile(path, []byte(id.JWT), mode, uid, gid); err != nil {
			return nil, fmt.Errorf("identity %s: %w", id.Name, err)
		}
	}
	return env, nil
}

// writeSecretFile replaces path with data: a new file in the same
// directory, its mode and owner set before the rename, so the token is
// never readable with looser permissions, even for a moment.
func writeSecretFile(path string, data []byte, mode os.FileMode, uid, gid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".identity-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if uid != -1 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// withIdentities gives a prepared task its workload identities: the
// files in its secrets directory and the variables in its environment
// (and in the environment script checks and actions run with). On error
// it returns the event type to report.
func (tr *taskRunner) withIdentities(ctx context.Context, cfg *drivers.TaskConfig) (string, error) {
	ids, err := tr.fetchIdentities(ctx)
	if err != nil {
		return EventSetupFailure, err
	}
	if len(ids) == 0 {
		return "", nil
	}
	env, err := exposeIdentities(cfg.SecretsDir, tr.task.User, ids)
	if err != nil {
		return EventSetupFailure, err
	}
	tr.mu.Lock()
	tr.identities, tr.secretsDir = ids, cfg.SecretsDir
	tr.mu.Unlock()
	// A new map: script checks may be reading the one prepare made.
	all := maps.Clone(cfg.Env)
	maps.Copy(all, env)
	cfg.Env = all
	tr.mu.Lock()
	tr.execEnv = all
	tr.mu.Unlock()
	return "", nil
}

// renewIdentities keeps the task's identities that have a ttl fresh
// while run h lives (ctx): halfway to a token's expiry it fetches new
// tokens and rewrites the files, then applies the renewed identities'
// change_mode (Nomad's: "noop", the default; "signal" with
// change_signal; "restart", which stops the run for the run loop to
// start it again at once with fresh tokens, not counted against the
// restart policy, as a template's restart). A variable (env = true)
// cannot change in a running process: it keeps the token the task
// started with, so it is renewed only when its identity restarts the
// task (the next run gets a fresh token in its environment).
func (tr *taskRunner) renewIdentities(ctx context.Context, h *drivers.TaskHandle) {
	tr.mu.Lock()
	ids := tr.identities
	tr.mu.Unlock()
	if tr.takeReattachIDs() { // reattach.go: the previous agent started the run
		var ok bool
		if ids, ok = tr.reattachIdentities(ctx, h); !ok {
			return
		}
	}
	for {
		next := nextRenewal(tr.task.Identities, ids, tr.ar.now())
		if next.IsZero() {
			return
		}
		t := time.NewTimer(max(next.Sub(tr.ar.now()), time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fresh, err := tr.fetchIdentities(ctx)
		if err != nil {
			if ctx.Err() == nil {
				tr.emit(EventHookFailed, "Workload identity renewal failed: "+err.Error())
			}
			return
		}
		var files []SignedIdentity
		for _, id := range fresh {
			if id.File {
				id.Env = false
				files = append(files, id)
			}
		}
		tr.mu.Lock()
		dir := tr.secretsDir
		tr.mu.Unlock()
		if _, err := exposeIdentities(dir, tr.task.User, files); err != nil {
			tr.emit(EventHookFailed, "Workload identity renewal failed: "+err.Error())
			return
		}
		ids = fresh
		if !tr.applyIdentityChange(ctx, h, renewedIdentities(tr.task.Identities, fresh)) {
			return
		}
	}
}

// identityBlock is the identity block named name; ok=false when the task
// has none (the servers signed an identity the job no longer declares).
func identityBlock(blocks []jobspec.WorkloadIdentity, name string) (jobspec.WorkloadIdentity, bool) {
	for _, wi := range blocks {
		n := wi.Name
		if n == "" {
			n = workloadid.DefaultName
		}
		if n == name {
			return wi, true
		}
	}
	return jobspec.WorkloadIdentity{}, false
}

// renews reports whether signed identity id, of block wi, is renewed
// before it expires: it expires, and the task can see a new token: in
// its file, or in its environment when the identity restarts the task.
func renews(wi jobspec.WorkloadIdentity, id SignedIdentity) bool {
	return !id.Expiration.IsZero() && (id.File || id.Env && wi.ChangeMode == "restart")
}

// nextRenewal is when the next of ids is due for renewal: halfway from
// now to its expiry. Zero when none is renewed.
func nextRenewal(blocks []jobspec.WorkloadIdentity, ids []SignedIdentity, now time.Time) (next time.Time) {
	for _, id := range ids {
		if wi, _ := identityBlock(blocks, id.Name); !renews(wi, id) {
			continue
		}
		at := now.Add(id.Expiration.Sub(now) / 2)
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// renewedIdentities names the identities of fresh that a renewal renews
// (whose change_mode applies), in order.
func renewedIdentities(blocks []jobspec.WorkloadIdentity, fresh []SignedIdentity) []string {
	var names []string
	for _, id := range fresh {
		if wi, _ := identityBlock(blocks, id.Name); renews(wi, id) {
			names = append(names, id.Name)
		}
	}
	return names
}

// identityPlan is what renewed identities ask for, by the rules a
// template's changes follow (planChanges): a restart if any says
// restart, and nothing else then; otherwise each signal.
type identityPlan struct {
	// restart names the first identity that asked for a restart.
	restart string
	signals []identitySignal
}

type identitySignal struct{ name, signal string }

// planIdentityChange decides what the renewal of identities renewed
// (names) asks for.
func planIdentityChange(blocks []jobspec.WorkloadIdentity, renewed []string) identityPlan {
	var p identityPlan
	for _, name := range renewed {
		wi, ok := identityBlock(blocks, name)
		if !ok {
			continue
		}
		switch wi.ChangeMode {
		case "restart":
			if p.restart == "" {
				p.restart = name
			}
		case "signal":
			p.signals = append(p.signals, identitySignal{name, wi.ChangeSignal})
		}
	}
	if p.restart != "" {
		p.signals = nil
	}
	return p
}

// applyIdentityChange applies the change_mode of the task's renewed
// identities (names). It returns false when it stopped run h for a
// restart: the run loop starts the task again, with fresh tokens, and
// counts the restart in the task's restarts but not against its
// restart policy (templateRestarted).
func (tr *taskRunner) applyIdentityChange(ctx context.Context, h *drivers.TaskHandle, renewed []string) bool {
	p := planIdentityChange(tr.task.Identities, renewed)
	d := tr.ar.driverFor(tr.task)
	if p.restart != "" {
		tr.mu.Lock()
		tr.tmpl.restart = true
		tr.tmpl.restartMsg = fmt.Sprintf("Workload identity %q with change_mode restart renewed; task restarting now", p.restart)
		tr.mu.Unlock()
		tr.emit(EventRestartSignal, fmt.Sprintf("Workload identity %q with change_mode restart renewed", p.restart))
		if err := d.Stop(ctx, h, "", 0); err != nil && ctx.Err() == nil {
			tr.log.Warn("stop task for a workload identity restart", "err", err)
		}
		return false
	}
	for _, sg := range p.signals {
		s, ok := d.(signaler)
		if !ok {
			tr.emit(EventHookFailed, fmt.Sprintf("Workload identity renewed, but driver %q cannot signal a running task: %s not sent", tr.task.Driver, sg.signal))
			continue
		}
		tr.emit(EventSignaling, fmt.Sprintf("Workload identity %q renewed: sending %s", sg.name, sg.signal))
		if err := s.Signal(ctx, h, sg.signal); err != nil && ctx.Err() == nil {
			tr.emit(EventHookFailed, fmt.Sprintf("Workload identity renewed, but sending %s failed: %v", sg.signal, err))
		}
	}
	return ctx.Err() == nil
}
