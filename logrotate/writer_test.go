package logrotate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newWriter(t *testing.T, dir string, maxFiles int, maxSize int64) *Writer {
	t.Helper()
	w, err := New(Config{Dir: dir, Name: "web.stdout", MaxFiles: maxFiles, MaxFileSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// contents maps file name to content for the rotated files in dir.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := Files(dir, "web.stdout")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		got[filepath.Base(f.Path)] = string(b)
	}
	return got
}

func TestRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFiles int
		maxSize  int64
		writes   []string
		want     map[string]string
	}{
		{"fits in one", 3, 10, []string{"abc", "def"}, map[string]string{"web.stdout.0": "abcdef"}},
		{"exact fill does not open a new file", 3, 3, []string{"abc"}, map[string]string{"web.stdout.0": "abc"}},
		{"write split at the boundary", 3, 4, []string{"abcdef"}, map[string]string{"web.stdout.0": "abcd", "web.stdout.1": "ef"}},
		{"one write spans files", 5, 2, []string{"abcdefg"}, map[string]string{
			"web.stdout.0": "ab", "web.stdout.1": "cd", "web.stdout.2": "ef", "web.stdout.3": "g"}},
		{"oldest purged", 2, 2, []string{"ab", "cd", "ef", "g"}, map[string]string{"web.stdout.2": "ef", "web.stdout.3": "g"}},
		{"one file kept", 1, 3, []string{"abcdefgh"}, map[string]string{"web.stdout.2": "gh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newWriter(t, dir, tc.maxFiles, tc.maxSize)
			for _, s := range tc.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			got := contents(t, dir)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("files = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReopenContinuesNewestFile(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, 3, 4)
	if _, err := w.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	// A restarted task (or shim) appends to .1 and rotates from there.
	w2 := newWriter(t, dir, 3, 4)
	if _, err := w2.Write([]byte("ghijk")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web.stdout.0": "abcd", "web.stdout.1": "efgh", "web.stdout.2": "ijk"}
	if got := contents(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestLoweredMaxFilesPurgesOnOpen(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, 10, 1)
	if _, err := w.Write([]byte("abcde")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	newWriter(t, dir, 2, 1)
	want := map[string]string{"web.stdout.3": "d", "web.stdout.4": "e"}
	if got := contents(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestFilesOrderAndFilter(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"web.stdout.10", "web.stdout.9", "web.stdout.0", "web.stdout.01", "web.stdout.x", "web.stdout.-1", "web.stderr.3", "web.stdout"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "web.stdout.11"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir, "web.stdout")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%d:%d", f.Index, f.Size))
	}
	if want := "0:12 9:12 10:13"; strings.Join(got, " ") != want {
		t.Errorf("Files = %v, want %s", got, want)
	}
	if files, err := Files(filepath.Join(dir, "missing"), "x"); err != nil || files != nil {
		t.Errorf("Files(missing dir) = %v, %v", files, err)
	}
}

func TestConcurrentWritesStayWhole(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, 1000, 100)
	line := bytes.Repeat([]byte("x"), 9)
	line = append(line, '\n')
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := w.Write(line); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var all []byte
	files, _ := Files(dir, "web.stdout")
	for _, f := range files {
		b, _ := os.ReadFile(f.Path)
		all = append(all, b...)
		if f.Size > 100 {
			t.Errorf("%s is %d bytes, over the limit", f.Path, f.Size)
		}
	}
	if want := bytes.Repeat(line, 800); !bytes.Equal(all, want) {
		t.Errorf("concatenated files are %d bytes, want %d whole lines", len(all), len(want))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "a", MaxFiles: 1, MaxFileSize: 1},
		{Dir: "d", MaxFiles: 1, MaxFileSize: 1},
		{Dir: "d", Name: "a", MaxFileSize: 1},
		{Dir: "d", Name: "a", MaxFiles: 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	w, err := New(Config{Dir: b.TempDir(), Name: "bench", MaxFiles: 2, MaxFileSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	buf := bytes.Repeat([]byte("0123456789abcdef"), 2048) // 32 KiB, an io.Copy chunk
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// A link planted in place of a log file is not followed: the writer
// (root, in a task's shim) must not append to or truncate a host file.
func TestWriterDoesNotFollowPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "host-file")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "task.stdout.0")); err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Dir: dir, Name: "task.stdout", MaxFiles: 2, MaxFileSize: 1 << 20})
	if err == nil {
		_, _ = w.Write([]byte("attack"))
		_ = w.Close()
		t.Fatal("the writer opened a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("the host file was changed to %q", b)
	}
}
