package jobspec

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// benchJob is a realistic service job: variables, locals, constraints,
// network, services with checks, templates and docker config.
const benchJob = `
variable "image" {
  type    = string
  default = "example/web:1.4.2"
}
variable "count" {
  type    = number
  default = 3
}
locals {
  labels = { team = "web", tier = "frontend" }
}
job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  update {
    max_parallel     = 2
    canary           = 1
    auto_revert      = true
    min_healthy_time = "15s"
  }
  group "web" {
    count = var.count
    network {
      mode = "bridge"
      port "http" { to = 8080 }
      port "metrics" {}
    }
    service {
      name = "web"
      port = "http"
      tags = ["http", "frontend"]
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }
    restart {
      attempts = 3
      delay    = "10s"
    }
    task "web" {
      driver = "docker"
      config {
        image  = var.image
        ports  = ["http", "metrics"]
        args   = ["--listen", ":8080", "--metrics", ":${NOMAD_PORT_metrics}"]
        labels = local.labels
      }
      env {
        LOG_LEVEL = "info"
        ADDR      = "${NOMAD_ADDR_http}"
      }
      template {
        destination = "local/app.conf"
        data        = <<EOT
listen = ":8080"
region = "{{ env "NOMAD_REGION" }}"
EOT
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
    task "log-shipper" {
      driver = "exec"
      lifecycle {
        hook    = "poststart"
        sidecar = true
      }
      config {
        command = "/usr/local/bin/shipper"
        args    = ["-path", "${NOMAD_ALLOC_DIR}/logs"]
      }
      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
`

func BenchmarkParse(b *testing.B) {
	src := []byte(benchJob)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if f, diags := Parse("web.hcl", src, nil); f == nil {
			b.Fatal(diags)
		}
	}
}

// BenchmarkHCLSyntaxOnly is the floor under BenchmarkParse: hclsyntax
// alone parsing the same file, without evaluation or decoding.
func BenchmarkHCLSyntaxOnly(b *testing.B) {
	src := []byte(benchJob)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		hclsyntax.ParseConfig(src, "web.hcl", hcl.InitialPos)
	}
}

// BenchmarkParseCorpus parses every real corpus file once per iteration,
// in parallel, to estimate repository-scale throughput.
func BenchmarkParseCorpus(b *testing.B) {
	files := corpusFiles(b)
	srcs := make([][]byte, len(files))
	for i, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		srcs[i] = src
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			Parse(fmt.Sprint(i), srcs[i%len(srcs)], corpusVars)
			i++
		}
	})
}
