package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash path → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// minimalJob is the smallest valid job file.
func minimalJob(id string) string {
	return fmt.Sprintf(`job %q {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "sleep"
      }
    }
  }
}
`, id)
}

// serviceJob is a realistic service job; every third one takes variables.
func serviceJob(i int) string {
	var b strings.Builder
	withVars := i%3 == 0
	if withVars {
		b.WriteString(`variable "image_tag" {
  type    = string
  default = "1.0.0"
}

variable "replicas" {
  type    = number
  default = 2
}

`)
	}
	fmt.Fprintf(&b, `job "svc-%05d" {
  datacenters = ["dc1", "dc2"]
  type        = "service"

  meta {
    team = "team-%d"
  }

  group "app" {
`, i, i%40)
	if withVars {
		b.WriteString("    count = var.replicas\n")
	} else {
		b.WriteString("    count = 3\n")
	}
	b.WriteString(`
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "svc"
      port     = "http"
      tags     = ["web", "v1"]

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
`)
	if withVars {
		b.WriteString("        image = \"registry.example.com/app:${var.image_tag}\"\n")
	} else {
		b.WriteString("        image = \"registry.example.com/app:2.3.4\"\n")
	}
	fmt.Fprintf(&b, `        ports = ["http"]
        args  = ["-listen", ":8080"]
      }

      env {
        LOG_LEVEL = "info"
        SHARD     = "%d"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
`, i)
	return b.String()
}

// parserReady skips a test that needs jobspec.Parse while it is a stub.
func parserReady(t testing.TB) {
	t.Helper()
	l := NewLoader(LoadOptions{})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.hcl": minimalJob("probe")})
	r, err := l.Load(context.Background(), DirSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Diagnostics {
		if strings.Contains(d.Summary, "not implemented") {
			t.Skip("jobspec.Parse is not implemented yet")
		}
	}
}
