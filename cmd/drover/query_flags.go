package main

import (
	"flag"
	"time"

	"github.com/droverhq/drover/api"
)

// queryOptions are what the commands that read the cluster and print it
// share, so that they all find the server, offer -json and count "ago"
// columns the same way.
type queryOptions struct {
	client clientOptions
	json   bool
	format outputFormat // -o json|yaml (output_format.go)
	now    time.Time    // zero: the current time
}

// register declares the server flags and -json, whose usage says what
// the command prints.
func (q *queryOptions) register(fs *flag.FlagSet, jsonUsage string) {
	q.client.register(fs)
	fs.BoolVar(&q.json, "json", false, jsonUsage)
	fs.Var(&q.format, "o", "output format: `json` (as -json) or yaml")
}

// connect makes the API client, or prints why it cannot, and returns the
// instant the output is relative to.
func (q queryOptions) connect(io stdio) (*api.Client, time.Time, bool) {
	client, ok := q.client.newClient(io)
	if !ok {
		return nil, time.Time{}, false
	}
	now := q.now
	if now.IsZero() {
		now = time.Now()
	}
	return client, now, true
}

// start parses a command's flags and its minArgs..maxArgs positional
// arguments (else prints wrongCount) and connects: the opening the read
// and operator commands share. When ok is false the command returns code.
func (q *queryOptions) start(fs *flag.FlagSet, args []string, io stdio, minArgs, maxArgs int, wrongCount string) (pos []string, client *api.Client, now time.Time, code int, ok bool) {
	pos, code, done := parseArgs(fs, args, io, minArgs, maxArgs, wrongCount)
	if done {
		return nil, nil, time.Time{}, code, false
	}
	client, now, ok = q.connect(io)
	if !ok {
		return nil, nil, time.Time{}, exitError, false
	}
	return pos, client, now, exitOK, true
}

// output prints v, the API objects, with -json; else human prints them
// for people. Stdout with -json is for the JSON document alone.
func (q queryOptions) output(io stdio, v any, human func()) int {
	if q.json || q.format.value != "" {
		return jsonExit(writeAs(io.out, q.format.value, v))
	}
	human()
	return exitOK
}

func jsonExit(err error) int {
	if err != nil {
		return exitError
	}
	return exitOK
}
