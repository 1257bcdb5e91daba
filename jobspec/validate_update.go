package jobspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// updateNotForType is the error for an update block in a job type without
// deployments (batch, sysbatch). When the block asks for canaries the
// error names canary and where it is, since that is what cannot work.
func updateNotForType(b *hclsyntax.Block, t JobType) *hcl.Diagnostic {
	a := b.Body.Attributes["canary"]
	if a == nil {
		return notForType(b, t, "service and system")
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Job type %q does not allow the update block or canary", t),
		Detail: fmt.Sprintf("canary (at %s) and the update block it is in only apply to service and system jobs, as in Nomad: "+
			"a %s job has no deployments to place canaries in. Remove the update block.", a.SrcRange, t),
		Subject: b.DefRange().Ptr(),
		Context: b.Range().Ptr(),
	}
}

// checkUpdate checks a group's effective update strategy (job-level block
// merged under the group's own). Positions point at the attribute that
// set the value, looked up in the group's block first, then the job's.
func checkUpdate(u *UpdateStrategy, group string, groupBlk, jobBlk *hclsyntax.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if u.Canary > 0 && u.MaxParallel == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Canaries need max_parallel of at least 1",
			Detail: fmt.Sprintf("Group %q sets canary = %d with max_parallel = 0; max_parallel = 0 disables deployments, "+
				"so the canaries would never be placed. Set max_parallel to 1 or more, or remove canary (as Nomad requires).", group, u.Canary),
			Subject: updateAttrRange("max_parallel", groupBlk, jobBlk),
		})
	}
	if u.AutoPromote && u.Canary == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "auto_promote has no effect without canaries",
			Detail:   fmt.Sprintf("Group %q sets auto_promote = true but canary is 0; there is nothing to promote. Set canary, or remove auto_promote.", group),
			Subject:  updateAttrRange("auto_promote", groupBlk, jobBlk),
		})
	}
	return diags
}

// updateAttrRange is where the named update attribute was written: the
// group's block wins over the job's; failing both, the block itself.
func updateAttrRange(name string, blks ...*hclsyntax.Block) *hcl.Range {
	for _, b := range blks {
		if b == nil {
			continue
		}
		if a := b.Body.Attributes[name]; a != nil {
			return a.SrcRange.Ptr()
		}
	}
	for _, b := range blks {
		if b != nil {
			return b.DefRange().Ptr()
		}
	}
	return &hcl.Range{}
}
