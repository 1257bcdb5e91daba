// Command httpd is the docker driver tests' container: a static binary
// in a FROM scratch image, so the tests need no registry.
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	fmt.Println("httpd starting on", addr, "args", strings.Join(os.Args[1:], " "))
	fmt.Fprintln(os.Stderr, "httpd stderr hello")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("request", r.URL.Path)
		fmt.Fprintf(w, "ok env=%s\n", os.Getenv("GREETING"))
	})
	// /spam?kb=N writes N KiB of numbered lines to stdout, for rotation.
	http.HandleFunc("/spam", func(w http.ResponseWriter, r *http.Request) {
		kb, _ := strconv.Atoi(r.URL.Query().Get("kb"))
		line := strings.Repeat("x", 1019)
		for i := range kb {
			fmt.Printf("%04d %s\n", i%10000, line)
		}
		fmt.Fprintln(w, "spammed", kb)
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sig
		fmt.Println("httpd got", s)
		os.Exit(0)
	}()
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
