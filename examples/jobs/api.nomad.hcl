# The api of the "Services and secrets" walk-through (README): two
# instances registered in Drover's own service catalog (provider =
# "nomad"), each reading the database password from an encrypted
# variable that a sealed file in this repository holds.
#
# The password is never in this file nor in Git in the clear:
# nomad/jobs/api.sealed.hcl holds it encrypted to the cluster's age key
# (`drover var seal nomad/jobs/api DB_PASSWORD=-`, which `make run` does
# for you with a generated password). When a commit brings that file,
# the servers decrypt it and write the variable nomad/jobs/api, which
# this job's tasks may read without any policy: their workload identity
# grants nomad/jobs/<job>. Until it exists the task waits, with the event
# "Missing: nomad.var.block(nomad/jobs/api@default)".
job "api" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 1
    min_healthy_time = "2s"
    healthy_deadline = "2m"
  }

  group "api" {
    count = 2

    network {
      port "http" {}
    }

    # web finds these instances with {{ range nomadService "api" }}; only
    # instances whose check passes are listed.
    service {
      name     = "api"
      provider = "nomad"
      port     = "http"
      tags     = ["v1"]

      check {
        type     = "http"
        path     = "/"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "exec"

      config {
        command = "python3"
        args    = ["-m", "http.server", "--bind", "${NOMAD_IP_http}", "--directory", "local", "${NOMAD_PORT_http}"]
      }

      env {
        PYTHONUNBUFFERED = "1"
      }

      # The secret, rendered into the task's secrets/ directory (not
      # served, not in the allocation's logs). A new sealed value in Git
      # re-renders it and restarts the task (change_mode "restart").
      template {
        destination = "secrets/db.env"
        data        = <<-EOT
          DB_PASSWORD={{ with nomadVar "nomad/jobs/api" }}{{ .DB_PASSWORD }}{{ end }}
        EOT
      }

      # What web shows it fetched: which instance answered, and that this
      # instance has a password (its length, never the value).
      template {
        destination = "local/index.html"
        data        = <<-EOT
          {{ env "NOMAD_ALLOC_NAME" }} at {{ env "NOMAD_ADDR_http" }}: database password loaded ({{ with nomadVar "nomad/jobs/api" }}{{ len .DB_PASSWORD.Value }}{{ end }} characters)
        EOT
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
