package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestZZUIDebug(t *testing.T) {
	allocCtx, c1 := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()))
	defer c1()
	ctx, c2 := chromedp.NewContext(allocCtx)
	defer c2()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://127.0.0.1:14646/ui/"), chromedp.WaitVisible(chromedp.CSS("#signin-submit"))); err != nil {
		t.Fatal(err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/v1/event/stream?topic=Deployment'); fetch('/v1/deployment/1eb2dee1-a05f-492f-8cf2-c6a74d6f048d/pause', {method:'POST', headers:{'Content-Type':'application/json'}, body:'{}'}).then(r => r.status + ' ' + r.statusText)`, chromedp.EvalAwaitPromise))
	t.Log(chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/v1/jobs").then(r => r.status + " " + r.statusText)`, chromedp.EvalAwaitPromise)))
	t.Log(v, err)
	time.Sleep(time.Second)
}
