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

// TestWebUIInBrowser drives headless Chromium against the real drover
// dev -repo: sign in without a token, see the dev source's applied
// commit and the jobs, open a job page, and check that a job whose meta
// (and a commit whose subject) holds HTML renders it as text and runs
// nothing. Every request the pages make stays on the server, and no
// script error or CSP violation occurs.
func TestWebUIInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	r := gittest.New(t)
	first := r.Commit(`Add web and xss <script>window.__pwned=3</script>`, map[string]string{
		"web.hcl": rawJob("web", 1, "/bin/sleep"),
		"xss.hcl": strings.Replace(rawJob("xss", 1, "/bin/sleep"), "  group", "  meta {\n    note = "+hclQuote(xssMeta)+"\n  }\n  group", 1),
	})
	dataDir, httpAddr := t.TempDir(), freeAddr(t)
	dev := startProc(t, "drover dev", hermeticEnv(), "dev", "-repo", r.Dir, "-data-dir", dataDir, "-http-addr", httpAddr, "-raft-addr", freeAddr(t), "-node-name", "devnode")
	c, err := api.NewClient(api.Config{Address: "http://" + httpAddr})
	if err != nil {
		t.Fatal(err)
	}
	dev.waitHealthy(c, false)
	if st := waitApplied(t, c, first); st.LastApplied != first {
		t.Fatalf("the first commit was not applied: %+v", st)
	}
	base := "http://" + httpAddr

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-background-networking", true))
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	// The first Run starts the browser, which lives as long as ctx: no
	// timeout on it, one on the walk below.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
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
	walk, cancel := context.WithTimeout(ctx, 45*time.Second)
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
	shot("timeline")
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
