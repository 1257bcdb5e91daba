package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/droverhq/drover/jobspec"
)

const jobInitHelp = `
Usage: drover job init [options] [FILE]

  Write an example job file to start from, as 'nomad job init' does:
  example.nomad.hcl (commented HCL) by default, example.job.json (Nomad's
  API JSON) with -o json, or example.job.yaml (its YAML, with comments)
  with -o yaml. An existing file is never overwritten.

Examples:

  drover job init
  drover job init -o yaml jobs/web.job.yaml
  drover job init -o json && drover validate example.job.json
`

func runJobInit(ctx context.Context, args []string, io stdio) int {
	flags := newFlagSet("job init", jobInitHelp, io)
	format := outputFormat{value: "hcl", allowed: []string{"hcl", "json", "yaml"}}
	flags.Var(&format, "o", "syntax of the file: `hcl`, json (Nomad's API job) or yaml")
	pos, code, done := parseArgs(flags, args, io, 0, 1, "Error: give at most one file name: drover job init [-o hcl|json|yaml] [FILE]")
	if done {
		return code
	}
	name := map[string]string{"hcl": "example.nomad.hcl", "json": "example.job.json", "yaml": "example.job.yaml"}[format.value]
	if len(pos) == 1 {
		name = pos[0]
	}
	out, err := exampleJob(format.value)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(io.err, "Error: %s already exists; remove it or give another file name.\n", name)
		return exitError
	}
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		fmt.Fprintf(io.err, "Error: write %s: %v\n", name, err)
		return exitError
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(io.err, "Error: write %s: %v\n", name, err)
		return exitError
	}
	fmt.Fprintf(io.out, "Example job file written to %s\n", name)
	return exitOK
}

// exampleJob is the example in the chosen syntax. The JSON and YAML forms
// are rendered from the HCL one, so all three are the same job.
func exampleJob(format string) ([]byte, error) {
	if format == "hcl" {
		return []byte(exampleJobHCL), nil
	}
	f, diags := jobspec.Parse("example.nomad.hcl", []byte(exampleJobHCL), nil)
	if diags.HasErrors() {
		return nil, diags
	}
	if format == "json" {
		return jobspec.MarshalAPIJSON(f.Job)
	}
	y, err := jobspec.MarshalAPIYAML(f.Job)
	if err != nil {
		return nil, err
	}
	return append([]byte(exampleJobYAMLHeader), y...), nil
}

const exampleJobYAMLHeader = `# An example job in the YAML rendering of Nomad's API job format: the
# keys are those 'nomad job inspect' prints, durations are nanoseconds.
# 'drover job inspect -o yaml JOB' prints a running job this way, and
# 'drover job init' (no -o) writes the same job as commented HCL.
`

const exampleJobHCL = `# An example job. 'drover validate' checks it, 'drover job run' submits
# it, and committed to the job repository it is deployed on push.
job "example" {
  # Where the job may run: datacenters of the client nodes ("*" is any).
  datacenters = ["*"]

  # service jobs run until stopped; batch jobs run to completion.
  type = "service"

  # A group is placed as a unit on one node; count is how many copies.
  group "cache" {
    count = 1

    network {
      # A port the node allocates; the task sees it as NOMAD_PORT_db.
      port "db" {
        to = 6379
      }
    }

    # Register the port in the native service catalog, with a check.
    service {
      name     = "redis-cache"
      port     = "db"
      provider = "nomad"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    # Restart a failing task twice in 30 minutes, then fail it (and let
    # the scheduler reschedule the group).
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:7"
        ports = ["db"]
      }

      # What the scheduler reserves on the node for the task.
      resources {
        cpu    = 500 # MHz
        memory = 256 # MB
      }
    }
  }
}
`
