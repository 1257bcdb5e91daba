package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A listing keeps what it read to hash a file, and ReadFile hands that out
// once, only for the File the listing returned: the bytes always match
// File.Hash, and anything else reads the disk.
func TestDirSourceReadsListedContentOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	big := strings.Repeat("x", maxListedFile+1)
	writeTree(t, dir, map[string]string{"a.hcl": "old", "big.hcl": big})
	src := DirSource(dir).(*dirSource)
	files, err := src.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if _, kept := src.listed["big.hcl"]; kept {
		t.Errorf("a file over %d bytes was kept", maxListedFile)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Without the listed hash, or with another one, the disk is read.
	for _, f := range []File{{Path: "a.hcl"}, {Path: "a.hcl", Hash: BlobHash([]byte("other"))}} {
		if b, err := src.ReadFile(ctx, f); err != nil || string(b) != "new" {
			t.Errorf("ReadFile(%+v) = %q, %v; want the file as it is now", f, b, err)
		}
	}
	// The listed File gets the listed bytes, which match its hash...
	a := byPath["a.hcl"]
	if b, err := src.ReadFile(ctx, a); err != nil || BlobHash(b) != a.Hash || string(b) != "old" {
		t.Errorf("ReadFile(listed) = %q, %v; want the listed content", b, err)
	}
	// ...once: they are given away, not shared.
	if b, err := src.ReadFile(ctx, a); err != nil || string(b) != "new" {
		t.Errorf("second ReadFile(listed) = %q, %v; want the disk read", b, err)
	}
	if b, err := src.ReadFile(ctx, byPath["big.hcl"]); err != nil || string(b) != big {
		t.Errorf("ReadFile(big) = %d bytes, %v", len(b), err)
	}
}

// A load reads the listing's content and then drops what it did not use
// (files of no job), rather than holding it until the next listing.
func TestLoadDropsListedContent(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"web.nomad.hcl": minimalJob("web"),
		"README.md":     "not a job",
	})
	src := DirSource(dir)
	r, err := NewLoader(LoadOptions{}).Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if r.HasErrors() || r.Jobs["web"] == nil {
		t.Fatalf("load: %v, jobs %v", r.Diagnostics, r.Jobs)
	}
	if n := len(src.(*dirSource).listed); n != 0 {
		t.Errorf("%d files' content still held after the load", n)
	}
}
