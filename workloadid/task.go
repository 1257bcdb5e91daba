package workloadid

import (
	"time"

	"github.com/droverhq/drover/jobspec"
)

// TaskIdentities returns the identities signed for task: its default
// identity first (its identity block without a name or named "default",
// else Nomad's implicit one, which the task sees only when a block asks
// for env or file), then each named one.
func TaskIdentities(t *jobspec.Task) []jobspec.WorkloadIdentity {
	def := jobspec.WorkloadIdentity{Name: DefaultName}
	var named []jobspec.WorkloadIdentity
	for _, wi := range t.Identities {
		if wi.Name == "" || wi.Name == DefaultName {
			def = wi
			def.Name = DefaultName
			continue
		}
		named = append(named, wi)
	}
	return append([]jobspec.WorkloadIdentity{def}, named...)
}

// Exposed reports whether any identity of task is given to it, as a file
// or in its environment: only then does its agent fetch them.
func Exposed(t *jobspec.Task) bool {
	for _, wi := range t.Identities {
		if wi.Env || wi.File {
			return true
		}
	}
	return false
}

// Target names the task an identity is for.
type Target struct {
	Region, Namespace, JobID, Group, Task, AllocID string
}

// ClaimsFor returns the claims of identity wi of the target at now.
func ClaimsFor(tg Target, wi jobspec.WorkloadIdentity, now time.Time, jti string) *Claims {
	name := wi.Name
	if name == "" {
		name = DefaultName
	}
	aud := wi.Audience
	if len(aud) == 0 && name == DefaultName {
		aud = []string{DefaultAudience}
	}
	c := &Claims{
		Namespace: tg.Namespace, JobID: tg.JobID, AllocationID: tg.AllocID, TaskName: tg.Task,
		Subject:  Subject(tg.Region, tg.Namespace, tg.JobID, tg.Group, tg.Task, name),
		Audience: aud, IssuedAt: now.Unix(), NotBefore: now.Unix(), ID: jti,
	}
	if wi.TTL > 0 {
		c.Expiry = now.Add(wi.TTL).Unix()
	}
	return c
}

// EnvName and FileName are where the agent exposes an identity: Nomad's
// NOMAD_TOKEN and secrets/nomad_token for the default one,
// NOMAD_TOKEN_<name> and secrets/nomad_<name>.jwt for the others.
func EnvName(name string) string {
	if name == "" || name == DefaultName {
		return "NOMAD_TOKEN"
	}
	return "NOMAD_TOKEN_" + name
}

// FileName is the file, in the task's secrets directory.
func FileName(name string) string {
	if name == "" || name == DefaultName {
		return "nomad_token"
	}
	return "nomad_" + name + ".jwt"
}
