package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// TestWebUIInBrowserWithACLs drives headless Chromium against a real
// `drover server` with its defaults (ACLs on, bootstrapped with a
// management token, a cluster CA) and a real `drover agent` that runs a
// canary deployment. Without a token the pages ask to sign in; signed
// in with a read-only token they list jobs and deployments but the
// deployment buttons are disabled and say which capability is missing;
// signed in with the management token, promote promotes. The token
// stays in sessionStorage, never in a URL the browser requests, and
// loading the deployments page writes no audit entry.
//
// It starts `drover server` + `drover agent` rather than `drover dev`:
// that is the secure default a UI user meets (ACLs, node certificates),
// while drover dev checks no tokens by design.
func TestWebUIInBrowserWithACLs(t *testing.T) {
	t.Parallel() // its own server, agent, ports and directories
	chromium := chromiumPath(t)
	s := startServer(t)
	s.startAgent(t, "uinode", t.TempDir(), withRawExec(t)...)
	c := s.client
	waitNodes(t, c, 1)
	ctx := context.Background()
	mgmtSelf, err := c.ACL().Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mgmtSelf.Type != cluster.ACLTokenManagement {
		t.Fatalf("the bootstrap token is %q, want management", mgmtSelf.Type)
	}

	// A canary deployment waiting for its promotion: version 0 runs,
	// version 1 starts one canary. Its tasks stop before the agent does
	// (cleanups run last first).
	dir := t.TempDir()
	stopJobsAtCleanup(t, c, s.env, dir, "canary")
	for i, arg := range []string{"1000", "1001"} {
		writeFile(t, filepath.Join(dir, "canary.nomad.hcl"), canaryJob(arg))
		if r := s.cli(t, dir, "job", "run", "-detach", "canary.nomad.hcl"); r.code != 0 {
			t.Fatalf("job run canary (%s): %s", arg, r)
		}
		if i == 0 {
			waitUIDeployment(t, c, "canary", 0, func(g *cluster.DeploymentGroup) bool { return g.HealthyAllocs >= g.DesiredTotal })
		}
	}
	dep := waitCanaryHealthy(t, c, "canary", 1)

	if err := c.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: "ui-readonly", Rules: "namespace \"default\" {\n  policy = \"read\"\n}\n"}); err != nil {
		t.Fatal(err)
	}
	ro, err := c.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: "ui-readonly", Policies: []string{"ui-readonly"}})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"read-only": ro.SecretID, "management": s.token}
	walkStart := time.Now().UTC()

	bctx, stopBrowser := startChromium(t, chromium)
	defer stopBrowser()
	var mu sync.Mutex
	var problems []string
	type sent struct{ url, auth, referer string }
	var requests []sent
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after stopBrowser (deferred), which ends both loops
	messages := chromedp.Console(bctx)
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The refusals this test asks for (401 without a token) are
			// logged by the browser as failed loads: expected, not faults.
			refusal := strings.Contains(m.Text, "status of 401") || strings.Contains(m.Text, "status of 403")
			if (m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning) && !refusal {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("browser console %s: %s (%s:%d)", m.Type, m, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	})
	// Every request the browser sends, as the network sees it.
	events := chromedp.Events(bctx, network.RequestWillBeSent)
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.Request == nil {
				continue
			}
			header := func(name string) string {
				for k, v := range ev.Request.Headers {
					if strings.EqualFold(k, name) {
						return fmt.Sprint(v)
					}
				}
				return ""
			}
			mu.Lock()
			requests = append(requests, sent{ev.Request.URL + ev.Request.URLFragment, header("Authorization"), header("Referer")})
			mu.Unlock()
		}
	})

	walk, cancel := context.WithTimeout(bctx, 150*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			dump, cancel := context.WithTimeout(bctx, 5*time.Second)
			defer cancel()
			html, _ := chromedp.Run(dump, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("browser: %s: %v\npage: %s", what, err, html)
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(walk, chromedp.Evaluate[string](js))
		fail(what, err)
		return v
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(walk, chromedp.FullScreenshot(100)) // 100: PNG
		fail("screenshot", err)
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := s.addr
	loaded := func(page string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(`body[data-page="` + page + `"] main[data-loaded]`))
	}
	signIn := func(who string) {
		t.Helper()
		fail("sign in as "+who, chromedp.Do(walk,
			chromedp.Navigate(base+"/ui/"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), secrets[who]),
			chromedp.Click(chromedp.ID("signin-submit")),
			loaded("sources")))
		if got := eval("sessionStorage", `sessionStorage.getItem('drover.token') || ''`); got != secrets[who] {
			t.Errorf("signed in as %s: sessionStorage holds %q, want the token", who, got)
		}
		if kept := eval("other storage", `localStorage.length + ' ' + document.cookie`); kept != "0 " {
			t.Errorf("signed in as %s: the token may have leaked to localStorage or a cookie: %q", who, kept)
		}
	}
	start := time.Now()

	// 1. No token: each page says to sign in, and renders no data.
	for _, page := range []string{"jobs", "deployments"} {
		fail("no token: "+page, chromedp.Do(walk,
			chromedp.Navigate(base+"/ui/"+page),
			chromedp.WaitVisible(chromedp.CSS(`#error[data-status="401"] #signin-link`))))
		if msg := eval("error text", `document.getElementById('error').textContent`); !strings.Contains(msg, "Sign in to see this page") {
			t.Errorf("no token, %s page: the message is %q, want it to ask to sign in", page, msg)
		}
		if n := eval("tables", `String(document.querySelectorAll('main table').length)`); n != "0" {
			t.Errorf("no token, %s page: %s tables rendered", page, n)
		}
		shot("no-token-" + page)
	}

	// 2. The read-only token: the lists, and disabled buttons that say why.
	signIn("read-only")
	fail("read-only: jobs", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/jobs"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/job?id=canary"]`))))
	shot("read-only-jobs")
	promoteSel := `.actions[data-deployment="` + dep + `"] .act-promote`
	fail("read-only: deployments", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/deployments"),
		chromedp.WaitVisible(chromedp.CSS(promoteSel))))
	shot("read-only-deployments")
	if state := eval("promote button", `(() => { const b = document.querySelector('`+promoteSel+`'); return b.disabled + ' ' + b.title; })()`); !strings.HasPrefix(state, "true ") ||
		!strings.Contains(state, "namespace:submit-job") {
		t.Errorf("read-only token: the promote button is %q, want disabled with a title naming namespace:submit-job", state)
	}
	if n := eval("enabled buttons", `String(document.querySelectorAll('.actions button:enabled').length)`); n != "0" {
		t.Errorf("read-only token: %s deployment buttons are enabled", n)
	}
	if note := eval("note", `(document.getElementById('actions-note') || {}).textContent || ''`); !strings.Contains(note, "namespace:submit-job") {
		t.Errorf("read-only token: the deployments page says %q, want a note naming namespace:submit-job", note)
	}

	// 3. Sign out clears the token and what it may do.
	fail("sign out", chromedp.Do(walk, chromedp.Click(chromedp.ID("signout")), loaded("signin")))
	if kept := eval("after sign-out", `[sessionStorage.getItem('drover.token'), sessionStorage.getItem('drover.caps')].join(',')`); kept != "," {
		t.Errorf("after sign-out, sessionStorage still holds %q", kept)
	}

	// 4. The management token: promote works.
	signIn("management")
	fail("management: deployments", chromedp.Do(walk,
		chromedp.Navigate(base+"/ui/deployments"),
		chromedp.WaitVisible(chromedp.CSS(promoteSel+":enabled"))))
	shot("management-deployments")
	if note := eval("note", `(document.getElementById('actions-note') || {}).textContent || ''`); note != "" {
		t.Errorf("management token: the deployments page says %q, want no note", note)
	}
	_, err = chromedp.Run(walk, chromedp.Evaluate[bool](`document.querySelector('`+promoteSel+`').click() || true`))
	fail("click promote", err)
	if !waitPromoted(c, dep) {
		last := eval("last action", `((document.getElementById('error') || {}).textContent || 'no error shown') + '; last action: ' + (document.body.dataset.lastAction || 'none')`)
		t.Fatalf("the promote button did not promote deployment %s; the page says: %s", dep, last)
	}
	// The promote is audited, and it is the only write of the UI: the
	// page loads before it wrote nothing. Entries are flushed in order,
	// so once the promote is in the log, so is anything sent before it.
	var promoteWrites, pageWrites []*cluster.AuditEntry
	for deadline := time.Now().Add(30 * time.Second); len(promoteWrites) == 0 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		promoteWrites, pageWrites = nil, nil
		for _, e := range uiAuditEntries(t, c, walkStart, ro.AccessorID, mgmtSelf.AccessorID) {
			if e.Route == "/v1/deployment/{id}/promote" {
				promoteWrites = append(promoteWrites, e)
			} else {
				pageWrites = append(pageWrites, e)
			}
		}
	}
	shot("management-promoted")
	t.Logf("browser walk: %v; screenshots in %s", time.Since(start), t.ArtifactDir())
	cancel()
	stopBrowser()
	wg.Wait()

	if len(pageWrites) != 0 {
		t.Errorf("loading the pages wrote to the audit log: %s", auditText(pageWrites))
	}
	if len(promoteWrites) != 1 || promoteWrites[0].Object != dep ||
		promoteWrites[0].Who != mgmtSelf.AccessorID || promoteWrites[0].Status != 200 {
		t.Errorf("want exactly the promote of %s by %s in the audit log, got: %s", dep, mgmtSelf.AccessorID, auditText(promoteWrites))
	}
	mu.Lock()
	defer mu.Unlock()
	asked, withToken := 0, map[string]int{}
	for _, r := range requests {
		if strings.Contains(r.url, "/v1/acl/token/self/capabilities") {
			asked++
		}
		if strings.Contains(r.url, "/pause") {
			t.Errorf("the browser sent %s: the UI may not probe by writing", r.url)
		}
		for who, secret := range secrets {
			for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
				if strings.Contains(r.url, form) || strings.Contains(r.referer, form) {
					t.Errorf("the %s token is in a URL the browser requested: %s (referer %q)", who, r.url, r.referer)
				}
			}
			if r.auth == "Bearer "+secret {
				withToken[who]++
			}
		}
		if !strings.HasPrefix(r.url, base+"/") && r.url != "about:blank" {
			t.Errorf("the browser requested %s, which is not this server", r.url)
		}
	}
	// The checks above saw real traffic: the token went in headers, and
	// the pages asked what it may do.
	if withToken["read-only"] == 0 || withToken["management"] == 0 || asked < 3 {
		t.Errorf("the network log shows %d requests: %v with each token in the Authorization header, %d capability requests; want some of each",
			len(requests), withToken, asked)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// uiAuditEntries lists the audit entries since a time that the UI's
// tokens (or a request without a token) wrote: not the agent's.
func uiAuditEntries(t *testing.T, c *api.Client, since time.Time, accessors ...string) []*cluster.AuditEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, _, err := c.Operator().Audit(ctx, since.Format(time.RFC3339Nano), nil)
	if err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	var out []*cluster.AuditEntry
	for _, e := range entries {
		if e.Who == "no token" || e.Who == "unknown token" || slices.Contains(accessors, e.Who) {
			out = append(out, e)
		}
	}
	return out
}

func auditText(entries []*cluster.AuditEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "\n  %s %s %s %s %d", e.Who, e.Method, e.Route, e.Object, e.Status)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
