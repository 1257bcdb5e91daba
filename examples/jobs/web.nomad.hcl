# A small web service: two instances behind an HTTP health check, which
# find the api job through Drover's service catalog (no Consul) and
# show on their page what api answered.
#
# The exec driver runs a plain process: a few lines of python3, rendered
# from a template, serve the page on a port the scheduler picks. A second
# template lists api's healthy instances with nomadService; when the
# catalog changes (api scaled, an instance fails its check) Drover
# re-renders the list and sends the task SIGHUP (change_mode = "signal"),
# and the server re-reads it without restarting.
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
      name     = "web"
      provider = "nomad"
      port     = "http"
      tags     = ["frontend"]

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
        args    = ["local/server.py", "127.0.0.1", "${NOMAD_PORT_http}"]
      }

      env {
        GREETING = "hello from Drover"
        # Print at once rather than when a buffer fills: drover alloc
        # logs shows it.
        PYTHONUNBUFFERED = "1"
      }

      # api's instances as the catalog lists them, one address:port a
      # line. Re-rendered when they change; the task gets SIGHUP.
      template {
        destination   = "local/upstreams.txt"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = <<-EOT
          {{ range nomadService "api" }}{{ .Address }}:{{ .Port }}
          {{ end }}
        EOT
      }

      # The server: GET / asks the next api instance of the list and shows
      # its answer; SIGHUP re-reads the list.
      template {
        destination = "local/server.py"
        change_mode = "restart"
        data        = <<-EOT
          import html, os, signal, sys, urllib.request
          from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

          UPSTREAMS = os.path.join(os.environ["NOMAD_TASK_DIR"], "upstreams.txt")
          state = dict(upstreams=[], turn=0)

          def load(why):
              with open(UPSTREAMS) as f:
                  state["upstreams"] = [l.strip() for l in f if l.strip()]
              print(why + ": " + str(len(state["upstreams"])) + " api instances in the catalog: " + " ".join(state["upstreams"]), flush=True)

          signal.signal(signal.SIGHUP, lambda sig, frame: load("reloaded upstreams on SIGHUP"))

          class Page(BaseHTTPRequestHandler):
              def do_GET(self):
                  ups = list(state["upstreams"])
                  reached = "no api instance in the catalog yet"
                  for i in range(len(ups)):
                      up = ups[(state["turn"] + i) % len(ups)]
                      try:
                          with urllib.request.urlopen("http://" + up + "/", timeout=2) as r:
                              reached = "reached api via the catalog at " + up + ": " + r.read(4096).decode().strip()
                          break
                      except OSError as e:
                          reached = "api at " + up + " did not answer: " + str(e)
                  state["turn"] += 1
                  body = ("<h1>" + html.escape(os.environ.get("GREETING", "")) + "</h1>\n"
                          "<p>" + os.environ["NOMAD_ALLOC_NAME"] + " on " + os.environ["NOMAD_ADDR_http"] + "</p>\n"
                          "<p>" + html.escape(reached) + "</p>\n"
                          "<p>api instances: " + html.escape(" ".join(ups)) + "</p>\n").encode()
                  self.send_response(200)
                  self.send_header("Content-Type", "text/html; charset=utf-8")
                  self.send_header("Content-Length", str(len(body)))
                  self.end_headers()
                  self.wfile.write(body)

          load("started")
          ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Page).serve_forever()
        EOT
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
