package main

import (
	"context"
	"flag"
	"time"

	"github.com/droverhq/drover/api"
)

// jobCommand is what the commands that act on one job and then follow
// the evaluation they caused share: job stop, job scale and job periodic
// force find the job the same way (ID or unique prefix), take -detach
// and -json alike, and print the same tail (followInto, jsonTail).
type jobCommand struct {
	client clientOptions
	jobID  string
	detach bool
	json   bool
	clock  func() time.Time
}

// register declares the server flags, -detach (whose usage says when the
// command returns) and -json.
func (c *jobCommand) register(fs *flag.FlagSet, detachUsage string) {
	if c.clock == nil {
		c.clock = time.Now
	}
	c.client.register(fs)
	fs.BoolVar(&c.detach, "detach", false, detachUsage)
	fs.BoolVar(&c.json, "json", false, "print the API's answers as JSON")
}

// findJob connects and finds the job; a nil stub means the command
// returns code (the error is printed).
func (c *jobCommand) findJob(ctx context.Context, io stdio) (*api.Client, *api.JobListStub, int) {
	client, ok := c.client.newClient(io)
	if !ok {
		return nil, nil, exitError
	}
	clock := c.clock
	if clock == nil {
		clock = time.Now
	}
	stub, code := findJob(ctx, client, c.jobID, clock(), io)
	return client, stub, code
}
