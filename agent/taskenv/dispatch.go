package taskenv

import "strings"

// ParentID is the job a periodic or dispatched child was made from, read
// from the child's ID (<parent>/periodic-<unix>, <parent>/dispatch-...):
// the servers name children so, and no other job ID has a slash. "" for
// any other job. It is NOMAD_JOB_PARENT_ID.
func ParentID(jobID string) string {
	i := strings.LastIndexByte(jobID, '/')
	if i <= 0 {
		return ""
	}
	if rest := jobID[i+1:]; !strings.HasPrefix(rest, "periodic-") && !strings.HasPrefix(rest, "dispatch-") {
		return ""
	}
	return jobID[:i]
}
