# 10^9 elements: nested for over range(1000)###############
locals {
  n = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : "${a}-${b}-${c}"]]]
}
job "bomb" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
        args    = [jsonencode(local.n)]
      }
    }
  }
}
