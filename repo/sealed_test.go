package repo

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/droverhq/drover/cluster"
)

// testSealKey makes an age identity with its SealKeys.
func testSealKey(t *testing.T) (*age.X25519Identity, SealKeys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id, SealKeys{Identities: []age.Identity{id}, Fingerprints: []string{cluster.SealFingerprint(id.Recipient().String())}}
}

func mustSeal(t *testing.T, ns, p string, items map[string]string, recipients ...string) []byte {
	t.Helper()
	src, err := SealVariable(ns, p, items, recipients)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func parseOne(t *testing.T, name string, src []byte) *SealedVariable {
	t.Helper()
	vars, diags := ParseSealed(name, src)
	if diags.HasErrors() || len(vars) != 1 {
		t.Fatalf("parse %s: %v (%d variables)\n%s", name, diags, len(vars), src)
	}
	return vars[0]
}

// TestSealOpen: what is sealed opens, with each of the cluster's keys
// (current and previous), to the same items, bound to its namespace.
func TestSealOpen(t *testing.T) {
	old, _ := testSealKey(t)
	cur, _ := testSealKey(t)
	keys := SealKeys{Identities: []age.Identity{old, cur}, Fingerprints: []string{"age:old", "age:cur"}}
	for _, tc := range []struct {
		name       string
		ns, path   string
		items      map[string]string
		recipients []string
	}{
		{"one item", "", "app/db", map[string]string{"DB_PASSWORD": "hunter2"}, []string{cur.Recipient().String()}},
		{"several items, two recipients", "prod", "nomad/jobs/api", map[string]string{"a": "1", "b-c": "x\ny\n", "EMPTY": ""}, []string{cur.Recipient().String(), old.Recipient().String()}},
		{"sealed to the previous key", "default", "x", map[string]string{"K": strings.Repeat("v", 60<<10)}, []string{old.Recipient().String()}},
		{"quotes and heredoc markers", "default", "y", map[string]string{"K": "EOT\n\"${x}\" %{if}"}, []string{cur.Recipient().String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mustSeal(t, tc.ns, tc.path, tc.items, tc.recipients...)
			v := parseOne(t, tc.path+SealedFileSuffix, src)
			wantNS := tc.ns
			if wantNS == "" {
				wantNS = "default"
			}
			if v.Namespace != wantNS || v.Path != tc.path || len(v.Recipients) != len(tc.recipients) || v.Recipients[0] != cluster.SealFingerprint(tc.recipients[0]) {
				t.Fatalf("parsed %+v", v)
			}
			got, diags := v.Open(keys)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.items) {
				t.Fatalf("opened %q, want %q", got, tc.items)
			}
		})
	}
}

// TestSealedFileHoldsNoPlaintext is the attack test of the committed
// file: no value, nor any part of it, is in the text.
func TestSealedFileHoldsNoPlaintext(t *testing.T) {
	id, _ := testSealKey(t)
	secret := "s3cr3t-Pa55word-that-must-not-leak"
	src := string(mustSeal(t, "default", "app/db", map[string]string{"DB_PASSWORD": secret, "API_KEY": "abcdef0123456789"}, id.Recipient().String()))
	for _, needle := range []string{secret, secret[:12], "abcdef0123456789", "AGE-SECRET-KEY"} {
		if strings.Contains(strings.ToLower(src), strings.ToLower(needle)) {
			t.Fatalf("the sealed file contains %q:\n%s", needle, src)
		}
	}
	if !strings.Contains(src, "DB_PASSWORD") || !strings.Contains(src, cluster.SealFingerprint(id.Recipient().String())) {
		t.Fatalf("the sealed file lacks the key name or the fingerprint:\n%s", src)
	}
}

// TestSealedOpenErrors: a wrong key names the fingerprint the file needs
// and the cluster's; a tampered ciphertext and a ciphertext moved to
// another item or path are refused at the item's line; none of the
// messages holds the value.
func TestSealedOpenErrors(t *testing.T) {
	id, keys := testSealKey(t)
	other, _ := testSealKey(t)
	secret := "hunter2-hunter2"
	rcp := id.Recipient().String()
	good := string(mustSeal(t, "default", "app/db", map[string]string{"A": secret, "B": "other-value"}, rcp))
	lines := strings.Split(good, "\n")
	// The payload is the armor line before the footer of item A: flip
	// one base64 character of it.
	footer := -1
	for i, l := range lines {
		if strings.Contains(l, "END AGE ENCRYPTED FILE") {
			footer = i
			break
		}
	}
	tamperedLines := append([]string(nil), lines...)
	l := tamperedLines[footer-1]
	c := l[len(l)-3]
	r := byte('A')
	if c == 'A' {
		r = 'B'
	}
	tamperedLines[footer-1] = l[:len(l)-3] + string(r) + l[len(l)-2:]
	tampered := strings.Join(tamperedLines, "\n")

	// Moved: B's ciphertext under key A, and the whole file under
	// another path.
	vGood := parseOne(t, "good.sealed.hcl", []byte(good))
	moved := *vGood
	moved.Items = []SealedItem{{Key: "A", Ciphertext: vGood.Items[1].Ciphertext, Range: vGood.Items[0].Range}}
	repathed := *vGood
	repathed.Path = "attacker/readable"

	for _, tc := range []struct {
		name     string
		v        *SealedVariable
		keys     SealKeys
		want     []string
		wantLine int
	}{
		{"wrong key", parseOne(t, "w.sealed.hcl", mustSeal(t, "default", "app/db", map[string]string{"A": secret}, other.Recipient().String())), keys,
			[]string{"Sealed for another key", "sealed for age key " + cluster.SealFingerprint(other.Recipient().String()), "this cluster has " + keys.Fingerprints[0]}, 8},
		{"no key yet", vGood, SealKeys{}, []string{"no seal key yet"}, 8},
		{"tampered", parseOne(t, "t.sealed.hcl", []byte(tampered)), keys, []string{"tampered or corrupted"}, 8},
		{"moved to another item", &moved, keys, []string{"Sealed item moved"}, 8},
		{"moved to another path", &repathed, keys, []string{"Sealed item moved"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := tc.v.Open(tc.keys)
			if !diags.HasErrors() {
				t.Fatal("opened")
			}
			d := diags[0]
			msg := d.Summary + ": " + d.Detail
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if strings.Contains(diags.Error(), secret) || strings.Contains(diags.Error(), "other-value") {
				t.Fatalf("a diagnostic holds the value: %v", diags)
			}
			if d.Subject == nil || d.Subject.Start.Line != tc.wantLine || d.Subject.Filename == "" {
				t.Fatalf("position %v, want line %d", d.Subject, tc.wantLine)
			}
		})
	}
}

// TestParseSealedErrors: a malformed sealed file is refused at the
// position of what is wrong.
func TestParseSealedErrors(t *testing.T) {
	armored := "<<-EOT\n  -----BEGIN AGE ENCRYPTED FILE-----\n  YWdl\n  -----END AGE ENCRYPTED FILE-----\n  EOT\n"
	for _, tc := range []struct {
		name, src, want string
		line, col       int
	}{
		{"syntax", "sealed_variable \"a\" {\n  items = {\n", "Missing expression", 3, 1},
		{"empty", "# nothing\n", "No sealed variable", 1, 1},
		{"bad path", "sealed_variable \"../etc\" {\n  recipients = []\n  items = { A = " + armored + " }\n}\n", "Invalid variable path", 1, 17},
		{"missing items", "sealed_variable \"a\" {\n  recipients = []\n}\n", "Missing required argument", 1, 21},
		{"not armor", "sealed_variable \"a\" {\n  recipients = []\n  items = { A = \"plain\" }\n}\n", "Invalid sealed item", 3, 17},
		{"bad key", "sealed_variable \"a\" {\n  recipients = []\n  items = { \"a.b\" = " + armored + " }\n}\n", "Invalid item key", 3, 13},
		{"variables refused", "sealed_variable \"a\" {\n  recipients = []\n  items = { A = var.x }\n}\n", "Variables not allowed", 3, 17},
		{"unknown argument", "sealed_variable \"a\" {\n  value = \"x\"\n  recipients = []\n  items = { A = " + armored + " }\n}\n", "Unsupported argument", 2, 3},
		{"bad namespace", "sealed_variable \"a\" {\n  namespace = \"a b\"\n  recipients = []\n  items = { A = " + armored + " }\n}\n", "Invalid namespace", 2, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := ParseSealed("x.sealed.hcl", []byte(tc.src))
			if !diags.HasErrors() {
				t.Fatal("parsed")
			}
			d := diags[0]
			if !strings.Contains(d.Summary, tc.want) || d.Subject == nil || d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col || d.Subject.Filename != "x.sealed.hcl" {
				t.Fatalf("%s at %v, want %q at %d:%d", d.Summary, d.Subject, tc.want, tc.line, tc.col)
			}
		})
	}
}

// TestLoadSealedFiles: the loader keeps sealed files out of the jobs,
// reports a malformed one as file:line:col, and refuses the same
// variable sealed twice.
func TestLoadSealedFiles(t *testing.T) {
	id, _ := testSealKey(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"web.nomad.hcl":            minimalJob("web"),
		"secrets/db.sealed.hcl":    string(mustSeal(t, "default", "app/db", map[string]string{"P": "v"}, id.Recipient().String())),
		".hidden/x.sealed.hcl":     "garbage {",
		"secrets/other.sealed.hcl": string(mustSeal(t, "", "app/other", map[string]string{"P": "v"}, id.Recipient().String())),
	})
	r, err := NewLoader(LoadOptions{}).Load(context.Background(), DirSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	if r.HasErrors() || len(r.Jobs) != 1 || len(r.Sealed) != 2 || r.Sealed[0].Path != "app/db" || r.Sealed[0].File != "secrets/db.sealed.hcl" {
		t.Fatalf("jobs %d, sealed %d, %v", len(r.Jobs), len(r.Sealed), r.Diagnostics)
	}

	writeTree(t, dir, map[string]string{
		"secrets/dup.sealed.hcl": string(mustSeal(t, "default", "app/db", map[string]string{"P": "v"}, id.Recipient().String())),
		"secrets/bad.sealed.hcl": "sealed_variable \"a\" {\n  recipients = []\n  items = { A = \"plain\" }\n}\n",
	})
	r, err = NewLoader(LoadOptions{}).Load(context.Background(), DirSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, d := range r.Diagnostics {
		got += fmt.Sprintf("%s: %s\n", d.Subject, d.Summary)
	}
	for _, want := range []string{"secrets/bad.sealed.hcl:3,17-24: Invalid sealed item", "Duplicate sealed variable"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics %q lack %q", got, want)
		}
	}
}

// FuzzParseSealed: any input parses or fails with diagnostics, never a
// panic; what parses opens or fails with diagnostics.
func FuzzParseSealed(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	src, err := SealVariable("default", "app/db", map[string]string{"K": "v", "L": "w"}, []string{id.Recipient().String()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	f.Add([]byte("sealed_variable \"a\" {\n  recipients = []\n  items = {}\n}\n"))
	keys := SealKeys{Identities: []age.Identity{id}, Fingerprints: []string{"age:x"}}
	f.Fuzz(func(t *testing.T, src []byte) {
		vars, _ := ParseSealed("f.sealed.hcl", src)
		for _, v := range vars {
			_, _ = v.Open(keys)
		}
	})
}
