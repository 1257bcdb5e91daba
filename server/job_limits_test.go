package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func wantOverLimit(t *testing.T, err error, wants ...string) {
	t.Helper()
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("err = %v, want a 400", err)
	}
	for _, w := range wants {
		if !strings.Contains(se.Message, w) {
			t.Errorf("message lacks %q:\n%s", w, se.Message)
		}
	}
	if strings.Contains(se.Message, "more problems") && len(se.Diagnostics) < 2 {
		t.Errorf("several problems but %d diagnostics in %+v", len(se.Diagnostics), se)
	}
}

// TestJobMaxCountDefault is issue 14's limit at its default: a group of
// count = 10001 is refused, by register and plan alike, with a message
// that names the group, its count, the limit and how to raise it, and
// nothing is stored.
func TestJobMaxCountDefault(t *testing.T) {
	srv := servertest.Single(t)
	c := srv.Client
	job := bigJob(t, "huge", server.DefaultJobMaxCount+1)

	_, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job})
	wantOverLimit(t, err, `job "huge", group "web": count = 10001`, "limit of 10000 allocations per group",
		"job_max_count in the server's config file, or -job-max-count")
	if _, _, err := c.Jobs().Info(ctxT(t), "huge", nil); !api.IsNotFound(err) {
		t.Errorf("the refused job was stored: get = %v", err)
	}
	_, err = c.Jobs().Plan(ctxT(t), job)
	wantOverLimit(t, err, `group "web": count = 10001`, "job_max_count")

	// From a Git source, the message starts with the job file's path.
	_, err = c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job,
		Source: &cluster.Source{Name: "apps", Commit: strings.Repeat("a", 40), Path: "jobs/huge.nomad.hcl"}})
	wantOverLimit(t, err, `jobs/huge.nomad.hcl: job "huge", group "web": count = 10001`)
}

// TestJobMaxCountAndAllocs checks both limits set low: each group within
// job_max_count but their sum over job_max_allocs is refused, naming the
// counts; a job within both is accepted.
func TestJobMaxCountAndAllocs(t *testing.T) {
	srv := servertest.Single(t, func(c *server.Config) { c.JobMaxCount, c.JobMaxAllocs = 10, 15 })
	c := srv.Client
	job := bigJob(t, "two", 10)
	g2 := *job.Groups[0]
	g2.Name = "api"
	job.Groups = append(job.Groups, &g2)
	_, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job})
	wantOverLimit(t, err, `job "two": its groups' counts add up to 20 allocations ("web" 10, "api" 10)`,
		"limit of 15 allocations per job", "job_max_allocs in the server's config file, or -job-max-allocs")

	job.Groups[1].Count = 11
	_, err = c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job})
	wantOverLimit(t, err, `group "api": count = 11`, "(and 1 more problems)")

	job.Groups[1].Count = 5
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job}); err != nil {
		t.Errorf("a job within both limits: %v", err)
	}
}

func TestJobMaxCountConfig(t *testing.T) {
	cfg := server.DefaultConfig()
	if cfg.JobMaxCount != 10_000 || cfg.JobMaxAllocs != 100_000 {
		t.Errorf("defaults = %d, %d; want 10000, 100000", cfg.JobMaxCount, cfg.JobMaxAllocs)
	}
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte("job_max_count = 50000\njob_max_allocs = 200000\n")); err != nil {
		t.Fatal(err)
	}
	if cfg.JobMaxCount != 50_000 || cfg.JobMaxAllocs != 200_000 {
		t.Errorf("parsed = %d, %d; want 50000, 200000", cfg.JobMaxCount, cfg.JobMaxAllocs)
	}
	cfg.DataDir = t.TempDir()
	for _, tc := range []struct {
		count, allocs int
		want          string
	}{
		{0, 10, "job_max_count and job_max_allocs must be positive"},
		{20, 10, "job_max_count 20 is over job_max_allocs 10"},
	} {
		c := cfg
		c.JobMaxCount, c.JobMaxAllocs = tc.count, tc.allocs
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%d, %d) = %v, want %q", tc.count, tc.allocs, err, tc.want)
		}
	}
}

// TestJobMaxCountFromGit: a commit whose job is over the limit is not
// applied, and the source's status names the job file, the group and
// the count.
func TestJobMaxCountFromGit(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 11)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""), func(c *server.Config) { c.JobMaxCount = 10 })
	want := `jobs/web.hcl: job "web", group "g": count = 11 is over this server's limit of 10 allocations per group`
	st := waitSync(t, s.Client, "apps", "the refusal", func(st *cluster.SyncStatus) bool {
		all := st.Error
		for _, c := range st.Commits {
			all += strings.Join(c.Errors, "\n")
		}
		return strings.Contains(all, want)
	})
	if st.LastApplied == first {
		t.Errorf("the commit over the limit was applied: %+v", st)
	}
	if _, _, err := s.Client.Jobs().Info(ctxT(t), "web", nil); !api.IsNotFound(err) {
		t.Errorf("web was registered: %v", err)
	}
}
