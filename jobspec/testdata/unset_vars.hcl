variable "x" {}
variable "n" { type = number }
variable "l" { type = list(string) }
job "j" {
  type = "batch"
  node_pool = var.x
  datacenters = var.l
  priority = var.n
  parameterized { payload = var.x }
  ui {
    description = var.x
    link {
      label = var.x
      url = var.x
    }
  }
  constraint {
    attribute = var.x
    operator = var.x
    value = var.x
  }
  constraint {
    distinct_hosts = var.x
  }
  periodic { cron = var.x }
  group "g" {
    count = var.n
    max_run_duration = var.x
    volume "v" {
      type = var.x
      source = var.x
    }
    scaling {
      min = var.n
      max = var.n
    }
    disconnect {
      lost_after = var.x
      reconcile = var.x
    }
    network {
      mode = var.x
      hostname = var.x
      port "p" {
        static = var.n
      }
    }
    service {
      name = var.x
      port = var.x
      address_mode = var.x
      check {
        type = var.x
        interval = var.x
        timeout = var.x
        path = var.x
      }
    }
    task "t" {
      driver = var.x
      user = var.x
      config {
        command = var.x
      }
      resources {
        cpu = var.n
        memory = var.n
        memory_max = var.n
        disk = var.n
      }
      volume_mount {
        volume = var.x
        destination = var.x
      }
      dispatch_payload { file = var.x }
      identity {
        name = var.x
        change_mode = var.x
      }
      action "a" { command = var.x }
      template {
        data = var.x
        destination = var.x
        change_mode = var.x
        change_script { command = var.x }
        wait { min = var.x }
      }
      lifecycle { hook = var.x }
    }
  }
}
