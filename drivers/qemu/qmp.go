package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmpExecute runs one QMP command on the VM's monitor socket: connect,
// read the greeting, leave capabilities negotiation, run cmd. QMP takes
// one client at a time, so each call connects afresh and the driver keeps
// no connection to lose across agent restarts.
func qmpExecute(ctx context.Context, path, cmd string) (json.RawMessage, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	dec := json.NewDecoder(bufio.NewReader(conn))
	var greeting struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	if err := dec.Decode(&greeting); err != nil {
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if greeting.QMP == nil {
		return nil, errors.New("qmp: the socket did not greet as QMP")
	}
	if _, err := qmpCall(conn, dec, "qmp_capabilities"); err != nil {
		return nil, err
	}
	return qmpCall(conn, dec, cmd)
}

// qmpCall sends cmd and reads up to its answer, skipping the
// asynchronous events QMP interleaves (POWERDOWN, for one).
func qmpCall(conn net.Conn, dec *json.Decoder, cmd string) (json.RawMessage, error) {
	b, _ := json.Marshal(map[string]string{"execute": cmd})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		var msg struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := dec.Decode(&msg); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case msg.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s: %s", cmd, msg.Error.Class, msg.Error.Desc)
		case msg.Return != nil:
			return msg.Return, nil
		}
	}
}

// vmStatus is the VM's run state from query-status, e.g. "running".
func vmStatus(ctx context.Context, path string) (string, error) {
	raw, err := qmpExecute(ctx, path, "query-status")
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", fmt.Errorf("qmp query-status: %w", err)
	}
	return st.Status, nil
}
