package allocrunner

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/jobspec"
)

// TestRestoredTemplateBaseline: after an agent restart, a template's
// first render is compared with what its file holds; only a difference
// (or a file that cannot be compared) writes it and counts as a change
// (change_mode applies). A FIFO or a link the task planted neither
// blocks the agent nor leads it outside the task directory.
func TestRestoredTemplateBaseline(t *testing.T) {
	const text = "pw=one\n"
	for _, tc := range []struct {
		name string
		// setup prepares local/app.conf in the task directory dir; host
		// is a directory outside it.
		setup   func(t *testing.T, dir, host string)
		changed bool
		// wantErr: the render cannot replace what is there, a template
		// failure as at start.
		wantErr bool
	}{
		{"same text on disk", func(t *testing.T, dir, _ string) { write(t, filepath.Join(dir, "local/app.conf"), text) }, false, false},
		{"other text on disk", func(t *testing.T, dir, _ string) { write(t, filepath.Join(dir, "local/app.conf"), "pw=old\n") }, true, false},
		{"file gone", func(*testing.T, string, string) {}, true, false},
		{"a FIFO", func(t *testing.T, dir, _ string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "local/app.conf"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"a directory", func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(filepath.Join(dir, "local/app.conf"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"a link to the host's file with the same text", func(t *testing.T, dir, host string) {
			write(t, filepath.Join(host, "app.conf"), text)
			if err := os.Symlink(filepath.Join(host, "app.conf"), filepath.Join(dir, "local/app.conf")); err != nil {
				t.Fatal(err)
			}
		}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, host := t.TempDir(), t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "local"), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, dir, host)
			tmpls := []jobspec.Template{{Data: text, Destination: "local/app.conf", ChangeMode: "signal", ChangeSignal: "SIGHUP"}}
			ts, _ := restoreTemplates(tmpls, taskenv.Dirs{Task: dir}, nil, taskenv.NewResolver(taskenv.Input{}, nil), nil, nil)
			done := make(chan struct{})
			var changed []int
			var err error
			go func() {
				defer close(done)
				changed, _, err = ts.rerender([]int{0}, time.Now(), os.Geteuid())
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the render after a restart blocked")
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got := len(changed) == 1; got != tc.changed {
				t.Errorf("changed = %v, want a change: %v", changed, tc.changed)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "local/app.conf")); string(b) != text {
				t.Errorf("app.conf = %q, want %q", b, text)
			}
			if b, err := os.ReadFile(filepath.Join(host, "app.conf")); err == nil && string(b) != text {
				t.Errorf("the host's file was written: %q", b)
			}
			// Later renders compare with the text, as before the restart.
			if again, _, err := ts.rerender([]int{0}, time.Now(), os.Geteuid()); err != nil || len(again) != 0 {
				t.Errorf("second render: changed %v, err %v", again, err)
			}
		})
	}
}

// TestRestoredTemplateEnv: an env = true template's variables come back
// from its file (for script checks and actions); one without a
// destination has no file to compare with, so its first render after a
// restart is taken as is, not as a change.
func TestRestoredTemplateEnv(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "secrets/app.env"), "DB=postgres://x\nexport MODE='prod'\n")
	tmpls := []jobspec.Template{
		{Data: "DB=postgres://x\nexport MODE='prod'\n", Destination: "secrets/app.env", Env: true},
		{Data: "ONLY_ENV=1\n", Env: true},
	}
	ts, tenv := restoreTemplates(tmpls, taskenv.Dirs{Task: dir}, nil, taskenv.NewResolver(taskenv.Input{}, nil), nil, nil)
	if tenv["DB"] != "postgres://x" || tenv["MODE"] != "prod" || len(tenv) != 2 {
		t.Errorf("env from the files: %v", tenv)
	}
	changed, _, err := ts.rerender([]int{0, 1}, time.Now(), os.Geteuid())
	if err != nil || len(changed) != 0 {
		t.Fatalf("changed %v, err %v; want none", changed, err)
	}
	ts.tmpls[1].Data = "ONLY_ENV=2\n"
	if changed, _, err := ts.rerender([]int{0, 1}, time.Now(), os.Geteuid()); err != nil || !slices.Equal(changed, []int{1}) {
		t.Fatalf("after a change: changed %v, err %v; want [1]", changed, err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRestoredEnvOnlyTemplateDigest: an env = true template without a
// destination is compared, after an agent restart, with the digest of
// its last render the agent kept: a change made while the agent was
// down counts as a change (its change_mode applies), the same text
// does not. Without a usable digest (none kept, or kept for another
// list of templates) the first render is adopted, as before digests.
func TestRestoredEnvOnlyTemplateDigest(t *testing.T) {
	r := taskenv.NewResolver(taskenv.Input{}, nil)
	tmpls := []jobspec.Template{
		{Data: "A=1\n", Destination: "local/a.conf"},
		{Data: "SECRET=s3cret-one\n", Env: true},
	}
	before := &taskTemplates{tmpls: tmpls, r: r, texts: []string{"A=1\n", "SECRET=s3cret-one\n"}}
	sums, err := envSums(before)
	if err != nil || sums == nil || len(sums.Sums) != 2 || sums.Sums[0] != nil || len(sums.Sums[1]) != 32 || len(sums.Key) != 32 {
		t.Fatalf("envSums = %+v, %v", sums, err)
	}
	if again, _ := envSums(before); string(again.Key) == string(sums.Key) || string(again.Sums[1]) == string(sums.Sums[1]) {
		t.Error("two records share a key or a digest: equal secrets would look equal")
	}
	other := *sums
	other.Sums = append([][]byte{nil}, sums.Sums...)
	for _, tc := range []struct {
		name    string
		sums    *localstate.TemplateSums
		data    string
		changed bool
	}{
		{"same text", sums, "SECRET=s3cret-one\n", false},
		{"changed while the agent was down", sums, "SECRET=s3cret-two\n", true},
		{"no digest kept: adopted", nil, "SECRET=s3cret-two\n", false},
		{"digests of another list of templates: adopted", &other, "SECRET=s3cret-two\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "local/a.conf"), "A=1\n")
			now := slices.Clone(tmpls)
			now[1].Data = tc.data
			ts, _ := restoreTemplates(now, taskenv.Dirs{Task: dir}, nil, r, nil, tc.sums)
			if ts.unsaved != (tc.sums != sums) {
				t.Errorf("unsaved = %v", ts.unsaved)
			}
			changed, _, err := ts.rerender([]int{0, 1}, time.Now(), os.Geteuid())
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool][]int{true: {1}, false: nil}[tc.changed]; !slices.Equal(changed, want) {
				t.Errorf("changed = %v, want %v", changed, want)
			}
			// Later renders compare with the text, as before the restart.
			if again, _, err := ts.rerender([]int{0, 1}, time.Now(), os.Geteuid()); err != nil || len(again) != 0 {
				t.Errorf("second render: changed %v, err %v", again, err)
			}
		})
	}
}
