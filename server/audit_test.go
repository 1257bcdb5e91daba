package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func TestAuditRecordsWritesNotReadsNorSecrets(t *testing.T) {
	s := aclServer(t)
	ctx := context.Background()
	rwSecret := mustToken(t, s.Client, "rw", `namespace "default" { policy = "write" }`)
	roSecret := mustToken(t, s.Client, "ro", `namespace "default" { policy = "read" }`)
	rw, ro := clientFor(t, s, rwSecret), clientFor(t, s, roSecret)
	rwSelf, err := rw.ACL().Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roSelf, err := ro.ACL().Self(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := rw.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("audited", 1, ""))}); err != nil {
		t.Fatalf("register with a write token: %v", err)
	}
	if _, err := ro.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("refused", 1, ""))}); statusCode(err) != http.StatusForbidden {
		t.Fatalf("register with a read token: %v, want 403", err)
	}
	if _, _, err := rw.Jobs().List(ctx, nil); err != nil {
		t.Fatal(err)
	}

	var entries []*cluster.AuditEntry
	servertest.WaitFor(t, "the audit entries", func() bool {
		entries, _, err = s.Client.Operator().Audit(ctx, "1h", nil)
		return err == nil && len(auditFor(entries, rwSelf.AccessorID)) > 0 && len(auditFor(entries, roSelf.AccessorID)) > 0
	})
	ok := auditFor(entries, rwSelf.AccessorID)
	if len(ok) != 1 || ok[0].Route != "/v1/jobs" || ok[0].Method != http.MethodPost || ok[0].Object != "audited" || ok[0].Status != http.StatusOK {
		t.Fatalf("write token's entries = %s", asJSONString(entries))
	}
	refused := auditFor(entries, roSelf.AccessorID)
	if len(refused) != 1 || refused[0].Status != http.StatusForbidden || !refused[0].Refused() {
		t.Fatalf("read token's entries = %s", asJSONString(entries))
	}
	all := asJSONString(entries)
	for _, secret := range []string{rwSecret, roSecret, testMgmtToken} {
		if strings.Contains(all, secret) {
			t.Fatalf("a secret is in the audit log: %s", all)
		}
	}
	for _, e := range entries {
		if e.Method == http.MethodGet {
			t.Fatalf("a read was recorded: %s", all)
		}
	}

	// The hand-submitted version carries its submitter.
	job, _, err := rw.Jobs().Info(ctx, "audited", nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.SubmittedBy != rwSelf.AccessorID {
		t.Fatalf("SubmittedBy = %q, want %q", job.SubmittedBy, rwSelf.AccessorID)
	}

	// Reading the log needs operator:read.
	if _, _, err := rw.Operator().Audit(ctx, "", nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("audit with a namespace token: %v, want 403", err)
	}
	if _, _, err := s.Client.Operator().Audit(ctx, "yesterday", nil); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("bad since: %v, want 400", err)
	}
}

func auditFor(entries []*cluster.AuditEntry, who string) []*cluster.AuditEntry {
	var out []*cluster.AuditEntry
	for _, e := range entries {
		if e.Who == who {
			out = append(out, e)
		}
	}
	return out
}

func asJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A write sent to a follower is forwarded and recorded once, by the
// leader.
func TestAuditForwardedWriteRecordedOnce(t *testing.T) {
	servers := servertest.Cluster(t, 3, func(c *server.Config) { c.Token = "cluster-token" })
	leader := servertest.Leader(servers)
	if leader == nil {
		t.Fatal("no leader")
	}
	fs := followers(servers, leader)
	if _, err := fs[0].Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("fwd", 1, ""))}); err != nil {
		t.Fatalf("register through a follower: %v", err)
	}
	var got []*cluster.AuditEntry
	servertest.WaitFor(t, "the forwarded write's entry", func() bool {
		entries, _, err := leader.Client.Operator().Audit(ctxT(t), "", nil)
		got = nil
		for _, e := range entries {
			if e.Object == "fwd" {
				got = append(got, e)
			}
		}
		return err == nil && len(got) > 0
	})
	time.Sleep(600 * time.Millisecond) // two flushes: a duplicate would show by now
	entries, _, err := fs[1].Client.Operator().Audit(ctxT(t), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, e := range entries {
		if e.Object == "fwd" {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].Who != "management token (token_file)" || got[0].Status != http.StatusOK {
		t.Fatalf("entries for the forwarded write = %s, want one", asJSONString(got))
	}
}
