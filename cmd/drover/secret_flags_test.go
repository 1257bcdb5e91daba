package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestTokenFlagWarns: a secret given as a flag is readable by every user
// of the machine in /proc/PID/cmdline, so every command that takes one
// warns, naming its other ways to take it; a secret from the environment
// or a file passes silently. The warning never repeats the secret.
func TestTokenFlagWarns(t *testing.T) {
	const secret = "s3cret-flag-token"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.hcl") // makes the daemons stop after their flags
	down := "-address=http://127.0.0.1:1"
	const (
		tokenWarning = "Warning: -token on the command line is visible to every user of this machine (ps, /proc/PID/cmdline)"
		joinWarning  = "Warning: -join-token on the command line is visible to every user of this machine"
	)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string // "" for no warning
	}{
		{"client flag", []string{"job", "status", down, "-token", secret}, nil, tokenWarning + " and stays in shell history; set DROVER_TOKEN or use -token-file instead."},
		{"client flag after an argument", []string{"job", "status", down, "web", "-token=" + secret}, nil, tokenWarning},
		{"client environment", []string{"job", "status", down}, []string{"DROVER_TOKEN=" + secret}, ""},
		{"client file", []string{"job", "status", down, "-token-file", tokenFile}, nil, ""},
		{"client empty flag", []string{"job", "status", down, "-token="}, nil, ""},
		{"validate flag", []string{"validate", dir, "-address", "http://127.0.0.1:1", "-token", secret}, nil, tokenWarning + " and stays in shell history; set DROVER_TOKEN instead."},
		{"agent flag", []string{"agent", "-config", missing, "-token", secret}, nil, tokenWarning + " and stays in shell history; set DROVER_TOKEN or use -token-file instead."},
		{"agent file", []string{"agent", "-config", missing, "-token-file", tokenFile}, nil, ""},
		{"agent environment", []string{"agent", "-config", missing}, []string{"DROVER_TOKEN=" + secret}, ""},
		{"agent join token", []string{"agent", "-config", missing, "-join-token", secret}, nil, joinWarning + " (ps, /proc/PID/cmdline) and stays in shell history; use -join-token-file instead."},
		{"server join token", []string{"server", "-config", missing, "-join-token", secret}, nil, joinWarning},
		{"server join token file", []string{"server", "-config", missing, "-join-token-file", tokenFile}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c capture
			run(context.Background(), tc.args, c.stdio(tc.env...))
			stderr := c.err.String()
			if tc.want == "" && strings.Contains(stderr, "Warning: -") {
				t.Errorf("unexpected warning:\n%s", stderr)
			}
			if tc.want != "" && !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			if strings.Count(stderr, "Warning: -") > 1 {
				t.Errorf("warned more than once:\n%s", stderr)
			}
			if strings.Contains(stderr+c.out.String(), secret) {
				t.Errorf("the output repeats the secret:\n%s%s", c.out.String(), stderr)
			}
		})
	}
}

// TestClientTokenFile: -token-file sends the file's token; -token wins
// over it, and it over DROVER_TOKEN; an unreadable file is an error.
func TestClientTokenFile(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-token-file", tokenFile}, []string{"DROVER_TOKEN=from-env"}, "Bearer from-file"},
		{[]string{"-token-file", tokenFile, "-token", "from-flag"}, nil, "Bearer from-flag"},
		{nil, []string{"DROVER_TOKEN=from-env"}, "Bearer from-env"},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		var c capture
		if code := run(context.Background(), append([]string{"job", "status", "-address", srv.URL}, tc.args...), c.stdio(tc.env...)); code != exitOK {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, c.err.String())
		}
		mu.Lock()
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("%v %v: sent %q, want %q", tc.args, tc.env, got, tc.want)
		}
		mu.Unlock()
	}
	var c capture
	if code := run(context.Background(), []string{"job", "status", "-address", srv.URL, "-token-file", tokenFile + ".missing"}, c.stdio()); code != exitError || !strings.Contains(c.err.String(), "-token-file") {
		t.Errorf("missing token file: exit %d\n%s", code, c.err.String())
	}
}
