package server_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/repo"
	"github.com/droverhq/drover/server/servertest"
)

func sealFile(t *testing.T, path string, items map[string]string, recipient string) string {
	t.Helper()
	src, err := repo.SealVariable("default", path, items, []string{recipient})
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

func activeRecipient(t *testing.T, resp *api.SealRecipientsResponse) string {
	t.Helper()
	for _, r := range resp.Recipients {
		if r.Active {
			return r.Recipient
		}
	}
	t.Fatalf("no active recipient in %+v", resp)
	return ""
}

// TestSealKeysAndSealedSource: the first GET of the recipients creates
// one age key (and only one); a rotation adds a key while files sealed
// to the old one keep opening; the active key cannot be removed and an
// old one can, after which its files are rejected naming the key; a
// commit that leaves a sealed file unchanged writes nothing; the
// identities are sealed in the data directory (no AGE-SECRET-KEY, no
// plaintext value anywhere in it).
func TestSealKeysAndSealedSource(t *testing.T) {
	const secret = "s3aled-value-in-raft?"
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""))
	c := s.Client
	waitSync(t, c, "apps", "the first commit", applied(first))

	k1, err := c.Operator().SealRecipients(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Operator().SealRecipients(ctxT(t))
	if err != nil || len(k1.Recipients) != 1 || len(again.Recipients) != 1 || again.Recipients[0] != k1.Recipients[0] ||
		k1.Recipients[0].Fingerprint != cluster.SealFingerprint(k1.Recipients[0].Recipient) {
		t.Fatalf("recipients: %+v then %+v (%v)", k1, again, err)
	}
	old := activeRecipient(t, k1)

	a := r.Commit("Seal a", map[string]string{"a.sealed.hcl": sealFile(t, "app/a", map[string]string{"P": secret}, old)})
	st := waitSync(t, c, "apps", "sealed a", applied(a))
	if strings.Join(st.Commits[0].Sealed, ";") != `+ Variable "app/a" (sealed: 1 item)` || strings.Join(st.SealedVariables, ",") != "default/app/a" {
		t.Fatalf("after sealing a: %+v / %v", st.Commits[0], st.SealedVariables)
	}
	v, _, err := c.Variables().Get(ctxT(t), "default", "app/a", nil)
	if err != nil || v.Items["P"] != secret {
		t.Fatalf("app/a: %v %+v", err, v)
	}

	// A job-only commit leaves the variable as it is (no write).
	jobOnly := r.Commit("Scale web", map[string]string{"web.hcl": gittest.Job("web", 2)})
	st = waitSync(t, c, "apps", "the job-only commit", applied(jobOnly))
	if len(st.Commits[0].Sealed) != 0 {
		t.Errorf("a commit that does not touch sealed files changed %v", st.Commits[0].Sealed)
	}
	if v2, _, err := c.Variables().Get(ctxT(t), "default", "app/a", nil); err != nil || v2.ModifyIndex != v.ModifyIndex {
		t.Errorf("app/a rewritten by a job-only commit: %v %d → %d", err, v.ModifyIndex, v2.ModifyIndex)
	}

	// Rotate: the new key seals b, the old one still opens a.
	k2, err := c.Operator().SealRotate(ctxT(t))
	if err != nil || len(k2.Recipients) != 2 || k2.Recipients[0].Active || !k2.Recipients[1].Active {
		t.Fatalf("rotate: %+v %v", k2, err)
	}
	b := r.Commit("Seal b", map[string]string{"b.sealed.hcl": sealFile(t, "app/b", map[string]string{"Q": "x"}, activeRecipient(t, k2))})
	if st := waitSync(t, c, "apps", "sealed b", applied(b)); len(st.Commits[0].Sealed) != 1 {
		t.Fatalf("after sealing b: %+v", st.Commits[0])
	}

	// The active key stays; the old one goes, and a's file no longer opens.
	status, e := rawRequest(t, http.MethodDelete, "http://"+s.HTTPAddr()+"/v1/operator/seal/key/"+k2.Recipients[1].Fingerprint, "", nil)
	if status != http.StatusConflict || !strings.Contains(e.Error, "active") {
		t.Errorf("removing the active key: %d %q", status, e.Error)
	}
	if _, err := c.Operator().SealRemove(ctxT(t), k1.Recipients[0].Fingerprint); err != nil {
		t.Fatal(err)
	}
	touch := r.Commit("Reseal a with the removed key", map[string]string{"a.sealed.hcl": sealFile(t, "app/a", map[string]string{"P": secret}, old)})
	st = waitSync(t, c, "apps", "the commit sealed to a removed key", outcome(touch, cluster.CommitRejected))
	errs := strings.Join(st.Commits[0].Errors, "\n")
	if !strings.Contains(errs, "a.sealed.hcl:8:") || !strings.Contains(errs, "sealed for age key "+k1.Recipients[0].Fingerprint) ||
		!strings.Contains(errs, "this cluster has "+k2.Recipients[1].Fingerprint) {
		t.Errorf("rejection: %s", errs)
	}

	// Nothing secret in the data directory: Raft log, snapshots, files.
	_ = filepath.WalkDir(s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && (bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte("AGE-SECRET-KEY-"))) {
			t.Errorf("%s holds a value or an age identity in the clear", p)
		}
		return nil
	})
}
