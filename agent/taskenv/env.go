// Package taskenv builds a task's environment and resolves the runtime
// references job files leave for the node (${NOMAD_PORT_http},
// ${attr.kernel.name}, ${meta.rack}, ...). It is pure: everything comes in
// as values, so the same inputs always give the same environment.
//
// Every variable is set under its DROVER_ name and under the NOMAD_ name
// Nomad uses, so that Nomad job files run unchanged.
package taskenv

import (
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Dirs are a task's directories on the host.
type Dirs struct {
	Alloc   string // the allocation's shared dir (alloc/)
	Task    string // the task's working dir
	Local   string // <task>/local
	Secrets string // <task>/secrets
	Tmp     string // <task>/tmp
}

// Input is everything a task's environment is made of.
type Input struct {
	Alloc *cluster.Allocation
	Job   *jobspec.Job
	Group *jobspec.Group
	Task  *jobspec.Task
	Node  *cluster.Node
	Dirs  Dirs
	// IP is the address the task's ports are reachable at when the
	// allocation does not name one.
	IP string
}

// prefixes are the two names of every variable.
var prefixes = [...]string{"DROVER_", "NOMAD_"}

// Builtin returns the variables the agent sets for every task, before the
// job's env and templates.
func Builtin(in Input) map[string]string {
	env := map[string]string{}
	set := func(name, value string) {
		for _, p := range prefixes {
			env[p+name] = value
		}
	}
	a := in.Alloc
	set("ALLOC_ID", a.ID)
	set("SHORT_ALLOC_ID", short(a.ID))
	set("ALLOC_NAME", a.Name)
	set("ALLOC_INDEX", strconv.Itoa(allocIndex(a.Name)))
	set("JOB_ID", a.JobID)
	if parent := ParentID(a.JobID); parent != "" {
		set("JOB_PARENT_ID", parent) // dispatch.go
	}
	set("NAMESPACE", a.Namespace)
	set("GROUP_NAME", a.TaskGroup)
	set("ALLOC_DIR", in.Dirs.Alloc)
	set("TASK_DIR", in.Dirs.Local) // Nomad's TASK_DIR is the task's local/
	set("SECRETS_DIR", in.Dirs.Secrets)
	if in.Job != nil {
		set("JOB_NAME", in.Job.Name)
		set("REGION", in.Job.Region)
		for k, v := range in.Job.Meta {
			setMeta(set, k, v)
		}
	}
	if in.Group != nil {
		for k, v := range in.Group.Meta {
			setMeta(set, k, v)
		}
	}
	if t := in.Task; t != nil {
		set("TASK_NAME", t.Name)
		set("CPU_LIMIT", strconv.Itoa(t.Resources.CPU))
		set("MEMORY_LIMIT", strconv.Itoa(t.Resources.MemoryMB))
		if t.Resources.MemoryMaxMB > 0 {
			set("MEMORY_MAX_LIMIT", strconv.Itoa(t.Resources.MemoryMaxMB))
		}
		if t.Resources.Cores > 0 {
			set("CPU_CORES", strconv.Itoa(t.Resources.Cores))
		}
		for k, v := range t.Meta {
			setMeta(set, k, v)
		}
	}
	if n := in.Node; n != nil {
		set("DC", n.Datacenter)
	}
	for _, p := range a.Resources.Ports {
		ip := p.HostIP
		if ip == "" {
			ip = in.IP
		}
		port := strconv.Itoa(p.Value)
		addr := net.JoinHostPort(ip, port)
		// The exec driver shares the host's network: the task binds the
		// host port, so PORT is the host port even when `to` is set.
		set("PORT_"+p.Label, port)
		set("HOST_PORT_"+p.Label, port)
		set("IP_"+p.Label, ip)
		set("HOST_IP_"+p.Label, ip)
		set("ADDR_"+p.Label, addr)
		set("HOST_ADDR_"+p.Label, addr)
		if p.To > 0 {
			set("ALLOC_PORT_"+p.Label, strconv.Itoa(p.To))
		}
	}
	return env
}

// setMeta sets META_<key> as written and upper-cased, as Nomad does;
// later (more specific) levels override earlier ones.
func setMeta(set func(string, string), k, v string) {
	set("META_"+k, v)
	set("META_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_")), v)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// allocIndex reads N from "<job>.<group>[N]".
func allocIndex(name string) int {
	i := strings.LastIndexByte(name, '[')
	if i < 0 || !strings.HasSuffix(name, "]") {
		return 0
	}
	n, err := strconv.Atoi(name[i+1 : len(name)-1])
	if err != nil {
		return 0
	}
	return n
}

// Build returns the task's complete environment: the builtins, then the
// job's env with runtime references resolved, then the variables of
// env = true templates, each layer overriding the one before (Nomad's
// order).
func Build(in Input, templateEnv map[string]string) map[string]string {
	env := Builtin(in)
	r := NewResolver(in, env)
	if in.Task != nil {
		for k, v := range in.Task.Env {
			env[k] = r.Interpolate(v)
		}
	}
	maps.Copy(env, templateEnv)
	return env
}
