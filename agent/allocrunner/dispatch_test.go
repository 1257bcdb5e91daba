package allocrunner

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// TestDecideMaxRunDuration: a task killed for outlasting
// max_run_duration ends the allocation without its poststop tasks.
func TestDecideMaxRunDuration(t *testing.T) {
	main := taskView{Name: "main", Launched: true, Dead: true, Failed: true, TimedOut: true}
	stop := taskView{Name: "stop", Hook: hookPoststop}
	side := taskView{Name: "side", Hook: hookPrestart, Sidecar: true, Launched: true, Running: true}
	for _, tc := range []struct {
		name  string
		tasks []taskView
		want  step
	}{
		{"the others are killed first", []taskView{side, main, stop}, step{Kill: []string{"side"}, KillReason: reasonFailed}},
		{"poststop skipped, not launched", []taskView{main, stop}, step{Skip: []string{"stop"}}},
		{"then finished", []taskView{main, {Name: "stop", Hook: hookPoststop, Dead: true}}, step{Finished: true}},
		{"a plain failure still runs poststop", []taskView{{Name: "main", Launched: true, Dead: true, Failed: true}, stop}, step{Launch: []string{"stop"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.tasks, false); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMaxRunDurationOf(t *testing.T) {
	g := &jobspec.Group{MaxRunDuration: 5 * time.Second}
	for _, tc := range []struct {
		name  string
		batch bool
		g     *jobspec.Group
		task  time.Duration
		want  time.Duration
	}{
		{"group's", true, g, 0, 5 * time.Second},
		{"the task's overrides the group's", true, g, 2 * time.Second, 2 * time.Second},
		{"a longer task value too", true, g, time.Minute, time.Minute},
		{"none", true, &jobspec.Group{}, 0, 0},
		{"a service has none", false, g, time.Second, 0},
	} {
		if got := maxRunDuration(tc.batch, tc.g, &jobspec.Task{MaxRunDuration: tc.task}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckJobID(t *testing.T) {
	for id, ok := range map[string]bool{
		"web": true, "encode/dispatch-1700000000-0a1b2c3d": true, "report/periodic-1700000000": true,
		"a/../b": false, "a//b": false, "/abs": false, "a/.hidden": false, "a/b c": false,
	} {
		if err := checkJobID(id); (err == nil) != ok {
			t.Errorf("checkJobID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

// TestDispatchPayloadFile: the payload lands in local/<file>, 0644,
// subdirectories made; a name that leaves local/ is refused; a link the
// task planted is replaced, never written through.
func TestDispatchPayloadFile(t *testing.T) {
	local := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	task := func(file string) *jobspec.Task {
		return &jobspec.Task{Name: "t", DispatchPayload: &jobspec.DispatchPayload{File: file}}
	}
	if err := writeDispatchPayload(task("in/data.json"), []byte(`{"a":1}`), local); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(local, "in", "data.json"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("payload file: %v, mode %v", err, fi)
	}
	if err := writeDispatchPayload(task("empty"), nil, local); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(local, "empty")); err != nil || fi.Size() != 0 {
		t.Errorf("an empty payload makes an empty file, as in Nomad: %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x"} {
		if err := writeDispatchPayload(task(bad), []byte("x"), local); err == nil {
			t.Errorf("file %q: written, want refused", bad)
		}
	}
	if err := os.Symlink(outside, filepath.Join(local, "link")); err != nil {
		t.Fatal(err)
	}
	if err := writeDispatchPayload(task("link"), []byte("payload"), local); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Errorf("the payload was written through a link the task planted: %q", b)
	}
	if writeDispatchPayload(&jobspec.Task{Name: "t"}, []byte("x"), local) != nil {
		t.Error("a task without dispatch_payload: want nothing done")
	}
}
