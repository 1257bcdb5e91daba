package allocrunner

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
)

// Task event types, as Nomad names them, so that operators and tools that
// read Nomad's task events read ours.
const (
	EventReceived        = "Received"
	EventSetup           = "Task Setup"
	EventStarted         = "Started"
	EventTerminated      = "Terminated"
	EventRestarting      = "Restarting"
	EventNotRestarting   = "Not Restarting"
	EventKilling         = "Killing"
	EventKilled          = "Killed"
	EventDriverFailure   = "Driver Failure"
	EventSetupFailure    = "Setup Failure"
	EventTemplateFailure = "Template Failure"
	EventSiblingFailed   = "Sibling Task Failed"
	EventSkipped         = "Skipped"
)

// maxEvents bounds the events kept per task: enough to see a whole
// restart sequence, small enough that allocation updates stay small.
const maxEvents = 25

func event(now time.Time, typ, msg string) cluster.TaskEvent {
	return cluster.TaskEvent{Type: typ, Time: now, Message: msg}
}

// exitEvent describes how a run ended: "Exit Code: 1", with the signal
// when there was one.
func exitEvent(now time.Time, res drivers.ExitResult) cluster.TaskEvent {
	e := cluster.TaskEvent{Type: EventTerminated, Time: now, ExitCode: res.ExitCode, Signal: res.Signal}
	switch {
	case res.Err != nil:
		e.Message = "Exit status unknown: " + res.Err.Error()
	case res.OOMKilled:
		e.Message = fmt.Sprintf("Exit Code: %d, OOM Killed", res.ExitCode)
	case res.Signal != 0:
		e.Message = fmt.Sprintf("Exit Code: %d, Signal: %d", res.ExitCode, res.Signal)
	default:
		e.Message = fmt.Sprintf("Exit Code: %d", res.ExitCode)
	}
	return e
}

func appendEvent(st *cluster.TaskState, e cluster.TaskEvent) {
	st.Events = append(st.Events, e)
	if n := len(st.Events); n > maxEvents {
		st.Events = append([]cluster.TaskEvent(nil), st.Events[n-maxEvents:]...)
	}
}

func copyTaskState(st *cluster.TaskState) *cluster.TaskState {
	c := *st
	c.Events = append([]cluster.TaskEvent(nil), st.Events...)
	return &c
}
