package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBlobHashIsGitHash(t *testing.T) {
	// `printf 'hello\n' | git hash-object --stdin`
	if got, want := BlobHash([]byte("hello\n")), "ce013625030ba8dba906f756967f9e9ca394464a"; got != want {
		t.Errorf("BlobHash(hello) = %s, want %s", got, want)
	}
	if got, want := BlobHash(nil), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"; got != want {
		t.Errorf("BlobHash(empty) = %s, want %s", got, want)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	content := []byte(minimalJob("web") + "\x00binary\xff")
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "hash-object", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := BlobHash(content), strings.TrimSpace(string(out)); got != want {
		t.Errorf("BlobHash = %s, git hash-object = %s", got, want)
	}
}

func listPaths(t *testing.T, src Source) map[string]string {
	t.Helper()
	files, err := src.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, f := range files {
		m[f.Path] = f.Hash
	}
	return m
}

func TestDirSourceListing(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.hcl": minimalJob("outside")})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.hcl":               "a",
		"jobs/b.nomad.hcl":    "b",
		"jobs/deep/c.nomad":   "c",
		".git/config":         "x",
		".hidden/d.hcl":       "d",
		"jobs/.#e.hcl":        "e",
		"README.md":           "readme",
		"jobs/deep/more/f.hc": "f",
	})
	mustSymlink(t, "a.hcl", filepath.Join(dir, "link-in.hcl"))
	mustSymlink(t, filepath.Join(outside, "secret.hcl"), filepath.Join(dir, "link-out.hcl"))
	mustSymlink(t, "jobs", filepath.Join(dir, "linked-dir"))
	mustSymlink(t, "missing.hcl", filepath.Join(dir, "dangling.hcl"))
	mkfifo(t, filepath.Join(dir, "fifo.hcl"))

	got := listPaths(t, DirSource(dir))
	want := map[string]string{
		"README.md":           BlobHash([]byte("readme")),
		"a.hcl":               BlobHash([]byte("a")),
		"jobs/b.nomad.hcl":    BlobHash([]byte("b")),
		"jobs/deep/c.nomad":   BlobHash([]byte("c")),
		"jobs/deep/more/f.hc": BlobHash([]byte("f")),
		"link-in.hcl":         BlobHash([]byte("a")),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DirSource listed\n%v\nwant\n%v", got, want)
	}
	b, err := DirSource(dir).ReadFile(context.Background(), File{Path: "jobs/deep/c.nomad"})
	if err != nil || string(b) != "c" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
}

func TestDirSourceHashCache(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.hcl": "aaaa", "b.hcl": "bbbb"})
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"a.hcl", "b.hcl"} {
		if err := os.Chtimes(filepath.Join(dir, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	src := DirSource(dir)
	first := listPaths(t, src)

	// Same size, same mtime, different content: only the ctime (and the
	// inode, when written by rename) gives the edit away.
	name := filepath.Join(dir, "a.hcl")
	if err := os.WriteFile(name, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, old, old); err != nil {
		t.Fatal(err)
	}
	second := listPaths(t, src)
	if second["a.hcl"] != BlobHash([]byte("AAAA")) {
		t.Errorf("edited a.hcl kept its stale hash %s", second["a.hcl"])
	}
	if second["b.hcl"] != first["b.hcl"] {
		t.Errorf("b.hcl hash changed")
	}

	// A freshly written file is racy: never served from the cache.
	if err := os.WriteFile(filepath.Join(dir, "c.hcl"), []byte("c1"), 0o644); err != nil {
		t.Fatal(err)
	}
	listPaths(t, src)
	if _, ok := src.(*dirSource).cache["c.hcl"]; ok {
		t.Error("a file modified just now was cached")
	}
	if _, ok := src.(*dirSource).cache["b.hcl"]; !ok {
		t.Error("an old file was not cached")
	}

	// Deleted files leave the cache.
	if err := os.Remove(filepath.Join(dir, "b.hcl")); err != nil {
		t.Fatal(err)
	}
	listPaths(t, src)
	if _, ok := src.(*dirSource).cache["b.hcl"]; ok {
		t.Error("deleted file still cached")
	}
}

func TestFileSourceTooLarge(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "huge.hcl")
	if err := os.WriteFile(name, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewLoader(LoadOptions{}).Load(context.Background(), FileSource(name))
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasErrors() || r.Diagnostics[0].Summary != "File too large" {
		t.Errorf("diagnostics = %v, want File too large", r.Diagnostics)
	}
}

func TestDirSourceMissing(t *testing.T) {
	_, err := DirSource(filepath.Join(t.TempDir(), "nope")).Files(context.Background())
	if err == nil {
		t.Fatal("listing a missing folder succeeded")
	}
}

// The sorted view of the hash cache must hold exactly the map's content
// after every listing, whether it was patched or rebuilt.
func TestDirSourceCachedView(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.hcl": "a", "b/c.hcl": "c", "d.hcl": "d"})
	ageFiles(t, dir)
	src := DirSource(dir).(*dirSource)
	check := func(step string) {
		t.Helper()
		listPaths(t, src)
		want := make([]cachedFile, 0, len(src.cache))
		for rel, c := range src.cache {
			want = append(want, cachedFile{rel, c})
		}
		slices.SortFunc(want, func(a, b cachedFile) int { return strings.Compare(a.rel, b.rel) })
		if !reflect.DeepEqual(src.cached, want) {
			t.Errorf("%s: sorted view %v, map %v", step, src.cached, want)
		}
	}
	check("first listing")
	writeTree(t, dir, map[string]string{"b/c.hcl": "cc"}) // racy: leaves the cache
	check("racy edit")
	ageFiles(t, dir)
	check("aged again")
	writeTree(t, dir, map[string]string{"b/b.hcl": "b", "c.hcl": "c"})
	ageFiles(t, dir)
	check("files added")
	if err := os.Remove(filepath.Join(dir, "a.hcl")); err != nil {
		t.Fatal(err)
	}
	check("file removed")
	if len(src.cached) != 4 {
		t.Errorf("%d files cached, want 4", len(src.cached))
	}
}

// A folder's entries are reused while its stat is unchanged; adding or
// removing a file changes it, and the next listing reads the folder.
func TestDirSourceFolderCache(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.hcl": "a", "jobs/b.hcl": "b"})
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"a.hcl", "jobs/b.hcl", "jobs", "."} {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	src := DirSource(dir).(*dirSource)
	listPaths(t, src)
	if _, ok := src.folders["jobs"]; !ok {
		t.Fatalf("an old folder's entries were not kept: %v", src.folders)
	}
	writeTree(t, dir, map[string]string{"jobs/c.hcl": "c"})
	if got := listPaths(t, src); got["jobs/c.hcl"] != BlobHash([]byte("c")) {
		t.Errorf("a file added to a cached folder was not listed: %v", got)
	}
	if _, ok := src.folders["jobs"]; ok {
		t.Error("a folder changed just now was kept")
	}
	if err := os.Remove(filepath.Join(dir, "jobs/b.hcl")); err != nil {
		t.Fatal(err)
	}
	if got := listPaths(t, src); len(got) != 2 || got["jobs/b.hcl"] != "" {
		t.Errorf("after removing jobs/b.hcl: %v", got)
	}
}
