package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/droverhq/drover/gitsource/gittest"
)

// TestSealedVariableEndToEnd is issue 16's sealed secrets with the real
// binary: drover var seal with the dev server's recipient, commit, and
// the variable is readable (drover var get); a tampered file and a file
// sealed for another key are rejected at their position; deleting the
// file deletes the variable (prune). The plaintext is in no file of the
// repository, no sync status or history, no log line, no file of the
// data directory (Raft log and snapshots) and no snapshot saved through
// the API.
func TestSealedVariableEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	const secret = "pl41n-T3xt-pa55word-0f-the-db"
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"web.hcl": rawJob("web", 1, "/bin/sleep")})
	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	waitApplied(t, c, first)
	var outputs []string // everything the CLI printed, grepped at the end
	cli := func(dir string, args ...string) result {
		t.Helper()
		res := runDrover(t, dir, dev.env, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), res)
		outputs = append(outputs, res.stdout+res.stderr)
		return res
	}

	// Seal with the value read from a file outside the repository.
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, secret)
	if res := cli(r.Dir, "var", "seal", "app/db", "DB_PASSWORD=@"+pw, "USER=app"); res.code != 0 || !strings.Contains(res.stdout, "app/db.sealed.hcl") {
		t.Fatalf("var seal:\n%s", res)
	}
	sealed, err := os.ReadFile(filepath.Join(r.Dir, "app", "db.sealed.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	added := r.Commit("Seal the database password", nil)
	st := waitApplied(t, c, added)
	if st.Commits[0].Outcome != "applied" || len(st.Commits[0].Sealed) != 1 || !strings.Contains(st.Commits[0].Sealed[0], `"app/db" (sealed: 2 items)`) {
		t.Fatalf("the commit's record: %+v", st.Commits[0])
	}
	// The offline plan of the commit: path and count, no value.
	if res := cli(r.Dir, "plan", "--repo", ".", "--base", "HEAD~1", "--head", "HEAD"); res.code != 2 || !strings.Contains(res.stdout, `+ Variable "app/db" (sealed: 2 items)`) {
		t.Errorf("plan of the sealing commit:\n%s", res)
	}
	if res := cli(r.Dir, "plan", "--repo", ".", "--base", "HEAD~1", "--head", "HEAD", "-json"); !strings.Contains(res.stdout, `"path": "app/db"`) {
		t.Errorf("plan -json of the sealing commit:\n%s", res)
	}
	if res := cli(r.Dir, "var", "get", "app/db"); res.code != 0 || !strings.Contains(res.stdout, secret) {
		t.Fatalf("var get app/db does not show the value:\n%s", res)
	}
	outputs = outputs[:len(outputs)-1] // the one place the value belongs

	// Change one item: "(sealed: 1 item changed)".
	if res := cli(r.Dir, "var", "seal", "app/db", "DB_PASSWORD=@"+pw, "USER=app2"); res.code != 0 {
		t.Fatalf("reseal:\n%s", res)
	}
	changed := r.Commit("Rename the user", nil)
	if st := waitApplied(t, c, changed); len(st.Commits[0].Sealed) != 1 || !strings.Contains(st.Commits[0].Sealed[0], "(sealed: 1 item changed)") {
		t.Fatalf("the change's record: %+v", st.Commits[0])
	}

	// Tampered: one base64 character of the payload flipped. The commit
	// is rejected at the item's position and the variable is unchanged.
	lines := strings.Split(string(sealed), "\n")
	for i, l := range lines {
		if strings.Contains(l, "END AGE ENCRYPTED FILE") && strings.Contains(lines[i-1], "      ") {
			b := []byte(lines[i-1])
			j := len(b) - 3
			if b[j] == 'A' {
				b[j] = 'B'
			} else {
				b[j] = 'A'
			}
			lines[i-1] = string(b)
			break
		}
	}
	tampered := r.Commit("Tamper", map[string]string{"app/db.sealed.hcl": strings.Join(lines, "\n")})
	st = waitApplied(t, c, tampered)
	if st.Commits[0].Outcome != "rejected" || len(st.Commits[0].Errors) == 0 || !strings.Contains(st.Commits[0].Errors[0], "app/db.sealed.hcl:8:") || !strings.Contains(st.Commits[0].Errors[0], "tampered") {
		t.Fatalf("tampered commit: %+v", st.Commits[0])
	}
	if res := cli(r.Dir, "sync", "status"); !strings.Contains(res.stdout, "app/db.sealed.hcl:8:") {
		t.Errorf("sync status does not show the position:\n%s", res)
	}

	// Another cluster's key: the error names the key the file needs.
	restored := r.Commit("Restore", map[string]string{"app/db.sealed.hcl": string(sealed)}) // the first version
	if st := waitApplied(t, c, restored); st.Commits[0].Outcome != "applied" {
		t.Fatalf("restore: %+v", st.Commits[0])
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.age")
	writeFile(t, other, "# another cluster\n"+id.Recipient().String()+"\n")
	if res := cli(r.Dir, "var", "seal", "-recipient-file", other, "-out", "app/other.sealed.hcl", "app/other", "K=v"); res.code != 0 {
		t.Fatalf("seal offline:\n%s", res)
	}
	wrong := r.Commit("Another cluster's key", nil)
	st = waitApplied(t, c, wrong)
	if st.Commits[0].Outcome != "rejected" || !strings.Contains(strings.Join(st.Commits[0].Errors, "\n"), "sealed for age key age:") || !strings.Contains(strings.Join(st.Commits[0].Errors, "\n"), "app/other.sealed.hcl:8:") {
		t.Fatalf("wrong-key commit: %+v", st.Commits[0])
	}

	// Removing the files removes the variable (prune is on by default).
	r.Remove("app")
	removed := r.Commit("Remove the secrets", nil)
	st = waitApplied(t, c, removed)
	if st.Commits[0].Outcome != "applied" || !strings.Contains(strings.Join(st.Commits[0].Sealed, "\n"), `- Variable "app/db" (sealed: removed)`) {
		t.Fatalf("removal: %+v", st.Commits[0])
	}
	if _, _, err := c.Variables().Get(context.Background(), "default", "app/db", nil); err == nil {
		t.Errorf("app/db is still there after its file was removed")
	}

	// The attack test: the plaintext is nowhere but in var get's answer.
	if res := cli(r.Dir, "history", "web"); res.code != 0 {
		t.Errorf("history:\n%s", res)
	}
	cli(r.Dir, "sync", "status", "-json")
	snap := filepath.Join(t.TempDir(), "state.snap")
	if res := cli(r.Dir, "operator", "snapshot", "save", snap); res.code != 0 {
		t.Errorf("snapshot save:\n%s", res)
	}
	dev.checkNoPlaintext(t, secret, r, outputs, nil, filepath.Dir(snap))
}

// checkNoPlaintext fails the test for every place that holds secret: an
// output of the CLI, drover dev's log (server and agent), a file of the
// repository, of the data directory (Raft log and snapshots) or below
// dirs, but for the files in allowed (where the value belongs), and the
// repository's history.
func (d *devCluster) checkNoPlaintext(t *testing.T, secret string, r *gittest.Repo, outputs []string, allowed map[string]bool, dirs ...string) {
	t.Helper()
	for i, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("output %d shown to a user holds the plaintext:\n%s", i, o)
		}
	}
	if strings.Contains(d.proc.out.String(), secret) {
		t.Errorf("drover dev's log (server or agent) holds the plaintext")
	}
	for _, root := range append([]string{r.Dir, d.data}, dirs...) {
		_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || allowed[p] {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the plaintext", p)
			}
			return nil
		})
	}
	// Git's objects are compressed: ask git for every blob of history.
	if out := r.Git("log", "-p", "--all"); strings.Contains(out, secret) {
		t.Errorf("the repository's history holds the plaintext")
	}
}
