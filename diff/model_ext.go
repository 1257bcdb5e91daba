package diff

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/droverhq/drover/jobspec"
)

// The parts of the job specification added for issue 15 (ui, dispatch
// payload, scaling, disconnect, max_run_duration, identities, actions,
// template options, network hostname, service address_mode/on_update):
// their equality and their plan nodes. Forces follow Nomad: what a task
// reads when it starts (identities, payload, deadlines, template options,
// hostname) replaces the allocation; what only the servers or operators
// read (ui, scaling policy, disconnect handling, actions, how a check
// counts) is updated in place.

func jobExtEqual(a, b *jobspec.Job) bool {
	return a.NodePool == b.NodePool && uiEqual(a.UI, b.UI) && string(a.Payload) == string(b.Payload)
}

func groupExtEqual(a, b *jobspec.Group) bool {
	return scalingEqual(a.Scaling, b.Scaling) && disconnectEqual(a.Disconnect, b.Disconnect) &&
		a.MaxRunDuration == b.MaxRunDuration
}

func taskExtEqual(a, b *jobspec.Task) bool {
	if !ptrEqual(a.DispatchPayload, b.DispatchPayload) || a.MaxRunDuration != b.MaxRunDuration ||
		len(a.Identities) != len(b.Identities) || len(a.Actions) != len(b.Actions) ||
		len(a.Templates) != len(b.Templates) {
		return false
	}
	for i := range a.Identities {
		x, y := &a.Identities[i], &b.Identities[i]
		if x.Name != y.Name || !stringsEqual(x.Audience, y.Audience) || x.Env != y.Env || x.File != y.File ||
			x.TTL != y.TTL || x.ChangeMode != y.ChangeMode || x.ChangeSignal != y.ChangeSignal {
			return false
		}
	}
	for i := range a.Actions {
		x, y := &a.Actions[i], &b.Actions[i]
		if x.Name != y.Name || x.Command != y.Command || !stringsEqual(x.Args, y.Args) {
			return false
		}
	}
	for i := range a.Templates {
		if !templateEqual(&a.Templates[i], &b.Templates[i]) {
			return false
		}
	}
	return true
}

// templateEqual compares templates by value: the options added for issue
// 15 hold pointers, which == would compare by address.
func templateEqual(a, b *jobspec.Template) bool {
	x, y := *a, *b
	x.Wait, y.Wait, x.UID, y.UID, x.GID, y.GID, x.ChangeScript, y.ChangeScript = nil, nil, nil, nil, nil, nil, nil, nil
	if x != y || !ptrEqual(a.Wait, b.Wait) || !ptrEqual(a.UID, b.UID) || !ptrEqual(a.GID, b.GID) {
		return false
	}
	if a.ChangeScript == nil || b.ChangeScript == nil {
		return a.ChangeScript == b.ChangeScript
	}
	p, q := a.ChangeScript, b.ChangeScript
	return p.Command == q.Command && stringsEqual(p.Args, q.Args) && p.Timeout == q.Timeout && p.FailOnError == q.FailOnError
}

func uiEqual(a, b *jobspec.JobUI) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Description == b.Description && sliceEqual(a.Links, b.Links)
}

func scalingEqual(a, b *jobspec.Scaling) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Min == b.Min && a.Max == b.Max && a.Enabled == b.Enabled && anyMapEqual(a.Policy, b.Policy)
}

func disconnectEqual(a, b *jobspec.Disconnect) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.LostAfter == b.LostAfter && a.StopOnClientAfter == b.StopOnClientAfter &&
		ptrEqual(a.Replace, b.Replace) && a.Reconcile == b.Reconcile
}

func jobExtNodes(j *jobspec.Job) []*node {
	var ns []*node
	if u := j.UI; u != nil {
		var as attrs
		as.add("Description", "description", u.Description, inPlace)
		var kids []*node
		for _, l := range u.Links {
			var las attrs
			las.add("Label", "label", l.Label, inPlace)
			las.add("URL", "url", l.URL, inPlace)
			k := newNode("Link", listSeg("link", l.Label), inPlace, las)
			k.key = l.Label
			kids = append(kids, k)
		}
		ns = append(ns, newNode("UI", "ui", inPlace, as, uniqueKeys(kids)...))
	}
	if len(j.Payload) > 0 {
		// A payload may be anything, secrets included: the plan shows its
		// size and digest, never its bytes.
		sum := sha256.Sum256(j.Payload)
		var as attrs
		as.add("Size", "size", strconv.Itoa(len(j.Payload)), destructive)
		as.add("SHA256", "sha256", hex.EncodeToString(sum[:]), destructive)
		ns = append(ns, newNode("Payload", "payload", destructive, as))
	}
	return ns
}

func groupExtNodes(g *jobspec.Group, s secrets) []*node {
	var ns []*node
	if sc := g.Scaling; sc != nil {
		var as attrs
		as.add("Min", "min", fmtInt(sc.Min), inPlace)
		as.add("Max", "max", fmtInt(sc.Max), inPlace)
		as.add("Enabled", "enabled", fmtBool(sc.Enabled), inPlace)
		var pol *node
		if len(sc.Policy) > 0 {
			pas := configAttrs(sc.Policy, s)
			for i := range pas {
				pas[i].force = inPlace
			}
			pol = &node{name: "Policy", seg: "policy", attrs: pas, force: inPlace}
		}
		ns = append(ns, newNode("Scaling", "scaling", inPlace, as, pol))
	}
	if d := g.Disconnect; d != nil {
		var as attrs
		as.add("LostAfter", "lost_after", fmtDur(d.LostAfter), inPlace)
		as.add("StopOnClientAfter", "stop_on_client_after", fmtDur(d.StopOnClientAfter), inPlace)
		replace := ""
		if d.Replace != nil {
			replace = fmtBool(*d.Replace)
		}
		as.add("Replace", "replace", replace, inPlace)
		as.add("Reconcile", "reconcile", d.Reconcile, inPlace)
		ns = append(ns, newNode("Disconnect", "disconnect", inPlace, as))
	}
	if g.MaxRunDuration != 0 {
		var as attrs
		as.add("MaxRunDuration", "max_run_duration", fmtDur(g.MaxRunDuration), destructive)
		ns = append(ns, newNode("MaxRunDuration", "max_run_duration", destructive, as))
	}
	return ns
}

// taskExtAttrs is shown only when set, so that plans of jobs without it
// read as before.
func taskExtAttrs(t *jobspec.Task) []attr {
	var as attrs
	if t.MaxRunDuration != 0 {
		as.add("MaxRunDuration", "max_run_duration", fmtDur(t.MaxRunDuration), destructive)
	}
	return as
}

func taskExtNodes(t *jobspec.Task) []*node {
	var ns []*node
	if p := t.DispatchPayload; p != nil {
		var as attrs
		as.add("File", "file", p.File, destructive)
		ns = append(ns, newNode("DispatchPayload", "dispatch_payload", destructive, as))
	}
	var ids []*node
	for _, id := range t.Identities {
		var as attrs
		as.add("Name", "name", id.Name, destructive)
		as.add("Audience", "aud", strings.Join(id.Audience, ", "), destructive)
		as.add("Env", "env", fmtBool(id.Env), destructive)
		as.add("File", "file", fmtBool(id.File), destructive)
		as.add("TTL", "ttl", fmtDur(id.TTL), destructive)
		as.add("ChangeMode", "change_mode", id.ChangeMode, destructive)
		as.add("ChangeSignal", "change_signal", id.ChangeSignal, destructive)
		n := newNode("Identity", listSeg("identity", id.Name), destructive, as)
		n.key = id.Name
		ids = append(ids, n)
	}
	ns = append(ns, uniqueKeys(ids)...)
	var acts []*node
	for _, a := range t.Actions {
		var as attrs
		as.add("Command", "command", a.Command, inPlace)
		for i, arg := range a.Args {
			as.add("Args["+strconv.Itoa(i)+"]", "args["+strconv.Itoa(i)+"]", arg, inPlace)
		}
		n := newNode("Action", listSeg("action", a.Name), inPlace, as)
		n.key = a.Name
		acts = append(acts, n)
	}
	return append(ns, uniqueKeys(acts)...)
}

// templateExtAttrs are a template's issue-15 options, added to its node.
func templateExtAttrs(t *jobspec.Template) []attr {
	var as attrs
	if t.Splay != 0 {
		as.add("Splay", "splay", fmtDur(t.Splay), destructive)
	}
	if t.Wait != nil {
		as.add("WaitMin", "wait.min", fmtDur(t.Wait.Min), destructive)
		as.add("WaitMax", "wait.max", fmtDur(t.Wait.Max), destructive)
	}
	if t.UID != nil {
		as.add("UID", "uid", fmtInt(*t.UID), destructive)
	}
	if t.GID != nil {
		as.add("GID", "gid", fmtInt(*t.GID), destructive)
	}
	if t.Once {
		as.add("Once", "once", "true", destructive)
	}
	if t.ErrorOnMissingKey {
		as.add("ErrorOnMissingKey", "error_on_missing_key", "true", destructive)
	}
	if c := t.ChangeScript; c != nil {
		as.add("ChangeScriptCommand", "change_script.command", c.Command, destructive)
		as.add("ChangeScriptArgs", "change_script.args", strings.Join(c.Args, " "), destructive)
		as.add("ChangeScriptTimeout", "change_script.timeout", fmtDur(c.Timeout), destructive)
		as.add("ChangeScriptFailOnError", "change_script.fail_on_error", fmtBool(c.FailOnError), destructive)
	}
	return as
}
