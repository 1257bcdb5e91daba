package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/render"
)

// exitPlacementFailed is what `job run` and `job stop` return when the
// evaluation finished but could not place every allocation: Nomad's
// convention, so that scripts written for `nomad job run` keep working.
const exitPlacementFailed = 2

// clientOptions are the flags every command that talks to a server
// shares. Empty values fall back to DROVER_ADDR and DROVER_TOKEN when the
// client is made, not when the flags are declared, so that --help never
// prints a token from the environment as a "default".
type clientOptions struct {
	address string
	token   string
	// fileToken is the token read from -token-file, when parsing it.
	fileToken string
}

func (c *clientOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.address, "address", "", "the Drover server's `URL` (default $DROVER_ADDR, else http://"+api.DefaultAddr+")")
	fs.StringVar(&c.token, "token", "", "the API `token` (default $DROVER_TOKEN); other users can read a command line: prefer DROVER_TOKEN or -token-file")
	fs.Func("token-file", "read the API token from `file`", func(path string) error {
		tok, err := readTokenFile(path)
		c.fileToken = tok
		return err
	})
}

// readTokenFile reads a token from a file, without surrounding spaces.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}

// config resolves the flags against the command's environment: -token,
// else -token-file, else DROVER_TOKEN.
func (c clientOptions) config(io stdio) api.Config {
	cfg := api.DefaultConfig(io.getenv)
	if c.address != "" {
		cfg.Address = c.address
	}
	switch {
	case c.token != "":
		cfg.Token = c.token
	case c.fileToken != "":
		cfg.Token = c.fileToken
	}
	return cfg
}

// newClient makes the API client, or prints why it cannot.
func (c clientOptions) newClient(io stdio) (*api.Client, bool) {
	cl, err := api.NewClient(c.config(io))
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v. Set DROVER_ADDR or -address to the server's URL, e.g. http://127.0.0.1:4747.\n", err)
		return nil, false
	}
	return cl, true
}

// apiErrorText turns an error from the client into one line that says
// what went wrong and what to do about it. It is the only place where
// transport and HTTP errors become words, so every command says the same.
func apiErrorText(err error, addr string) string {
	var se *api.StatusError
	var ue *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.As(err, &se):
		msg := se.Message
		if msg == "" {
			msg = http.StatusText(se.Code)
		}
		switch se.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			if strings.Contains(msg, "client certificate") {
				// The server's message already says which variables to set.
				return fmt.Sprintf("the server at %s refused the request (%d: %s)", addr, se.Code, msg)
			}
			return fmt.Sprintf("the server at %s refused the request (%d: %s): set DROVER_TOKEN or -token-file to the server's API token", addr, se.Code, msg)
		case http.StatusServiceUnavailable:
			return fmt.Sprintf("the server at %s cannot answer now (%s); try again in a moment", addr, msg)
		}
		return msg
	case errors.As(err, &ue):
		return fmt.Sprintf("cannot reach the Drover server at %s: %s. Is `drover server` (or `drover dev`) running? Set DROVER_ADDR or -address.", addr, transportCause(ue))
	}
	return err.Error()
}

// transportCause is the innermost useful part of a transport error:
// "dial tcp 127.0.0.1:4747: connect: connection refused" rather than the
// method and URL again.
func transportCause(ue *url.Error) string {
	var op *net.OpError
	if errors.As(ue, &op) {
		return op.Error()
	}
	return ue.Err.Error()
}

// printAPIError reports err on stderr and returns exitError. A 400 with
// diagnostics (an invalid job) prints them as well.
func printAPIError(io stdio, err error, addr string) int {
	fmt.Fprintf(io.err, "Error: %s\n", apiErrorText(err, addr))
	var se *api.StatusError
	if errors.As(err, &se) && len(se.Diagnostics) > 0 {
		writeServerDiagnostics(io.err, se.Diagnostics)
	}
	return exitError
}

// writeServerDiagnostics prints diagnostics that came back over the API.
// The server checked a job decoded from JSON, so most carry a field path
// in their summary rather than a file position.
func writeServerDiagnostics(w io.Writer, diags []render.DiagnosticJSON) {
	for _, d := range diags {
		sev := "Error"
		if d.Severity == "warning" {
			sev = "Warning"
		}
		pos := ""
		if d.Range != nil {
			pos = fmt.Sprintf("%s:%d:%d: ", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
		}
		fmt.Fprintf(w, "  %s%s: %s\n", pos, sev, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(d.Detail, "\n", "\n    "))
		}
	}
}
