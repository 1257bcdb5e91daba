package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/droverhq/drover/api"
)

// `drover event stream`: Nomad's event stream, one event a line.

func eventCommands() []command {
	return []command{
		{"stream", "Follow the cluster's events: jobs, allocations, deployments, nodes, commits", runEventStream},
	}
}

func runEvent(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "event", "Follow what the cluster does, as it happens (GET /v1/event/stream).", eventCommands(), args, io)
}

const eventStreamHelp = `
Usage: drover event stream [options]

Print the cluster's events as the servers apply them, one a line, until
interrupted: jobs registered and stopped, allocations placed and updated,
deployments progressing, evaluations, nodes, and the outcome of each Git
commit (topic Sync). Any server streams them; each line starts with the
Raft index, so a stream that stopped resumes with -index and misses
nothing and repeats nothing.

Topics: Job, Allocation, Deployment, Evaluation, Node, Sync, or * for all
(the default). Topic:KEY keeps the events of one object: a job ID for
Job, Allocation, Deployment and Evaluation; a node ID for Node; a source
name for Sync.

Examples:
  drover event stream
  drover event stream -topic Job -topic Allocation:web
  drover event stream -topic Deployment -namespace '*'
  drover event stream -index 1234          # resume after index 1234
  drover event stream -json -topic Sync | jq -r 'select(.Type == "CommitRejected") | .Key'

Exit codes: 0 interrupted, 1 an error or the server ended the stream
(too old an index, a reader too slow, a revoked token: the message says
what to do).
`

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runEventStream(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("event stream", eventStreamHelp, io)
	var opts queryOptions
	opts.register(fs, "print each event as one line of JSON (Nomad's event shape)")
	var topics stringList
	fs.Var(&topics, "topic", "a `TOPIC` or TOPIC:KEY to follow (repeatable; default all)")
	ns := fs.String("namespace", "", "the `namespace` of job events (\"*\" for all; default \"default\")")
	index := fs.Uint64("index", 0, "resume after this Raft `index` (the last one printed); 0 follows from now")
	_, client, _, code, ok := opts.start(fs, args, io, 0, 0, "Error: event stream takes no arguments; name topics with -topic (see --help)")
	if !ok {
		return code
	}
	st, err := client.EventStream(ctx, api.EventStreamOptions{Topics: topics, Namespace: *ns, Index: *index})
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		return printAPIError(io, err, client.Address())
	}
	defer st.Close()
	return followEvents(ctx, st, io, opts.json)
}

// followEvents prints frames until the stream ends.
func followEvents(ctx context.Context, st *api.EventStream, io stdio, asJSON bool) int {
	for {
		f, err := st.Next()
		if ctx.Err() != nil {
			return exitOK
		}
		if errors.Is(err, api.ErrStreamEnded) {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
		if err != nil {
			fmt.Fprintf(io.err, "Error: the event stream broke: %v (resume with -index and the last index printed)\n", err)
			return exitError
		}
		for _, e := range f.Events {
			if asJSON {
				line, err := json.Marshal(e)
				if err != nil {
					return exitError
				}
				fmt.Fprintf(io.out, "%s\n", line)
				continue
			}
			fmt.Fprintln(io.out, eventLine(e))
		}
	}
}

// eventLine is the short human form: index, topic, type, object and the
// few fields that say what happened.
func eventLine(e api.Event) string {
	key := e.Key
	if e.Topic == "Allocation" || e.Topic == "Evaluation" || e.Topic == "Deployment" {
		key = shortID(key) // UUIDs, as Nomad shows them
	}
	if e.Namespace != "" && e.Namespace != "default" {
		key = e.Namespace + "/" + key
	}
	return fmt.Sprintf("%d %s %s %s%s", e.Index, e.Topic, e.Type, key, eventDetail(e))
}

// eventDetail picks a few fields of the payload; a payload of another
// shape prints nothing more.
func eventDetail(e api.Event) string {
	var outer map[string]json.RawMessage
	if json.Unmarshal(e.Payload, &outer) != nil {
		return ""
	}
	var o struct {
		JobID         string  `json:"job_id"`
		TaskGroup     string  `json:"task_group"`
		NodeName      string  `json:"node_name"`
		Version       *uint64 `json:"version"`
		JobVersion    *uint64 `json:"job_version"`
		Status        string  `json:"status"`
		StatusDesc    string  `json:"status_description"`
		ClientStatus  string  `json:"client_status"`
		DesiredStatus string  `json:"desired_status"`
		TriggeredBy   string  `json:"triggered_by"`
		Eligibility   string  `json:"scheduling_eligibility"`
		Name          string  `json:"name"`
		Commits       []struct {
			Commit  string   `json:"commit"`
			Outcome string   `json:"outcome"`
			Health  string   `json:"health"`
			Errors  []string `json:"errors"`
		} `json:"commits"`
	}
	for _, raw := range outer {
		_ = json.Unmarshal(raw, &o)
	}
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	switch e.Topic {
	case "Job":
		if o.Version != nil {
			add("version", fmt.Sprint(*o.Version))
		}
		add("status", o.Status)
	case "Allocation":
		add("job", o.JobID)
		add("group", o.TaskGroup)
		add("node", o.NodeName)
		add("desired", o.DesiredStatus)
		add("client", o.ClientStatus)
	case "Deployment":
		add("job", o.JobID)
		if o.JobVersion != nil {
			add("version", fmt.Sprint(*o.JobVersion))
		}
		add("status", o.Status)
		add("description", quoteIfSpaced(o.StatusDesc))
	case "Evaluation":
		add("job", o.JobID)
		add("triggered_by", o.TriggeredBy)
		add("status", o.Status)
	case "Node":
		add("name", o.Name)
		add("status", o.Status)
		add("eligibility", o.Eligibility)
	case "Sync":
		if len(o.Commits) > 0 {
			c := o.Commits[0]
			add("commit", shortID(c.Commit))
			add("outcome", c.Outcome)
			add("health", c.Health)
			if len(c.Errors) > 0 {
				add("error", quoteIfSpaced(c.Errors[0]))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
