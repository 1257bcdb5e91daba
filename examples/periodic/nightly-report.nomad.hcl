# A periodic batch job: every night at 03:00 UTC, never twice at once.
#
# It is kept out of examples/jobs (and so out of `make run`) so that a dev
# cluster does not launch a child every night. Submitted (by a commit or
# `drover job run`), the leader launches a child job
# `nightly-report/periodic-<unix seconds>` at each 03:00;
# `drover job status nightly-report` shows the next launch and the
# children, and `drover job periodic force nightly-report` launches one
# now. `drover validate examples/periodic` checks it.
job "nightly-report" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    crons            = ["0 3 * * *"]
    prohibit_overlap = true
  }

  group "report" {
    task "summarise" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo report for $(date -u +%F) > ${NOMAD_ALLOC_DIR}/report.txt"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
