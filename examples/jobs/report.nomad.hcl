# A batch job: runs to completion every night, never twice at once.
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
