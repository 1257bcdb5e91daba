package jobspec

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// validateIssue15 checks the fields added for issue 15 in a job that did
// not come through Parse (a JSON job from the API), by the same rules the
// HCL decoders apply: names that become paths or environment variables,
// paths that must stay inside the task, and Nomad's bounds. Paths are
// security-relevant: a volume destination or dispatch payload file is
// joined under a task directory on the node.
func validateIssue15(j *Job, add func(path, format string, args ...any)) {
	if j.NodePool != "" && !nodePoolName.MatchString(j.NodePool) {
		add("job.node_pool", "%q is not a node pool name (1-128 letters, digits, dashes and underscores)", j.NodePool)
	}
	if len(j.Payload) > maxDispatchPayload {
		add("job.payload", "is %d bytes; at most %d (16 KiB, as in Nomad) are allowed", len(j.Payload), maxDispatchPayload)
	}
	for gi, g := range j.Groups {
		if g == nil {
			continue
		}
		gp := elemPath("job.group", gi, g.Name)
		for name, v := range g.Volumes {
			vp := fmt.Sprintf("%s.volume[%q]", gp, name)
			switch {
			case v == nil:
				add(vp, "is null")
				continue
			case v.Name != name:
				add(vp+".name", "%q differs from its key %q", v.Name, name)
			case v.Type != "host":
				add(vp+".type", "%q is not supported; use \"host\" (Drover has no CSI)", v.Type)
			}
			if v.Source == "" {
				add(vp+".source", "is required: the name of a host_volume of the agents' configuration")
			}
			if nameProblem(name, false) != "" {
				add(vp+".name", "%q %s", name, nameProblem(name, false))
			}
		}
		if s := g.Scaling; s != nil {
			switch {
			case s.Min < 0 || s.Max < s.Min:
				add(gp+".scaling", "min %d and max %d: want 0 <= min <= max", s.Min, s.Max)
			case g.Count < s.Min || g.Count > s.Max:
				add(gp+".count", "%d is outside the scaling bounds [%d, %d]", g.Count, s.Min, s.Max)
			}
		}
		if d := g.Disconnect; d != nil {
			if d.Reconcile != "" && !slices.Contains(reconcileOptions, d.Reconcile) {
				add(gp+".disconnect.reconcile", "%q is not one of %s", d.Reconcile, strings.Join(reconcileOptions, ", "))
			}
			if d.LostAfter < 0 || d.StopOnClientAfter < 0 {
				add(gp+".disconnect", "durations must not be negative")
			}
			if d.LostAfter > 0 && d.StopOnClientAfter > 0 {
				add(gp+".disconnect", "set either lost_after or stop_on_client_after, not both")
			}
		}
		batch := j.Type == JobTypeBatch || j.Type == JobTypeSysBatch
		if g.MaxRunDuration != 0 && (!batch || g.MaxRunDuration < 0) {
			add(gp+".max_run_duration", "applies to batch and sysbatch jobs only, and must be positive")
		}
		for ti, t := range g.Tasks {
			if t == nil {
				continue
			}
			tp := elemPath(gp+".task", ti, t.Name)
			if t.MaxRunDuration != 0 && (!batch || t.MaxRunDuration < 0) {
				add(tp+".max_run_duration", "applies to batch and sysbatch jobs only, and must be positive")
			}
			for mi, m := range t.VolumeMounts {
				mp := fmt.Sprintf("%s.volume_mount[%d]", tp, mi)
				if g.Volumes[m.Volume] == nil {
					add(mp+".volume", "%q is not a volume of the group", m.Volume)
				}
				if p := pathProblem(m.Destination); p != "" {
					add(mp+".destination", "%q: %s", m.Destination, p)
				}
				if m.PropagationMode != "" && !slices.Contains(propagationModes, m.PropagationMode) {
					add(mp+".propagation_mode", "%q is not one of %s", m.PropagationMode, strings.Join(propagationModes, ", "))
				}
			}
			if p := t.DispatchPayload; p != nil {
				// Whether the job is parameterized is the parser's check: a
				// dispatched child may carry the block or not.
				switch {
				case pathProblem(p.File) != "":
					add(tp+".dispatch_payload.file", "%q: %s", p.File, pathProblem(p.File))
				case path.IsAbs(p.File):
					add(tp+".dispatch_payload.file", "%q is absolute; use a path relative to the task's local/ directory", p.File)
				}
			}
			ids := map[string]bool{}
			for ii, id := range t.Identities {
				ip := fmt.Sprintf("%s.identity[%d]", tp, ii)
				if !validIdentityName(id.Name) {
					add(ip+".name", "%q must be letters, digits, underscores and dashes", id.Name)
				}
				if ids[id.Name] {
					add(ip+".name", "%q is used by another identity of the task", id.Name)
				}
				ids[id.Name] = true
				if id.ChangeMode != "" && !slices.Contains(identityChangeModes, id.ChangeMode) {
					add(ip+".change_mode", "%q is not one of %s", id.ChangeMode, strings.Join(identityChangeModes, ", "))
				}
			}
			acts := map[string]bool{}
			for ai, a := range t.Actions {
				ap := fmt.Sprintf("%s.action[%d]", tp, ai)
				if nameProblem(a.Name, true) != "" || acts[a.Name] {
					add(ap+".name", "%q is empty, invalid or used by another action of the task", a.Name)
				}
				acts[a.Name] = true
				if a.Command == "" {
					add(ap+".command", "is required")
				}
			}
		}
	}
}

// maxDispatchPayload is Nomad's limit on a dispatched job's payload.
const maxDispatchPayload = 16 << 10

func validIdentityName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
