package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/repo"
)

// benchJobs is the size of the benchmark repository: a large
// organisation's job repository.
const (
	benchJobs  = 10000
	benchTeams = 40
)

// benchPath spreads the jobs over team folders, as real repositories do.
func benchPath(i int) string {
	return fmt.Sprintf("jobs/team-%02d/svc-%05d.nomad.hcl", i%benchTeams, i)
}

// benchFiles is the benchmark repository's content.
func benchFiles() map[string]string {
	files := map[string]string{"drover.hcl": "paths = [\"jobs/**\"]\nsensitive = [\"*_URL\"]\n"}
	for i := range benchJobs {
		files[benchPath(i)] = repo.ServiceJobForTest(i)
	}
	return files
}

func mustLoad(b *testing.B, l *repo.Loader, src repo.Source) *repo.Repo {
	b.Helper()
	r, err := l.Load(context.Background(), src)
	if err != nil {
		b.Fatal(err)
	}
	if r.HasErrors() {
		var buf bytes.Buffer
		_ = r.WriteDiagnostics(&buf, 0, false)
		b.Fatalf("%d diagnostics:\n%.2000s", len(r.Diagnostics), buf.String())
	}
	if len(r.Jobs) != benchJobs {
		b.Fatalf("%d jobs, want %d", len(r.Jobs), benchJobs)
	}
	return r
}

// BenchmarkLoadRepo is a cold load: nothing cached, every file listed,
// hashed, read and parsed.
func BenchmarkLoadRepo(b *testing.B) {
	b.Run("dir", func(b *testing.B) {
		dir := b.TempDir()
		repo.WriteTreeForTest(b, dir, benchFiles())
		cpu0, n := cpuTime(), 0
		for b.Loop() {
			n++
			mustLoad(b, repo.NewLoader(repo.LoadOptions{}), repo.DirSource(dir))
		}
		reportCPU(b, cpu0, n)
	})
	benchLoadFormats(b)
	for _, packed := range []bool{false, true} {
		name := map[bool]string{false: "git-loose", true: "git-packed"}[packed]
		b.Run(name, func(b *testing.B) {
			dir, commit := benchGitRepo(b, packed)
			cpu0, n := cpuTime(), 0
			for b.Loop() {
				n++
				// A fresh Repository too: go-git's object cache is cold.
				g, err := gitsource.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				mustLoad(b, repo.NewLoader(repo.LoadOptions{}), g.Snapshot(&gitsource.Commit{SHA: commit.String()}))
			}
			reportCPU(b, cpu0, n)
		})
	}
}

// BenchmarkParseJobFile parses one of BenchmarkLoadRepo's files (one
// that declares variables, as every third does). A cold load of the
// 10,000 files can be no faster than 10,000 of these spread over the
// cores: hclsyntax alone sets that floor.
func BenchmarkParseJobFile(b *testing.B) {
	src := []byte(repo.ServiceJobForTest(0))
	b.Run("hclsyntax", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, diags := hclsyntax.ParseConfig(src, "svc.nomad.hcl", hcl.InitialPos); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	})
	b.Run("jobspec", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if f, diags := jobspec.Parse("svc.nomad.hcl", src, &jobspec.ParseOptions{}); f == nil {
				b.Fatal(diags)
			}
		}
	})
}

// BenchmarkReloadOneChanged reloads the repository after one job file
// changed: the case of a watch loop or of diffing consecutive commits.
func BenchmarkReloadOneChanged(b *testing.B) {
	b.Run("dir", func(b *testing.B) {
		dir := b.TempDir()
		repo.WriteTreeForTest(b, dir, benchFiles())
		repo.AgeFilesForTest(b, dir)
		l := repo.NewLoader(repo.LoadOptions{})
		src := repo.DirSource(dir)
		mustLoad(b, l, src)
		cpu0, n := cpuTime(), 0
		for b.Loop() {
			n++
			repo.WriteTreeForTest(b, dir, map[string]string{benchPath(7): changed(n)})
			before := l.Stats().Parses
			mustLoad(b, l, src)
			if got := l.Stats().Parses - before; got != 1 {
				b.Fatalf("reload parsed %d files, want 1", got)
			}
		}
		reportCPU(b, cpu0, n)
	})
	for _, packed := range []bool{false, true} {
		name := map[bool]string{false: "git-loose", true: "git-packed"}[packed]
		b.Run(name, func(b *testing.B) {
			dir, commit := benchGitRepo(b, packed)
			g, err := gitsource.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			l := repo.NewLoader(repo.LoadOptions{})
			mustLoad(b, l, g.Snapshot(&gitsource.Commit{SHA: commit.String()}))
			st := openStorer(b, dir)
			n := 0
			for b.Loop() {
				n++
				b.StopTimer()
				commit = commitChange(b, st, commit, benchPath(7), changed(n))
				b.StartTimer()
				before := l.Stats().Parses
				mustLoad(b, l, g.Snapshot(&gitsource.Commit{SHA: commit.String()}))
				if got := l.Stats().Parses - before; got != 1 {
					b.Fatalf("reload parsed %d files, want 1", got)
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time per op since cpu0. The
// machine is shared: CPU time is steadier than wall time, and against
// wall time it shows whether the load kept both cores busy.
func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(n)/1e6, "cpu-ms/op")
	}
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// changed is job 7 with its n-th edit.
func changed(n int) string {
	return strings.Replace(repo.ServiceJobForTest(7), `LOG_LEVEL = "info"`, fmt.Sprintf(`LOG_LEVEL = "debug-%d"`, n), 1)
}

// benchGitRepo builds the benchmark repository as one commit, writing
// objects straight to the store: adding 10,000 files through a worktree
// takes minutes with go-git. packed repacks it with the git CLI, as a
// clone would be.
func benchGitRepo(b *testing.B, packed bool) (string, plumbing.Hash) {
	b.Helper()
	if packed {
		if _, err := exec.LookPath("git"); err != nil {
			b.Skip("SKIPPING: the git CLI is not installed; cannot repack")
		}
	}
	dir := b.TempDir()
	if _, err := git.PlainInit(dir, false); err != nil {
		b.Fatal(err)
	}
	st := openStorer(b, dir)
	root := writeTree(b, st, benchFiles())
	h := writeCommit(b, st, root, plumbing.ZeroHash)
	if err := st.SetReference(plumbing.NewHashReference("refs/heads/master", h)); err != nil {
		b.Fatal(err)
	}
	if packed {
		if out, err := exec.Command("git", "-C", dir, "repack", "-adq").CombinedOutput(); err != nil {
			b.Fatalf("git repack: %v\n%s", err, out)
		}
	}
	return dir, h
}

func openStorer(b *testing.B, dir string) storage.Storer {
	b.Helper()
	g, err := git.PlainOpen(dir)
	if err != nil {
		b.Fatal(err)
	}
	return g.Storer
}

// node is a folder being built into a tree object.
type node struct {
	files map[string]plumbing.Hash
	dirs  map[string]*node
}

func writeTree(b *testing.B, st storage.Storer, files map[string]string) plumbing.Hash {
	b.Helper()
	root := &node{files: map[string]plumbing.Hash{}, dirs: map[string]*node{}}
	for p, content := range files {
		n := root
		parts := strings.Split(p, "/")
		for _, d := range parts[:len(parts)-1] {
			if n.dirs[d] == nil {
				n.dirs[d] = &node{files: map[string]plumbing.Hash{}, dirs: map[string]*node{}}
			}
			n = n.dirs[d]
		}
		n.files[parts[len(parts)-1]] = writeBlob(b, st, content)
	}
	return writeNode(b, st, root)
}

func writeBlob(b *testing.B, st storage.Storer, content string) plumbing.Hash {
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		b.Fatal(err)
	}
	w.Write([]byte(content))
	w.Close()
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func writeNode(b *testing.B, st storage.Storer, n *node) plumbing.Hash {
	var t object.Tree
	for name, h := range n.files {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, d := range n.dirs {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: writeNode(b, st, d)})
	}
	return storeTree(b, st, &t)
}

func storeTree(b *testing.B, st storage.Storer, t *object.Tree) plumbing.Hash {
	// Git orders entries by name, folders compared as if they ended in /.
	sortEntries(t.Entries)
	obj := st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		b.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func sortEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && key(es[j]) < key(es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func writeCommit(b *testing.B, st storage.Storer, tree, parent plumbing.Hash) plumbing.Hash {
	sig := object.Signature{Name: "Bench", Email: "bench@example.com", When: time.Unix(1767225600, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "bench\n", TreeHash: tree}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		b.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// commitChange makes a child of parent where the file at p has content,
// rewriting only the trees on p's path.
func commitChange(b *testing.B, st storage.Storer, parent plumbing.Hash, p, content string) plumbing.Hash {
	b.Helper()
	pc, err := object.GetCommit(st, parent)
	if err != nil {
		b.Fatal(err)
	}
	var replace func(tree plumbing.Hash, parts []string) plumbing.Hash
	replace = func(tree plumbing.Hash, parts []string) plumbing.Hash {
		t, err := object.GetTree(st, tree)
		if err != nil {
			b.Fatal(err)
		}
		nt := &object.Tree{Entries: append([]object.TreeEntry(nil), t.Entries...)}
		for i, e := range nt.Entries {
			if e.Name != parts[0] {
				continue
			}
			if len(parts) == 1 {
				nt.Entries[i].Hash = writeBlob(b, st, content)
			} else {
				nt.Entries[i].Hash = replace(e.Hash, parts[1:])
			}
			return storeTree(b, st, nt)
		}
		b.Fatalf("no %s in tree", path.Join(parts...))
		return plumbing.ZeroHash
	}
	return writeCommit(b, st, replace(pc.TreeHash, strings.Split(p, "/")), parent)
}

// BenchmarkList measures listing alone, the floor of a reload.
func BenchmarkList(b *testing.B) {
	b.Run("dir", func(b *testing.B) {
		dir := b.TempDir()
		repo.WriteTreeForTest(b, dir, benchFiles())
		repo.AgeFilesForTest(b, dir)
		src := repo.DirSource(dir)
		for b.Loop() {
			if _, err := src.Files(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git-packed", func(b *testing.B) {
		dir, commit := benchGitRepo(b, true)
		g, err := gitsource.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := g.Snapshot(&gitsource.Commit{SHA: commit.String()}).Files(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Logf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0))
}
