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
