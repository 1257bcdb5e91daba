package drivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

func TestTaskTableLookup(t *testing.T) {
	tt := drivers.NewTaskTable[int]("demo")
	tt.Put("a", 1)
	tests := []struct {
		name     string
		h        *drivers.TaskHandle
		want     int
		wantErr  string
		notFound bool
	}{
		{name: "known", h: &drivers.TaskHandle{TaskID: "a"}, want: 1},
		{name: "nil handle", h: nil, wantErr: "demo: nil task handle"},
		{name: "unknown", h: &drivers.TaskHandle{TaskID: "b"}, wantErr: `demo: task "b": task not found`, notFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tt.Lookup(tc.h)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Lookup = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Lookup error = %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, drivers.ErrTaskNotFound) != tc.notFound {
				t.Errorf("errors.Is(err, ErrTaskNotFound) = %v, want %v", !tc.notFound, tc.notFound)
			}
		})
	}
}

func TestTaskTablePutDeleteClear(t *testing.T) {
	tt := drivers.NewTaskTable[string]("demo")
	tt.Put("a", "A")
	tt.Put("b", "B")
	tt.Put("b", "B2")
	tt.Delete("a")
	if _, ok := tt.Get("a"); ok {
		t.Error("a is still there after Delete")
	}
	if got := tt.All(); !slices.Equal(got, []string{"B2"}) {
		t.Errorf("All = %q, want [B2]", got)
	}
	if got := tt.Clear(); !slices.Equal(got, []string{"B2"}) {
		t.Errorf("Clear = %q, want [B2]", got)
	}
	if got := tt.All(); len(got) != 0 {
		t.Errorf("All after Clear = %q, want none", got)
	}
}

func TestTaskTableLookupOrRecover(t *testing.T) {
	h := &drivers.TaskHandle{TaskID: "a"}
	recoverErr := errors.New("bad state")
	tests := []struct {
		name    string
		known   bool
		recover func(*drivers.TaskTable[int]) error
		want    int
		wantErr error
		calls   int
	}{
		{name: "known", known: true, want: 1},
		{name: "recovered", recover: func(tt *drivers.TaskTable[int]) error { tt.Put("a", 2); return nil }, want: 2, calls: 1},
		{name: "recover fails", recover: func(*drivers.TaskTable[int]) error { return recoverErr }, wantErr: recoverErr, calls: 1},
		{name: "recover puts nothing", recover: func(*drivers.TaskTable[int]) error { return nil }, wantErr: drivers.ErrTaskNotFound, calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := drivers.NewTaskTable[int]("demo")
			if tc.known {
				tt.Put("a", 1)
			}
			calls := 0
			got, err := tt.LookupOrRecover(t.Context(), h, func(_ context.Context, rh *drivers.TaskHandle) error {
				calls++
				if rh != h {
					t.Errorf("recover got handle %v, want %v", rh, h)
				}
				return tc.recover(tt)
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want || calls != tc.calls {
				t.Errorf("got %v after %d recover calls, want %v after %d", got, calls, tc.want, tc.calls)
			}
		})
	}
}

func TestDecodeState(t *testing.T) {
	type state struct {
		PID int `json:"pid"`
	}
	tests := []struct {
		name    string
		h       *drivers.TaskHandle
		want    state
		wantErr string
	}{
		{name: "ours", h: &drivers.TaskHandle{Driver: "demo", TaskID: "a", State: json.RawMessage(`{"pid":7}`)}, want: state{PID: 7}},
		{name: "no driver named", h: &drivers.TaskHandle{TaskID: "a", State: json.RawMessage(`{"pid":8}`)}, want: state{PID: 8}},
		{name: "nil", h: nil, wantErr: "demo: nil task handle"},
		{name: "other driver", h: &drivers.TaskHandle{Driver: "other", TaskID: "a"}, wantErr: `demo: handle of task "a" belongs to driver "other"`},
		{name: "bad state", h: &drivers.TaskHandle{Driver: "demo", TaskID: "a", State: json.RawMessage(`[`)},
			wantErr: "demo: recover a: bad handle state: unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got state
			err := drivers.DecodeState("demo", tc.h, &got)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("DecodeState = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestTaskExit(t *testing.T) {
	var e drivers.TaskExit
	if e.Exited() {
		t.Fatal("zero TaskExit has exited")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := e.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait before exit = %v, want the context's error", err)
	}

	want := drivers.ExitResult{ExitCode: 3, Signal: 9}
	waited := make(chan drivers.ExitResult)
	go func() {
		res, err := e.Wait(t.Context())
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		waited <- res
	}()
	e.Set(want)
	if got := <-waited; got != want {
		t.Errorf("Wait = %+v, want %+v", got, want)
	}
	if !e.Exited() {
		t.Error("Exited is false after Set")
	}
	select {
	case <-e.Done():
	default:
		t.Error("Done is open after Set")
	}
}

func TestStopDefaults(t *testing.T) {
	withConfig := &drivers.TaskHandle{Config: &drivers.TaskConfig{KillSignal: "SIGQUIT", KillTimeout: 7 * time.Second}}
	tests := []struct {
		name        string
		h           *drivers.TaskHandle
		signal      string
		timeout     time.Duration
		wantSignal  string
		wantTimeout time.Duration
	}{
		{name: "caller's", h: withConfig, signal: "SIGUSR1", timeout: time.Second, wantSignal: "SIGUSR1", wantTimeout: time.Second},
		{name: "task's", h: withConfig, wantSignal: "SIGQUIT", wantTimeout: 7 * time.Second},
		{name: "driver's", h: &drivers.TaskHandle{Config: &drivers.TaskConfig{}}, wantTimeout: 5 * time.Second},
		{name: "no config", h: &drivers.TaskHandle{}, timeout: -1, wantTimeout: 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, timeout := drivers.StopDefaults(tc.h, tc.signal, tc.timeout, 5*time.Second)
			if sig != tc.wantSignal || timeout != tc.wantTimeout {
				t.Errorf("StopDefaults = %q, %v; want %q, %v", sig, timeout, tc.wantSignal, tc.wantTimeout)
			}
		})
	}
}

func TestTaskExitWaitTimeout(t *testing.T) {
	var running drivers.TaskExit
	if exited, err := running.WaitTimeout(t.Context(), 10*time.Millisecond); exited || err != nil {
		t.Errorf("WaitTimeout on a running task = %v, %v; want false, nil", exited, err)
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if exited, err := running.WaitTimeout(ended, time.Minute); exited || !errors.Is(err, context.Canceled) {
		t.Errorf("WaitTimeout with an ended context = %v, %v; want false, context.Canceled", exited, err)
	}
	var done drivers.TaskExit
	done.Set(drivers.ExitResult{})
	if exited, err := done.WaitTimeout(t.Context(), time.Minute); !exited || err != nil {
		t.Errorf("WaitTimeout on an exited task = %v, %v; want true, nil", exited, err)
	}
}
