package allocrunner

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"syscall"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/workloadid"
)

// A task the agent re-attached to after a restart was started by the
// previous agent: what start built for it (the state its templates are
// re-rendered from, its environment for script checks and actions, its
// workload identities and their renewal) died with that agent. Nomad
// runs its template and identity hooks again on restore; reattach does
// the same here, without starting or restarting anything:
//
//   - templates: the files on disk are the baseline (Nomad compares
//     with them too); a template without a file (env = true, no
//     destination) is compared with the digest of its last render the
//     agent kept in its local state (saveEnvSums). The templates are
//     rendered again at once, with
//     live data; a template whose text differs from its file is written
//     and its change_mode applied, as when its data changes while the
//     agent runs. The watchers of nomadVar and nomadService start with
//     that render, so later changes re-render as before the restart.
//   - identities: fresh tokens are fetched once (reattachIdentities),
//     then renewal goes on as for a started task.

// maxRestoredTemplate bounds how much of a rendered file the agent reads
// back after a restart. The task may write its files: a bigger one (or
// one that is not a regular file) counts as changed, so the next render
// replaces it.
const maxRestoredTemplate = 16 << 20

// restoredText is what template i's destination held when the agent
// re-attached: the baseline its first render after the restart is
// compared with. Nil once that render happened.
type restoredText struct {
	// adopt: there is nothing to compare with (an env = true template
	// without a destination whose digest the agent did not keep: an
	// agent from before template digests ran the task). The first
	// render is taken as the task's text and applies no change_mode.
	adopt bool
	// gone: the file is missing, unreadable, too big or not a regular
	// file; the first render writes it and counts as a change.
	gone bool
	sum  [sha256.Size]byte
	// key, for a template without a file: sum is the HMAC-SHA256 of
	// its last render under key, from the agent's local state.
	key []byte
}

// same reports whether text is what the file held (or, without a
// file, what the last render before the restart was).
func (b *restoredText) same(text string) bool {
	if b.adopt {
		return true
	}
	if b.key != nil {
		return hmac.Equal(textMAC(b.key, text), b.sum[:])
	}
	return !b.gone && sha256.Sum256([]byte(text)) == b.sum
}

// textMAC is the digest of a rendered text kept in the local state.
func textMAC(key []byte, text string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return m.Sum(nil)
}

// envOnly reports whether template t (its destination interpolated:
// dest) lives only in the task's environment: no file holds its text.
func envOnly(t jobspec.Template, dest string) bool { return t.Env && dest == "" }

// envSums are the digests of the last render of ts's env-only
// templates, under a new random key; nil when it has none.
func envSums(ts *taskTemplates) (*localstate.TemplateSums, error) {
	var s *localstate.TemplateSums
	for i, t := range ts.tmpls {
		if !envOnly(t, ts.r.Interpolate(t.Destination)) {
			continue
		}
		if s == nil {
			s = &localstate.TemplateSums{Key: make([]byte, sha256.Size), Sums: make([][]byte, len(ts.tmpls))}
			if _, err := rand.Read(s.Key); err != nil {
				return nil, err
			}
		}
		s.Sums[i] = textMAC(s.Key, ts.texts[i])
	}
	return s, nil
}

// saveEnvSums keeps the digests of ts's env-only templates' last
// render in the agent's local state, for the comparison after an agent
// restart (restoreTemplates). Called after a render at start and after
// a re-render's change_mode was applied: a digest saved before the
// change_mode and an agent stopped in between would hide the change
// from the next agent. A failure to save costs only that comparison.
func (tr *taskRunner) saveEnvSums(ts *taskTemplates) {
	ts.unsaved = false
	s, err := envSums(ts)
	if err == nil && s != nil {
		err = tr.ar.cfg.DB.PutTemplateSums(tr.ar.id, tr.task.Name, s)
	}
	if err != nil {
		tr.log.Warn("keep the digests of the env = true templates; after an agent restart their first render will apply no change_mode", "err", err)
	}
}

// taskPaths returns a task's directories as buildTask made them, and
// creates or changes nothing: a re-attached task's directories are in
// use. A symbolic link on the way is refused, as buildTask refuses it.
func (d allocDir) taskPaths(name string) (taskDirs, error) {
	var dirs taskDirs
	if err := checkTaskName(name); err != nil {
		return dirs, err
	}
	dirs.Alloc = d.shared()
	for _, m := range []struct {
		dst *string
		rel string
	}{
		{&dirs.Task, name},
		{&dirs.Local, name + "/local"},
		{&dirs.Secrets, name + "/secrets"},
		{&dirs.Tmp, name + "/tmp"},
		{&dirs.State, ".state/" + name},
	} {
		p, err := d.path(m.rel)
		if err != nil {
			return dirs, err
		}
		*m.dst = p
	}
	return dirs, nil
}

// reattach rebuilds what start built for the run the agent has just
// re-attached to (Recover succeeded). It does not block on the servers:
// the render and the identity fetch happen in the run's watchers
// (watchTemplates, renewIdentities), which wait starts.
func (tr *taskRunner) reattach() {
	ar, t := tr.ar, tr.task
	dirs, err := ar.dir.taskPaths(t.Name)
	if err != nil {
		tr.log.Warn("re-attached task: its directories", "err", err)
		tr.emit(EventHookFailed, fmt.Sprintf("After the agent restarted: %v; the task runs on, but its templates are not rendered again and its workload identities not renewed until it restarts: fix the directory, or stop the allocation to have it placed again", err))
		return
	}
	in := taskenv.Input{Alloc: ar.Alloc(), Job: ar.cfg.Job, Group: ar.group, Task: t, Node: ar.cfg.Node, Dirs: dirs.Dirs, IP: ar.cfg.IP}
	env := taskenv.Build(in, nil)
	execEnv := env
	if len(t.Templates) > 0 {
		sums, err := ar.cfg.DB.TemplateSums(ar.id, t.Name)
		if err != nil {
			tr.log.Warn("re-attached task: the digests of its env = true templates; their first render applies no change_mode", "err", err)
		}
		ts, tenv := restoreTemplates(t.Templates, dirs.Dirs, env, taskenv.NewResolver(in, env), tr.liveData(), sums)
		execEnv = taskenv.Build(in, tenv)
		tr.mu.Lock()
		tr.tmpl.cur = ts
		tr.mu.Unlock()
		// Render at once (after each template's wait), as Nomad's
		// template hook does on restore.
		select {
		case tr.templateNotify() <- struct{}{}:
		default:
		}
	}
	tr.mu.Lock()
	tr.execEnv, tr.execDir = execEnv, dirs.Task
	tr.identities, tr.secretsDir = nil, dirs.Secrets
	tr.reattachIDs = workloadid.Exposed(t)
	tr.mu.Unlock()
}

// restoreTemplates is the render state of a re-attached task's
// templates: each destination's content as the baseline of the next
// render (for an env-only template, the digest in sums, from the local
// state; nil when none was kept), and the variables of the env = true
// templates as their files hold them (for script checks and actions;
// the task's own environment cannot change).
func restoreTemplates(tmpls []jobspec.Template, dirs taskenv.Dirs, env map[string]string, r *taskenv.Resolver, live *liveData, sums *localstate.TemplateSums) (*taskTemplates, map[string]string) {
	ts := &taskTemplates{
		tmpls: tmpls, dirs: dirs, env: env, r: r, live: live,
		texts: make([]string, len(tmpls)), restored: make([]*restoredText, len(tmpls)),
	}
	tenv := map[string]string{}
	for i, t := range tmpls {
		dest := r.Interpolate(t.Destination)
		if envOnly(t, dest) {
			// Digests of another list of templates (a record from
			// another job version) say nothing about these.
			if sums != nil && len(sums.Sums) == len(tmpls) && len(sums.Sums[i]) == sha256.Size && len(sums.Key) > 0 {
				b := &restoredText{key: sums.Key}
				copy(b.sum[:], sums.Sums[i])
				ts.restored[i] = b
			} else {
				ts.restored[i] = &restoredText{adopt: true}
				ts.unsaved = true
			}
			continue
		}
		if dest == "" {
			ts.restored[i] = &restoredText{adopt: true}
			continue
		}
		b, err := readRendered(dirs.Task, dest)
		if err != nil {
			ts.restored[i] = &restoredText{gone: true}
			continue
		}
		ts.restored[i] = &restoredText{sum: sha256.Sum256(b)}
		if t.Env {
			if vars, err := parseEnvFile(string(b)); err == nil {
				maps.Copy(tenv, vars)
			}
		}
	}
	return ts, tenv
}

// readRendered reads a template's destination in the task directory:
// a regular file of at most maxRestoredTemplate bytes, opened without
// following a final symbolic link and without blocking on a FIFO the
// task may have put there.
func readRendered(taskDir, dest string) ([]byte, error) {
	p, err := within(taskDir, dest)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(p))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRestoredTemplate+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRestoredTemplate {
		return nil, errors.New("too big to compare")
	}
	return b, nil
}

// reattachIdentities gives a re-attached task fresh workload identities
// and returns them for renewal to go on from; false when it cannot
// (the event says why).
//
// Fresh tokens, always, rather than the ones the task has: the agent
// keeps no token in its state (they are credentials), and the token
// files are the task's to write, so their expiry cannot be trusted to
// schedule the renewal. It costs one signing request per task and agent
// restart. A file identity with a ttl is rewritten and its change_mode
// applied, as at a renewal: the task's token may expire before the next
// one (so is the change_mode of a variable identity with a ttl and
// change_mode = "restart"). A file identity without a ttl never expires
// and keeps its file (rewritten only when it is gone). The environment
// of script checks and actions gets the fresh tokens; the task's own
// keeps its. False too when the change_mode restarts the task.
func (tr *taskRunner) reattachIdentities(ctx context.Context, h *drivers.TaskHandle) ([]SignedIdentity, bool) {
	fresh, err := tr.fetchIdentities(ctx)
	if err != nil {
		if ctx.Err() == nil {
			tr.emit(EventHookFailed, "Workload identities not renewed after the agent restarted: "+err.Error()+"; the task keeps the tokens it has until they expire; its next start (or a new allocation of the job) gets fresh ones")
		}
		return nil, false
	}
	tr.mu.Lock()
	dir := tr.secretsDir
	tr.mu.Unlock()
	expose := make([]SignedIdentity, 0, len(fresh))
	for _, id := range fresh {
		if id.File && id.Expiration.IsZero() {
			if _, err := os.Lstat(filepath.Join(dir, workloadid.FileName(id.Name))); err == nil {
				id.File = false
			}
		}
		expose = append(expose, id)
	}
	env, err := exposeIdentities(dir, tr.task.User, expose)
	if err != nil {
		tr.emit(EventHookFailed, "Workload identities not renewed after the agent restarted: "+err.Error())
		return nil, false
	}
	tr.mu.Lock()
	all := maps.Clone(tr.execEnv)
	maps.Copy(all, env)
	tr.execEnv = all
	tr.identities = fresh
	tr.mu.Unlock()
	if renewed := renewedIdentities(tr.task.Identities, fresh); len(renewed) > 0 && !tr.applyIdentityChange(ctx, h, renewed) {
		return nil, false
	}
	return fresh, true
}

// takeReattachIDs reports, once, that the current run was re-attached
// and its identities must be fetched before renewal goes on.
func (tr *taskRunner) takeReattachIDs() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := tr.reattachIDs
	tr.reattachIDs = false
	return r
}
