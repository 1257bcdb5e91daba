package main

import (
	"context"
	"fmt"
	"time"

	"github.com/droverhq/drover/jobspec"
)

const jobInspectHelp = `
Usage: drover job inspect [options] JOB

  Print a job's current version as a job file: Nomad's API JSON
  ({"Job": {...}}, as 'nomad job inspect' prints it; the default), its
  YAML rendering, or HCL. Each reads back with 'drover job run' or from
  the repository under the matching name (*.job.json, *.job.yaml,
  *.nomad.hcl) and gives the same job. JOB is an ID or a unique prefix.

Examples:

  drover job inspect web > web.job.json
  drover job inspect -o yaml web > web.job.yaml
  drover job inspect -o hcl web > jobs/web.nomad.hcl
  drover job inspect web | jq '.Job.TaskGroups[].Count'
`

func runJobInspect(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job inspect", jobInspectHelp, io)
	var client clientOptions
	client.register(fs)
	format := outputFormat{value: "json", allowed: []string{"json", "yaml", "hcl"}}
	fs.Var(&format, "o", "output format: `json` (Nomad's API job), yaml or hcl")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give one job: drover job inspect [-o json|yaml|hcl] JOB")
	if done {
		return code
	}
	c, ok := client.newClient(io)
	if !ok {
		return exitError
	}
	stub, code := findJob(ctx, c, pos[0], time.Now(), io)
	if stub == nil {
		return code
	}
	job, _, err := c.Jobs().Info(ctx, stub.ID, nil)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	if job.Spec == nil {
		fmt.Fprintf(io.err, "Error: job %q has no specification to print.\n", stub.ID)
		return exitError
	}
	out, err := renderJob(job.Spec, format.value)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	_, err = io.out.Write(out)
	return jsonExit(err)
}

// renderJob writes a job in one of the job-file syntaxes.
func renderJob(j *jobspec.Job, format string) ([]byte, error) {
	switch format {
	case "yaml":
		return jobspec.MarshalAPIYAML(j)
	case "hcl":
		return jobspec.MarshalHCL(j)
	}
	return jobspec.MarshalAPIJSON(j)
}
