package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Event is one event of GET /v1/event/stream, in Nomad's shape. Payload
// holds the object under its kind: {"Job": {...}}, {"Allocation": {...}}.
type Event struct {
	Topic      string          `json:"Topic"`
	Type       string          `json:"Type"`
	Key        string          `json:"Key"`
	Namespace  string          `json:"Namespace,omitempty"`
	FilterKeys []string        `json:"FilterKeys,omitempty"`
	Index      uint64          `json:"Index"`
	Payload    json.RawMessage `json:"Payload,omitempty"`
}

// EventFrame is one line of the stream: the events of one index, or a
// heartbeat (no index, no events).
type EventFrame struct {
	Index  uint64  `json:"Index,omitempty"`
	Events []Event `json:"Events,omitempty"`
	Error  string  `json:"Error,omitempty"`
}

// Heartbeat reports whether the frame only keeps the connection open.
func (f *EventFrame) Heartbeat() bool { return f.Index == 0 && len(f.Events) == 0 }

// EventStreamOptions selects a stream: Topics as Nomad writes them
// ("Job", "Allocation:web", "*"; none means all), Namespace ("*" for
// all; empty is "default"), and Index, the last index already seen
// (0: from now on).
type EventStreamOptions struct {
	Topics    []string
	Namespace string
	Index     uint64
}

// maxEventFrame bounds one line of the stream.
const maxEventFrame = 64 << 20

// EventStream reads a stream's frames.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// ErrStreamEnded is returned by Next when the server ended the stream
// with a message (a dropped slow reader, a revoked token): the error
// wraps it and says what to do.
var ErrStreamEnded = errors.New("event stream ended by the server")

// EventStream opens GET /v1/event/stream. The stream lasts until ctx is
// done, Close, or the server ends it.
func (c *Client) EventStream(ctx context.Context, opts EventStreamOptions) (*EventStream, error) {
	params := url.Values{}
	for _, t := range opts.Topics {
		params.Add("topic", t)
	}
	if opts.Namespace != "" {
		params.Set("namespace", opts.Namespace)
	}
	if opts.Index > 0 {
		params.Set("index", strconv.FormatUint(opts.Index, 10))
	}
	target := c.base.String() + "/v1/event/stream"
	if len(params) > 0 {
		target += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("api: event stream: %w", err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: event stream %s: %w", req.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp, nil)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventFrame)
	return &EventStream{body: resp.Body, sc: sc}, nil
}

// Next returns the next frame, heartbeats included. At the end of the
// stream it returns io.EOF, or an error wrapping ErrStreamEnded with the
// server's reason.
func (s *EventStream) Next() (*EventFrame, error) {
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var f EventFrame
		if err := json.Unmarshal(line, &f); err != nil {
			return nil, fmt.Errorf("api: event stream: bad frame: %w", err)
		}
		if f.Error != "" {
			return nil, fmt.Errorf("%w: %s", ErrStreamEnded, f.Error)
		}
		return &f, nil
	}
	if err := s.sc.Err(); err != nil {
		return nil, fmt.Errorf("api: event stream: %w", err)
	}
	return nil, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
