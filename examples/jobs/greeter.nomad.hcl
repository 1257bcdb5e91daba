# A job shaped by variables: override them with -var, a -var-file, or
# DROVER_VAR_<name> in the environment.
variable "replicas" {
  type        = number
  default     = 1
  description = "How many greeters to run."
}

variable "message" {
  type    = string
  default = "hello"
}

locals {
  greeting = upper(var.message)
}

job "greeter" {
  datacenters = ["dc1"]

  group "greeter" {
    count = var.replicas

    task "say" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo ${local.greeting} from ${NOMAD_ALLOC_ID}; sleep 10; done"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
