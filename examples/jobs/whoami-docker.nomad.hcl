# whoami in a Docker container: a tiny HTTP server that answers with the
# request and the container's hostname and addresses.
#
# The image comes from Docker Hub. On a node that reaches it, the driver
# pulls it on first start (a task event shows the pull); to pre-load it,
# or for a node without registry access, on a machine that has one:
#
#   docker pull traefik/whoami:v1.10
#   docker save traefik/whoami:v1.10 | ssh node docker load
#
# A local image is used as is, without contacting any registry.
job "whoami-docker" {
  datacenters = ["dc1"]
  type        = "service"

  group "whoami" {
    count = 1

    network {
      # The scheduler picks the host port; the container listens on 80.
      port "http" {
        to = 80
      }
    }

    service {
      name = "whoami"
      port = "http"

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "whoami" {
      driver = "docker"

      config {
        image = "traefik/whoami:v1.10"
        ports = ["http"]
        args  = ["--port", "80", "--name", "drover-example"]

        labels {
          team = "platform"
        }
      }

      resources {
        cpu    = 100
        memory = 32
      }

      kill_timeout = "10s"
    }
  }
}
