package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

func sv(path string, items ...string) *repo.SealedVariable {
	v := &repo.SealedVariable{Namespace: "default", Path: path}
	for _, it := range items {
		k, ct, _ := strings.Cut(it, "=")
		v.Items = append(v.Items, repo.SealedItem{Key: k, Ciphertext: ct})
	}
	return v
}

// TestSealedPlanNotes: without the cluster's keys a plan counts the
// items added, removed or sealed again, and lists removed files only
// when the source prunes.
func TestSealedPlanNotes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		base, head []*repo.SealedVariable
		prune      bool
		want       string
	}{
		{"new", nil, []*repo.SealedVariable{sv("a", "K=1", "L=2")}, true, `+ Variable "a" (sealed: 2 items)`},
		{"unchanged", []*repo.SealedVariable{sv("a", "K=1")}, []*repo.SealedVariable{sv("a", "K=1")}, true, ``},
		{"one resealed, one added, one removed", []*repo.SealedVariable{sv("a", "K=1", "M=3")}, []*repo.SealedVariable{sv("a", "K=9", "L=2")}, true, `~ Variable "a" (sealed: 3 items resealed)`},
		{"removed, prune", []*repo.SealedVariable{sv("a", "K=1")}, nil, true, `- Variable "a" (sealed: removed)`},
		{"removed, no prune", []*repo.SealedVariable{sv("a", "K=1")}, nil, false, ``},
	} {
		got := strings.TrimSpace(render.SealedText(sealedPlanNotes(tc.base, tc.head, tc.prune)))
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestReadRecipientFile: age recipient lines with comments; anything
// else is refused with its line.
func TestReadRecipientFile(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		content, want string
		n             int
	}{
		{"# key\nage1abc\n\n  age1def  \n", "", 2},
		{"# only comments\n", "holds no age1", 0},
		{"age1abc\nssh-ed25519 AAAA\n", ":2: not an age X25519 recipient", 0},
		{strings.Repeat("#", 70<<10), "larger than 64 KiB", 0},
	} {
		name := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(name, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readRecipientFile(name)
		if tc.want == "" && (err != nil || len(got) != tc.n) || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%d: %v %v, want %q", i, got, err, tc.want)
		}
	}
}
