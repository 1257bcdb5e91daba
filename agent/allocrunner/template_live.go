package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/droverhq/drover/workloadid"
)

// Live template data (issue 16): the functions nomadVar, nomadVarList,
// nomadVarExists, nomadService and nomadServices read the servers'
// variables and service catalog, with consul-template's names and
// shapes, so that Nomad templates work unchanged.
//
// Each distinct dependency a task's templates read (a variable path, a
// prefix, a service name with its choose argument) gets one watcher: a
// goroutine that runs blocking queries against the servers with the
// task's default workload identity and keeps the last answer. All the
// task's templates share it. When an answer differs from the previous
// one the watcher wakes the task's template loop (the same signal as
// Runner.TemplatesChanged), which renders again after wait and applies
// change_mode. Watchers live as long as the task runner's run loop.
//
// A template that reads a variable that does not exist (or data the
// servers have not answered yet) cannot render: at start the task waits,
// with a "Missing: nomad.var.block(...)" event, until the data exists,
// as Nomad's does; while the task runs, its last rendered file stays.

// Kinds of live dependency.
const (
	LiveVar      = "var"      // one variable: *LiveVariable, nil when missing
	LiveVarList  = "varlist"  // variables under a prefix: []LiveVarMeta
	LiveService  = "service"  // a service's healthy instances: []LiveServiceEntry
	LiveServices = "services" // the namespace's services: []LiveServiceStub
)

// LiveDep is one piece of live data a template reads.
type LiveDep struct {
	Kind      string
	Namespace string
	// Key is the variable path, the prefix, or the service name.
	Key string
	// Choose is a service query's "<n>|<key>" (nomadService's choose
	// form), else empty.
	Choose string
}

// String is the dependency as Nomad's events name it.
func (d LiveDep) String() string {
	switch d.Kind {
	case LiveVar:
		return fmt.Sprintf("nomad.var.block(%s@%s)", d.Key, d.Namespace)
	case LiveVarList:
		return fmt.Sprintf("nomad.var.list(%s@%s)", d.Key, d.Namespace)
	case LiveService:
		if d.Choose != "" {
			return fmt.Sprintf("nomad.service(%s@%s, choose %s)", d.Key, d.Namespace, d.Choose)
		}
		return fmt.Sprintf("nomad.service(%s@%s)", d.Key, d.Namespace)
	}
	return fmt.Sprintf("nomad.services(@%s)", d.Namespace)
}

// LiveVariable is a variable as the servers answer it.
type LiveVariable struct {
	Namespace, Path          string
	CreateIndex, ModifyIndex uint64
	Items                    map[string]string
}

// LiveVarMeta is one entry of nomadVarList (consul-template's
// NomadVarMeta).
type LiveVarMeta struct {
	Namespace, Path          string
	CreateIndex, ModifyIndex uint64
}

// String is what `{{ . }}` prints for a list entry: its path.
func (m LiveVarMeta) String() string { return m.Path }

// LiveServiceEntry is one instance of a service (consul-template's
// NomadService).
type LiveServiceEntry struct {
	ID, Name, Namespace, Node, Datacenter, JobID, AllocID string
	Address                                               string
	Port                                                  int
	Tags                                                  ServiceTags
	Meta                                                  map[string]string
}

// ServiceTags are a service's tags; Contains is consul-template's.
type ServiceTags []string

// Contains reports whether the tags include tag.
func (t ServiceTags) Contains(tag string) bool {
	for _, x := range t {
		if x == tag {
			return true
		}
	}
	return false
}

// LiveServiceStub is one service of nomadServices.
type LiveServiceStub struct {
	Name string
	Tags ServiceTags
}

// String is what `{{ . }}` prints for a service stub: its name.
func (s LiveServiceStub) String() string { return s.Name }

// LiveSource answers one query about live data: at once when waitIndex
// is 0, else as a blocking query that answers once the data's index
// passes waitIndex (or after the server's wait). token is the task's
// workload identity ("" for none). The value is of the kind's type.
type LiveSource interface {
	LiveQuery(ctx context.Context, token string, d LiveDep, waitIndex uint64) (value any, index uint64, err error)
}

// VarItems is what nomadVar returns: the variable's items by key
// (consul-template's NomadVarItems), so that `{{ .password }}` and
// `{{ range $k, $v := nomadVar "p" }}` work.
type VarItems map[string]VarItem

// VarItem is one item; it prints as its value.
type VarItem struct {
	Key, Value string
	meta       LiveVarMeta
}

func (v VarItem) String() string { return v.Value }

// Keys returns the items' keys, sorted.
func (v VarItems) Keys() []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Values returns the items' values sorted by key.
func (v VarItems) Values() []string {
	out := make([]string, 0, len(v))
	for _, k := range v.Keys() {
		out = append(out, v[k].Value)
	}
	return out
}

// Tuples returns the items as {K, V} sorted by key:
// `{{ range .Tuples }}{{ .K }}={{ .V }}{{ end }}`.
func (v VarItems) Tuples() []struct{ K, V string } {
	out := make([]struct{ K, V string }, 0, len(v))
	for _, k := range v.Keys() {
		out = append(out, struct{ K, V string }{K: k, V: v[k].Value})
	}
	return out
}

// ItemsMap returns the items as a plain map (nil when empty).
func (v VarItems) ItemsMap() map[string]any {
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, it := range v {
		out[k] = it.Value
	}
	return out
}

// Metadata returns the variable's path and indexes.
func (v VarItems) Metadata() LiveVarMeta {
	for _, it := range v {
		return it.meta
	}
	return LiveVarMeta{}
}

// Bounds of live template data.
const (
	// maxLiveDeps bounds the watchers of one task: a template that
	// ranges over thousands of paths must not open thousands of
	// blocking queries.
	maxLiveDeps = 64
	// liveFirstWait is how long a render waits for a new watcher's
	// first answer before it reports the data missing.
	liveFirstWait = 5 * time.Second
	// Backoff after a failed query, doubling from min to max.
	liveBackoffMin = 250 * time.Millisecond
	liveBackoffMax = 30 * time.Second
)

// errLiveMissing is a render that needs data that is not there (yet).
type errLiveMissing struct {
	dep LiveDep
	err error // the last query error, if any
}

func (e *errLiveMissing) Error() string {
	if e.err != nil {
		return fmt.Sprintf("Missing: %s (the servers answer: %v)", e.dep, e.err)
	}
	return "Missing: " + e.dep.String()
}

// liveData is a task's live template data: its watchers and their last
// answers.
type liveData struct {
	ctx    context.Context
	cancel context.CancelFunc
	src    LiveSource
	ns     string
	token  func(ctx context.Context) (string, error)
	// notify wakes the task's template loop; it must not block.
	notify func()

	mu       sync.Mutex
	watchers map[LiveDep]*liveWatcher
}

// liveWatcher is one dependency's watcher and its last answer.
type liveWatcher struct {
	ready   chan struct{} // closed at the first answer (or error)
	once    sync.Once
	has     bool // value is an answer
	value   any
	lastErr error
}

func newLiveData(ctx context.Context, src LiveSource, ns string, token func(context.Context) (string, error), notify func()) *liveData {
	if ns == "" {
		ns = "default"
	}
	ctx, cancel := context.WithCancel(ctx)
	return &liveData{ctx: ctx, cancel: cancel, src: src, ns: ns, token: token, notify: notify, watchers: map[LiveDep]*liveWatcher{}}
}

// close stops every watcher.
func (l *liveData) close() {
	if l != nil {
		l.cancel()
	}
}

// get returns dependency d's last answer, starting its watcher and
// waiting up to liveFirstWait for its first answer when it is new.
func (l *liveData) get(d LiveDep) (any, error) {
	if l == nil || l.src == nil {
		return nil, fmt.Errorf("%s: this agent cannot read live data from the servers", d)
	}
	l.mu.Lock()
	w := l.watchers[d]
	if w == nil {
		if len(l.watchers) >= maxLiveDeps {
			l.mu.Unlock()
			return nil, fmt.Errorf("%s: the task's templates read more than %d distinct variables and services; read a prefix with nomadVarList instead", d, maxLiveDeps)
		}
		w = &liveWatcher{ready: make(chan struct{})}
		l.watchers[d] = w
		go l.watch(d, w)
	}
	l.mu.Unlock()
	t := time.NewTimer(liveFirstWait)
	defer t.Stop()
	select {
	case <-w.ready:
	case <-t.C:
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !w.has {
		return nil, &errLiveMissing{dep: d, err: w.lastErr}
	}
	return w.value, nil
}

// watch runs blocking queries for d until the task's run loop ends.
func (l *liveData) watch(d LiveDep, w *liveWatcher) {
	var index uint64
	backoff := liveBackoffMin
	for l.ctx.Err() == nil {
		tok, err := l.token(l.ctx)
		var v any
		var next uint64
		if err == nil {
			v, next, err = l.src.LiveQuery(l.ctx, tok, d, index)
		}
		if l.ctx.Err() != nil {
			return
		}
		if err != nil {
			l.mu.Lock()
			w.lastErr = err
			l.mu.Unlock()
			w.once.Do(func() { close(w.ready) })
			// Jittered, so that the watchers of many tasks do not hit a
			// recovering server at once.
			t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
				return
			}
			backoff = min(2*backoff, liveBackoffMax)
			continue
		}
		backoff = liveBackoffMin
		if next < index {
			// The index went back (a restored snapshot): start over, as
			// Consul's clients do.
			next = 0
		}
		index = next
		l.mu.Lock()
		changed := !w.has || !reflect.DeepEqual(w.value, v)
		w.has, w.value, w.lastErr = true, v, nil
		l.mu.Unlock()
		w.once.Do(func() { close(w.ready) })
		// The first answer too: a start may be waiting for it.
		if changed {
			l.notify()
		}
		if index == 0 {
			// A source without indexes: do not spin.
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// funcs are the live template functions reading through l.
func (l *liveData) funcs() template.FuncMap {
	return template.FuncMap{
		"nomadVar": func(path string) (VarItems, error) {
			v, err := l.variable(path)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, &errLiveMissing{dep: LiveDep{Kind: LiveVar, Namespace: l.nsName(), Key: path}}
			}
			meta := LiveVarMeta{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex}
			out := make(VarItems, len(v.Items))
			for k, val := range v.Items {
				out[k] = VarItem{Key: k, Value: val, meta: meta}
			}
			return out, nil
		},
		"nomadVarExists": func(path string) (bool, error) {
			v, err := l.variable(path)
			return v != nil, err
		},
		"nomadVarList": func(prefix ...string) ([]LiveVarMeta, error) {
			p := ""
			if len(prefix) > 0 {
				p = prefix[0]
			}
			ns, p := l.splitNS(p)
			v, err := l.get(LiveDep{Kind: LiveVarList, Namespace: ns, Key: p})
			if err != nil {
				return nil, err
			}
			list, _ := v.([]LiveVarMeta)
			return list, nil
		},
		"nomadService": func(args ...any) ([]LiveServiceEntry, error) {
			d, err := serviceDep(l.nsName(), args)
			if err != nil {
				return nil, err
			}
			tag, name, ns, ok := parseServiceSpec(d.Key)
			if !ok {
				return nil, fmt.Errorf("nomadService: %q: want <name>, <tag>.<name>, or either with ?ns=<namespace> and @<region>", d.Key)
			}
			d.Key = name
			if ns != "" {
				d.Namespace = ns
			}
			v, err := l.get(d)
			if err != nil {
				return nil, err
			}
			list, _ := v.([]LiveServiceEntry)
			if tag == "" {
				return list, nil
			}
			out := []LiveServiceEntry{}
			for _, e := range list {
				if e.Tags.Contains(tag) {
					out = append(out, e)
				}
			}
			return out, nil
		},
		"nomadServices": func() ([]LiveServiceStub, error) {
			v, err := l.get(LiveDep{Kind: LiveServices, Namespace: l.nsName()})
			if err != nil {
				return nil, err
			}
			list, _ := v.([]LiveServiceStub)
			return list, nil
		},
	}
}

func (l *liveData) nsName() string {
	if l == nil || l.ns == "" {
		return "default"
	}
	return l.ns
}

// splitNS reads consul-template's "path@namespace.region" form of a
// variable path (there is one region); without it the task's namespace.
func (l *liveData) splitNS(key string) (ns, rest string) {
	if i := strings.LastIndexByte(key, '@'); i >= 0 && i < len(key)-1 {
		ns, _, _ = strings.Cut(key[i+1:], ".")
		return ns, key[:i]
	}
	return l.nsName(), key
}

// serviceSpecRe is consul-template's nomadService query:
// "<tag>.<name>?ns=<namespace>@<region>", all but the name optional.
// Compiled on first use, not at init: every exec task's shim is this
// binary, and runs every package's init before it starts its task.
var serviceSpecRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\A(?:([[:word:]=:\-./]+)\.)?([[:word:]\-]+)(?:\?ns=([[:word:]\-]+))?(?:@([[:word:]\-]+))?\z`)
})

// parseServiceSpec splits a nomadService query; ns is empty when the
// query names none (the task's namespace).
func parseServiceSpec(s string) (tag, name, ns string, ok bool) {
	m := serviceSpecRe().FindStringSubmatch(s)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

func (l *liveData) variable(path string) (*LiveVariable, error) {
	ns, p := l.splitNS(path)
	v, err := l.get(LiveDep{Kind: LiveVar, Namespace: ns, Key: p})
	if err != nil {
		return nil, err
	}
	lv, _ := v.(*LiveVariable)
	return lv, nil
}

// serviceDep reads nomadService's arguments: "name", or the choose form
// N "key" "name" (N instances picked by rendezvous hashing on key).
func serviceDep(ns string, args []any) (LiveDep, error) {
	d := LiveDep{Kind: LiveService, Namespace: ns}
	switch len(args) {
	case 1:
		name, ok := args[0].(string)
		if !ok || name == "" {
			return d, fmt.Errorf("nomadService: want a service name, got %v", args[0])
		}
		d.Key = name
	case 3:
		n, okN := toInt(args[0])
		key, okK := args[1].(string)
		name, okName := args[2].(string)
		if !okN || n < 1 || !okK || key == "" || !okName || name == "" {
			return d, errors.New(`nomadService: want nomadService "name" or nomadService <count> "<key>" "name", e.g. nomadService 2 (env "NOMAD_ALLOC_ID") "api"`)
		}
		d.Key, d.Choose = name, fmt.Sprintf("%d|%s", n, key)
	default:
		return d, fmt.Errorf(`nomadService: want 1 or 3 arguments, got %d: nomadService "name" or nomadService <count> "<key>" "name"`, len(args))
	}
	return d, nil
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case string:
		var i int
		_, err := fmt.Sscanf(n, "%d", &i)
		return i, err == nil
	}
	return 0, false
}

// identityToken returns a function giving the task's default workload
// identity, fetched from the servers on first need and again when it
// nears its expiry.
func (tr *taskRunner) identityToken() func(ctx context.Context) (string, error) {
	var mu sync.Mutex
	var jwt string
	var exp time.Time
	var fetched bool
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		fetch := tr.ar.cfg.Identities
		if fetch == nil {
			return "", nil // a local agent without servers' identities: the agent's own token
		}
		if fetched && (exp.IsZero() || time.Until(exp) > time.Minute) {
			return jwt, nil
		}
		ids, err := fetch(ctx, tr.ar.id, []string{tr.task.Name})
		if err != nil {
			return "", fmt.Errorf("fetch the task's workload identity: %w", err)
		}
		for _, id := range ids {
			if id.Name == workloadid.DefaultName && (id.Task == "" || id.Task == tr.task.Name) {
				jwt, exp, fetched = id.JWT, id.Expiration, true
				return jwt, nil
			}
		}
		return "", errors.New("the servers signed no default workload identity for the task")
	}
}

// startLive makes the task's live data, whose watchers stop when the
// returned function is called (the run loop ends).
func (tr *taskRunner) startLive(ctx context.Context) func() {
	if tr.ar.cfg.Live == nil || len(tr.task.Templates) == 0 {
		return func() {}
	}
	ns := ""
	if tr.ar.cfg.Job != nil {
		ns = tr.ar.cfg.Job.Namespace
	}
	l := newLiveData(ctx, tr.ar.cfg.Live, ns, tr.identityToken(), func() {
		select {
		case tr.templateNotify() <- struct{}{}:
		default:
		}
	})
	tr.mu.Lock()
	tr.tmpl.live = l
	tr.mu.Unlock()
	return l.close
}

func (tr *taskRunner) liveData() *liveData {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.tmpl.live
}

// renderWaitingForData renders the task's templates for a start, and
// while they need live data that is missing, waits for it with one
// event per distinct reason, as Nomad's template hook does. It returns
// an error when the task is killed or the agent stops meanwhile.
func (tr *taskRunner) renderWaitingForData(render func() (*renderedSet, error)) (*renderedSet, error) {
	l := tr.liveData()
	var last string
	for {
		rs, err := render()
		var miss *errLiveMissing
		if err == nil || l == nil || !errors.As(err, &miss) {
			return rs, err
		}
		if msg := miss.Error(); msg != last {
			last = msg
			tr.emit(EventHookMessage, "Template "+msg)
		}
		select {
		case <-tr.templateNotify():
		case <-time.After(liveBackoffMax):
		case <-tr.killC:
			return nil, fmt.Errorf("task killed while its templates waited for data: %w", err)
		case <-l.ctx.Done():
			return nil, fmt.Errorf("agent stopping while the task's templates waited for data: %w", err)
		}
	}
}
