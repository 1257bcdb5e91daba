package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// xssMeta is what an attacker who can push writes into a job file: if
// the UI ever put it into the page as HTML, the browser would run the
// handler and set window.__pwned.
const xssMeta = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`

// chromiumPath finds Debian's headless-capable Chromium, or skips the
// test loudly: the browser is a test dependency (scripts/test-deps.sh
// installs it), not a build one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("SKIPPED — THE WEB UI IS NOT TESTED IN A BROWSER: no chromium on this machine (apt-get install chromium, or make deps as root)")
	return ""
}

// startChromium starts headless Chromium and returns a context of its
// first tab, and the function that ends the browser. The browser lives as
// long as that context: no timeout on it; a test sets one on its walk.
func startChromium(t *testing.T, chromium string) (context.Context, func()) {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1200, 900), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-background-networking", true))
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	stop := func() { cancelCtx(); cancelAlloc() }
	// The first Run starts the browser.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		stop()
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, stop
}

// TestWebUIInBrowser drives headless Chromium against the real drover
// dev -repo: sign in without a token, see the dev source's applied
// commit and the jobs, open a job page, and check that a job whose meta
// (and a commit whose subject) holds HTML renders it as text and runs
// nothing. On the open timeline, a pushed commit appears as applied and
// a broken one as rejected with its file:line:col, without a reload. Every request the pages make stays on the server, and no
// script error or CSP violation occurs.
func TestWebUIInBrowser(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	chromium := chromiumPath(t)
	r := gittest.New(t)
	// web prints a line as it starts: the allocation page shows it
	// (server/alloc_logs.go proxies the agent's log).
	webCmd := filepath.Join(t.TempDir(), "web.sh")
	if err := os.WriteFile(webCmd, []byte("#!/bin/sh\necho hello-from-web-task\nexec /bin/sleep \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	first := r.Commit(`Add web and xss <script>window.__pwned=3</script>`, map[string]string{
		"web.hcl":    rawJob("web", 1, webCmd),
		"canary.hcl": canaryJob("1000"),
		"xss.hcl":    strings.Replace(rawJob("xss", 1, "/bin/sleep"), "  group", "  meta {\n    note = "+hclQuote(xssMeta)+"\n  }\n  group", 1),
	})
	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	if st := waitApplied(t, c, first); st.LastApplied != first {
		t.Fatalf("the first commit was not applied: %+v", st)
	}
	base := "http://" + dev.addr
	if !strings.Contains(dev.proc.out.String(), "web UI on "+base+"/ui/") {
		t.Errorf("drover dev does not print the UI's URL %s/ui/", base)
	}

	ctx, stopBrowser := startChromium(t, chromium)
	defer stopBrowser()
	// Every console error, uncaught exception and browser log entry (a
	// CSP violation, a failed request) is a failure.
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("browser console %s: %s (%s:%d)", m.Type, m, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	walk, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			var html string
			dump, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			html, _ = chromedp.Run(dump, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("browser: %s: %v\npage: %s", what, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(walk, chromedp.Text(chromedp.CSS(sel)))
		fail("text of "+sel, err)
		return v
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(walk, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
		fail("screenshot", err)
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// requests lists what the page fetched: everything must come from
	// the server.
	var fetched []string
	requests := func() {
		t.Helper()
		urls, err := chromedp.Run(walk, chromedp.Evaluate[[]string](`[location.href].concat(performance.getEntriesByType('resource').map((e) => e.name))`))
		fail("resource list", err)
		fetched = append(fetched, urls...)
	}

	start := time.Now()
	// Sign in with no token: the dev server has no ACLs.
	fail("sign in", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("signin-submit")),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.CSS(`section[data-source="dev"]`))))
	sourceText := text(`section[data-source="dev"]`)
	requests()
	shot("sources")
	// The jobs list, then the job page through its link.
	fail("jobs", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/jobs"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/job?id=web"]`))))
	jobsText := text("main")
	requests()
	fail("job page", chromedp.Do(walk,
		chromedp.Click(chromedp.CSS(`a[href="/ui/job?id=web"]`)),
		chromedp.WaitVisible(chromedp.ID("job-id"))))
	jobTitle, jobAllocs := text("#job-id"), text("main")
	requests()
	shot("job")
	// An allocation of the job: its task events and the logs command.
	fail("allocation page", chromedp.Do(walk,
		chromedp.Click(chromedp.CSS(`main a[href^="/ui/allocation?id="]`)),
		chromedp.WaitVisible(chromedp.CSS(`main p.muted code`))))
	if allocText := text("main"); !strings.Contains(allocText, "Task started by client") || !strings.Contains(allocText, "drover alloc logs -f") {
		t.Errorf("the allocation page lacks the task events or the logs command:\n%s", allocText)
	}
	// The task's stdout, read through the server.
	for logText := ""; !strings.Contains(logText, "hello-from-web-task"); {
		if walk.Err() != nil {
			t.Fatalf("the allocation page's log viewer does not show the task's line; it shows %q", logText)
		}
		logText, _ = chromedp.Run(walk, chromedp.Text(chromedp.CSS(`main pre.log[data-task="t"]`)))
		time.Sleep(100 * time.Millisecond)
	}
	requests()
	// The attack: the meta renders as text and runs nothing.
	fail("xss job page", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/job?id=xss"),
		chromedp.WaitVisible(chromedp.CSS(".meta-value"))))
	metaText := text(".meta-value")
	fail("timeline", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/timeline"),
		chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+first+`"]`))))
	timelineText := text(`.commit[data-commit="` + first + `"]`)
	requests()
	// Live: commits pushed now appear on the open page, without a reload
	// (the marker would not survive one); the broken one with its
	// diagnostic's position.
	_, err := chromedp.Run(walk, chromedp.Evaluate[int](`window.__sameLoad = 7`))
	fail("mark the page", err)
	// The canary job's first version must finish before its second
	// starts, for the second to wait on its canary.
	waitUIDeployment(t, c, "canary", 0, func(g *cluster.DeploymentGroup) bool { return g.HealthyAllocs >= g.DesiredTotal })
	scale := r.Commit("Scale web to 2", map[string]string{"web.hcl": rawJob("web", 2, webCmd), "canary.hcl": canaryJob("1001")})
	fail("the pushed commit appears", chromedp.Do(walk, chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+scale+`"][data-outcome="applied"]`))))
	// Its plan, kept by the reconciler, unfolds and stays open through
	// the live re-renders.
	_, err = chromedp.Run(walk, chromedp.Evaluate[bool](`document.querySelector('.commit[data-commit="`+scale+`"] details.plan summary').click() || true`))
	fail("unfold the plan", err)
	fail("the plan unfolds", chromedp.Do(walk, chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+scale+`"] details.plan[open] pre`))))
	if plan := text(`.commit[data-commit="` + scale + `"] details.plan pre`); !strings.Contains(plan, `Job: "web"`) || !strings.Contains(plan, "Count") {
		t.Errorf("the pushed commit's plan does not show web's new count:\n%s", plan)
	}
	broken := r.Commit("Break web", map[string]string{"web.hcl": "job \"web\" {\n  group \"g\" {\n    count = = 3\n"})
	fail("the broken commit appears", chromedp.Do(walk, chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+broken+`"] .diag`))))
	brokenText := text(`.commit[data-commit="` + broken + `"]`)
	sameLoad, err := chromedp.Run(walk, chromedp.Evaluate[int](`window.__sameLoad || 0`))
	fail("read the mark", err)
	shot("timeline")
	// Promote: the canary of the second commit's deployment, once
	// healthy, is promoted by the button, through the API.
	dep := waitCanaryHealthy(t, c, "canary", 1)
	fail("deployments page", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/deployments"),
		chromedp.WaitVisible(chromedp.CSS(`.actions[data-deployment="`+dep+`"] .act-promote:enabled`))))
	shot("deployments")
	_, err = chromedp.Run(walk, chromedp.Evaluate[bool](`document.querySelector('.actions[data-deployment="`+dep+`"] .act-promote').click() || true`))
	fail("click promote", err)
	if !waitPromoted(c, dep) {
		errText, _ := chromedp.Run(walk, chromedp.Evaluate[string](`((document.getElementById('error') || {}).textContent || 'no error shown') + '; last action: ' + (document.body.dataset.lastAction || 'none')`))
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the promote button did not promote deployment %s; the page says: %s; the console: %q", dep, errText, problems)
	}
	fail("nodes page", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/nodes"),
		chromedp.WaitVisible(chromedp.CSS(`td .s-ready`))))
	nodesText := text("main")
	requests()
	if !strings.Contains(nodesText, "devnode") || !strings.Contains(nodesText, "raw_exec") || !strings.Contains(nodesText, "eligible") {
		t.Errorf("the nodes page lacks devnode, its drivers or eligibility:\n%s", nodesText)
	}
	// A commit's rollout to success, live: on an open timeline, a pushed
	// commit turns from progressing to healthy without a reload (the
	// marker would not survive one).
	fail("timeline again", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/timeline"),
		chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+scale+`"]`))))
	_, err = chromedp.Run(walk, chromedp.Evaluate[int](`window.__sameLoad = 8`))
	fail("mark the page again", err)
	healthy := r.Commit("Scale web to 3", map[string]string{"web.hcl": rawJob("web", 3, webCmd)})
	fail("the pushed commit's rollout succeeds on the open page", chromedp.Do(walk,
		chromedp.WaitVisible(chromedp.CSS(`.commit[data-commit="`+healthy+`"][data-outcome="applied"][data-health="healthy"]`))))
	if mark, err := chromedp.Run(walk, chromedp.Evaluate[int](`window.__sameLoad || 0`)); err != nil || mark != 8 {
		t.Errorf("the timeline reloaded while following the rollout (mark %d, %v)", mark, err)
	}
	shot("timeline-healthy")
	fail("settle", chromedp.Do(walk, chromedp.Sleep(300*time.Millisecond))) // let a late onerror fire, were there one
	pwned, err := chromedp.Run(walk, chromedp.Evaluate[int](`window.__pwned || 0`))
	fail("window.__pwned", err)
	images, err := chromedp.Run(walk, chromedp.Evaluate[int](`document.querySelectorAll('main img, main script').length`))
	fail("count elements", err)
	t.Logf("browser walk: %v; screenshots in %s", time.Since(start), t.ArtifactDir())

	for _, u := range fetched {
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("the page fetched %s, which is not this server", u)
		}
	}
	if len(fetched) < 8 {
		t.Errorf("the pages fetched only %v: the resource list misses the API calls", fetched)
	}
	if !strings.Contains(sourceText, shortSHA(first)) || !strings.Contains(sourceText, "applied") || !strings.Contains(sourceText, "main") {
		t.Errorf("the sources page does not show the applied commit %s on main:\n%s", shortSHA(first), sourceText)
	}
	if !strings.Contains(jobsText, "web") || !strings.Contains(jobsText, "xss") || !strings.Contains(jobsText, shortSHA(first)) {
		t.Errorf("the jobs page lacks the jobs or their commit:\n%s", jobsText)
	}
	if jobTitle != "web" || !strings.Contains(jobAllocs, "Allocations") || !strings.Contains(jobAllocs, "web.g[0]") {
		t.Errorf("the job page of web: title %q, body:\n%s", jobTitle, jobAllocs)
	}
	if metaText != xssMeta {
		t.Errorf("the meta renders as %q, want the text %q", metaText, xssMeta)
	}
	if !strings.Contains(timelineText, "<script>window.__pwned=3</script>") {
		t.Errorf("the timeline does not show the commit subject as text:\n%s", timelineText)
	}
	if sameLoad != 7 {
		t.Errorf("the timeline reloaded instead of updating in place")
	}
	if !strings.Contains(brokenText, "rejected") || !strings.Contains(brokenText, "web.hcl:3:13") {
		t.Errorf("the rejected commit does not show its diagnostic with position web.hcl:3:13:\n%s", brokenText)
	}
	if pwned != 0 || images != 0 {
		t.Errorf("attacker HTML ran or became elements: window.__pwned=%d, %d img/script elements in main", pwned, images)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

// hclQuote quotes s as an HCL string: HCL shares JSON's escapes but
// would interpolate "${" and "%{".
func hclQuote(s string) string {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "${", "$${", "%{", "%%{").Replace(s)
	return `"` + q + `"`
}

// canaryJob is a raw_exec service job whose updates start with one
// canary and wait for a promotion; arg changes between versions.
func canaryJob(arg string) string {
	return fmt.Sprintf(`job "canary" {
  datacenters = ["dc1"]
  update {
    canary           = 1
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "30s"
    auto_promote     = false
  }
  group "g" {
    count = 1
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = [%q]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`, arg)
}

// waitCanaryHealthy waits for a deployment of job version whose
// canaries are all healthy, and returns its ID.
func waitCanaryHealthy(t *testing.T, c *api.Client, job string, version uint64) string {
	t.Helper()
	return waitUIDeployment(t, c, job, version, func(g *cluster.DeploymentGroup) bool {
		return g.DesiredCanaries > 0 && g.HealthyAllocs >= g.DesiredCanaries
	})
}

// waitUIDeployment waits for a deployment of job version whose group g
// satisfies ok, and returns its ID.
func waitUIDeployment(t *testing.T, c *api.Client, job string, version uint64, ok func(*cluster.DeploymentGroup) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, _, err := c.Jobs().Deployments(context.Background(), job, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if g := d.TaskGroups["g"]; d.JobVersion == version && g != nil && ok(g) {
				return d.ID
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range ds {
				fmt.Fprintf(&b, "\n  %s v%d %s %q %+v", d.ID, d.JobVersion, d.Status, d.StatusDescription, d.TaskGroups["g"])
			}
			t.Fatalf("no deployment of %s version %d as wanted:%s", job, version, b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPromoted waits for the UI's promote click to reach the state.
func waitPromoted(c *api.Client, id string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d, _, err := c.Deployments().Info(context.Background(), id, nil)
		if g := d.TaskGroups["g"]; err == nil && g != nil && g.Promoted {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
