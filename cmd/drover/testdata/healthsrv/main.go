// Command healthsrv is the tiny HTTP server the rollout end-to-end tests
// run as a task: its health answer and its version come from the job's
// env or args, so a commit can make a version healthy or not.
//
//	GET /health   200 when HEALTHY (or -healthy) is true, else 503
//	GET /version  the VERSION env (or -version)
//
// It listens on -addr, else on DROVER_IP_http:DROVER_PORT_http (or the
// NOMAD_ names) that the agent sets, logs every request to stdout, and
// exits 0 on SIGTERM or SIGINT. -pidfile names a file to write its
// process ID to, so that a test can end a task its agent left behind. The tests build it with go build from
// testdata, so it is not part of ./... .
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	log.SetOutput(os.Stdout)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	healthyDefault, _ := strconv.ParseBool(envOr("HEALTHY", "true"))
	addr := flag.String("addr", defaultAddr(), "listen on `host:port`")
	healthy := flag.Bool("healthy", healthyDefault, "answer /health with 200 (else 503)")
	version := flag.String("version", os.Getenv("VERSION"), "the `version` /version answers")
	pidFile := flag.String("pidfile", "", "write the process ID to `file`")
	flag.Parse()
	if *pidFile != "" {
		if err := os.WriteFile(*pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Fatalf("healthsrv: %v", err)
		}
	}
	if *addr == "" {
		log.Fatal("healthsrv: no address: set -addr or DROVER_PORT_http / NOMAD_PORT_http")
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if !*healthy {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, *version)
	})
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 5 * time.Second}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("healthsrv: %v", err)
	}
	log.Printf("healthsrv version %q healthy=%v listening on %s", *version, *healthy, l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		log.Fatalf("healthsrv: %v", err)
	case <-ctx.Done():
	}
	log.Printf("healthsrv: signalled, shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("healthsrv: shutdown: %v", err)
	}
}

// defaultAddr is the address the agent gave the task's "http" port.
func defaultAddr() string {
	for _, p := range []string{"DROVER_", "NOMAD_"} {
		if port := os.Getenv(p + "PORT_http"); port != "" {
			return net.JoinHostPort(envOr(p+"IP_http", "127.0.0.1"), port)
		}
	}
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}
