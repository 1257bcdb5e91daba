package gitsource_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/droverhq/drover/gitsource"
)

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("s"), []byte(`{"ref":"refs/heads/main"}`)
	good := gitsource.SignatureHeader(secret, body)
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"good", good, true},
		{"missing", "", false},
		{"sha1", "sha1=" + strings.TrimPrefix(good, "sha256=")[:40], false},
		{"upper-case algo", "SHA256=" + strings.TrimPrefix(good, "sha256="), false},
		{"not hex", "sha256=zz", false},
		{"short", good[:20], false},
		{"flipped", good[:len(good)-1] + "0", good[len(good)-1] == '0'},
	} {
		err := gitsource.VerifySignature(secret, body, tc.header)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, gitsource.ErrSignature)) {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if gitsource.VerifySignature(nil, body, good) == nil {
		t.Error("an empty secret verified")
	}
}

func TestPushEvent(t *testing.T) {
	p, err := gitsource.ParsePush([]byte(`{"ref":"refs/heads/main","after":"abc","repository":{"clone_url":"https://github.com/Acme/Deploy.git","ssh_url":"git@github.com:Acme/Deploy.git"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Deploys("main") || p.Deploys("dev") {
		t.Error("Deploys")
	}
	for _, u := range []string{"https://github.com/acme/deploy", "ssh://git@github.com/acme/deploy.git", "git@github.com:acme/deploy.git", "https://user:tok@github.com/acme/deploy.git"} {
		if !p.SameRepo(u) {
			t.Errorf("SameRepo(%s) = false", u)
		}
	}
	if p.SameRepo("https://github.com/acme/other.git") {
		t.Error("SameRepo matched another repository")
	}
	tag, _ := gitsource.ParsePush([]byte(`{"ref":"refs/tags/v1","after":"abc"}`))
	del, _ := gitsource.ParsePush([]byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true}`))
	if tag.Deploys("main") || del.Deploys("main") {
		t.Error("a tag push or a branch deletion deploys")
	}
	if _, err := gitsource.ParsePush([]byte(`{}`)); err == nil {
		t.Error("a push without ref parsed")
	}
}

func TestDeliveriesBounded(t *testing.T) {
	d := gitsource.NewDeliveries(3)
	if !d.First("a") || d.First("a") {
		t.Fatal("de-dup")
	}
	for i := range 10 {
		d.First(fmt.Sprint(i))
	}
	if !d.First("a") {
		t.Error("the oldest ID was not forgotten")
	}
}

func TestScrub(t *testing.T) {
	err := fmt.Errorf("fetch https://deploy:hunter2@example.com/r.git: token tok123 refused: %w", gitsource.ErrAuth)
	s := gitsource.Scrub(err, "tok123")
	if strings.Contains(s.Error(), "hunter2") || strings.Contains(s.Error(), "tok123") || !errors.Is(s, gitsource.ErrAuth) {
		t.Errorf("scrubbed = %v", s)
	}
}

func TestIsLocalPath(t *testing.T) {
	for u, want := range map[string]bool{"/srv/repo": true, "./repo": true, "repo": true, "file:///srv/repo": false,
		"https://h/r.git": false, "git@github.com:a/b.git": false, "ssh://git@h/r": false} {
		if gitsource.IsLocalPath(u) != want {
			t.Errorf("IsLocalPath(%s) != %v", u, want)
		}
	}
}
