# A periodic batch job: every night at 03:00 UTC, never twice at once.
#
# It is kept out of examples/jobs (and so out of `make run`) because
# Drover stores periodic jobs but does not launch cron schedules yet: a
# later release will. Submitted (by a commit or `drover job run`), it stays
# `pending`, and `drover job status nightly-report` and `drover plan` say
# "stored, not launched". `drover validate examples/periodic` checks it.
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
