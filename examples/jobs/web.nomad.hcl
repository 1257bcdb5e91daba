# A small web service: two instances behind an HTTP health check.
# The exec driver runs a plain process; python3's built-in HTTP server
# serves a page rendered from a template on a port the scheduler picks.
job "web" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 1
    min_healthy_time = "5s"
    healthy_deadline = "1m"
    auto_revert      = true
  }

  group "frontend" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name = "web"
      port = "http"
      tags = ["frontend"]

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
        args    = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", "local", "${NOMAD_PORT_http}"]
      }

      env {
        GREETING = "hello from Drover"
        # Print "Serving HTTP on ..." at once rather than when a buffer
        # fills: drover alloc logs shows it.
        PYTHONUNBUFFERED = "1"
      }

      template {
        destination = "local/index.html"
        data        = <<-EOT
          <h1>{{ env "GREETING" }}</h1>
          <p>{{ env "NOMAD_ALLOC_NAME" }} on {{ env "NOMAD_ADDR_http" }}</p>
        EOT
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
