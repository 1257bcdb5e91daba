package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// TestServicesAndSecretsExampleEndToEnd is issue 16's acceptance with
// the real binary and the example `make run` deploys (examples/jobs
// api.nomad.hcl and web.nomad.hcl, unchanged but for the driver when not
// root): drover dev follows a Git repository; the password is sealed
// with `drover var seal` and committed as make run does; web reaches
// api through the service catalog (an HTTP GET of web's page names an
// api instance the catalog lists and shows that instance's answer); the
// plaintext is in api's rendered secrets/db.env and nowhere else: no
// file of the repository or its history (git log -p), no plan, no
// history or sync status, no other CLI output, no server or agent log
// line, no file of the data directory (Raft log and snapshots) and no
// snapshot saved through the API. Then a commit scales api from 2 to 3:
// web's rendered upstreams.txt lists 3 instances and web's server logs
// that it got SIGHUP and re-read them.
func TestServicesAndSecretsExampleEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("SKIPPED — THE SERVICES AND SECRETS EXAMPLE IS NOT TESTED: its tasks run python3's HTTP server, and python3 is not on PATH")
	}
	driver := taskDriver() // exec as root; raw_exec (drover dev enables it) otherwise
	if driver != "exec" {
		t.Logf("NOTE: not root, so the example's tasks run with raw_exec instead of exec")
	}
	example := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "jobs", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), `driver = "exec"`, `driver = "`+driver+`"`)
	}
	apiJob, webJob := example("api.nomad.hcl"), example("web.nomad.hcl")
	if !strings.Contains(apiJob, "count = 2") {
		t.Fatalf("examples/jobs/api.nomad.hcl no longer has count = 2, which this test scales to 3")
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	secret := "db-pw-" + hex.EncodeToString(rnd[:])

	r := gittest.New(t)
	seed := r.Commit("Seed the example", map[string]string{"api.nomad.hcl": apiJob, "web.nomad.hcl": webJob})
	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	waitApplied(t, c, seed)
	var outputs []string // everything shown to a user, grepped at the end
	cli := func(args ...string) result {
		t.Helper()
		res := runDrover(t, r.Dir, dev.env, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), res)
		outputs = append(outputs, res.stdout+res.stderr)
		return res
	}

	// Until the variable exists, api's tasks wait (Nomad's behaviour).
	// Seal it as `make run` does, from outside the repository.
	pwDir := t.TempDir()
	pw := filepath.Join(pwDir, "db-password")
	writeFile(t, pw, secret)
	if res := cli("var", "seal", "nomad/jobs/api", "DB_PASSWORD=@"+pw); res.code != 0 || !strings.Contains(res.stdout, "nomad/jobs/api.sealed.hcl") {
		t.Fatalf("var seal:\n%s", res)
	}
	sealedCommit := r.Commit("Seal the database password for api", nil)
	st := waitApplied(t, c, sealedCommit)
	if st.Commits[0].Outcome != "applied" || !strings.Contains(strings.Join(st.Commits[0].Sealed, "\n"), `"nomad/jobs/api" (sealed: 1 item)`) {
		t.Fatalf("the sealing commit's record: %+v", st.Commits[0])
	}
	if res := cli("plan", "--repo", ".", "--base", "HEAD~1", "--head", "HEAD"); res.code != 2 || !strings.Contains(res.stdout, `Variable "nomad/jobs/api" (sealed: 1 item)`) {
		t.Errorf("plan of the sealing commit:\n%s", res)
	}
	cli("plan", "--repo", ".", "--head", "HEAD", "-json")

	apiAllocs := running(followAllocs(t, c, "api", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 }))
	webAllocs := running(followAllocs(t, c, "web", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 }))

	// The password is in api's rendered template, where the task reads it.
	rendered := map[string]bool{}
	for _, a := range apiAllocs {
		p := findFile(t, dev.data, filepath.Join(a.ID, "server", "secrets", "db.env"))
		if b, _ := os.ReadFile(p); !strings.Contains(string(b), "DB_PASSWORD="+secret) {
			t.Errorf("api's rendered %s does not hold the sealed password:\n%s", p, b)
		}
		rendered[p] = true
	}

	// web reaches api through the catalog.
	catalog := func() []string {
		regs, _, err := c.Services().Get(context.Background(), "api", nil)
		if err != nil {
			t.Fatalf("GET /v1/service/api: %v", err)
		}
		var out []string
		for _, s := range regs {
			out = append(out, s.Address+":"+strconv.Itoa(s.Port))
		}
		return out
	}
	webPort := 0
	for _, p := range webAllocs[0].Resources.Ports {
		if p.Label == "http" {
			webPort = p.Value
		}
	}
	var page string
	deadline := time.Now().Add(agentWait)
	for !strings.Contains(page, "reached api via the catalog at ") {
		if time.Now().After(deadline) {
			t.Fatalf("web's page never says it reached api:\n%s", page)
		}
		time.Sleep(200 * time.Millisecond)
		page = httpGet(t, "http://127.0.0.1:"+strconv.Itoa(webPort)+"/")
	}
	t.Logf("GET web:\n%s", page)
	outputs = append(outputs, page)
	if !strings.Contains(page, "database password loaded") {
		t.Errorf("web's page does not show api's answer:\n%s", page)
	}
	inCatalog := false
	for _, addr := range catalog() {
		inCatalog = inCatalog || strings.Contains(page, "reached api via the catalog at "+addr+":")
	}
	if !inCatalog {
		t.Errorf("web's page names no api instance of the catalog %v:\n%s", catalog(), page)
	}
	if res := cli("service", "info", "api"); res.code != 0 || strings.Count(res.stdout, "passing") != 2 {
		t.Errorf("service info api:\n%s", res)
	}
	if res := cli("var", "get", "nomad/jobs/api"); res.code != 0 || !strings.Contains(res.stdout, secret) {
		t.Errorf("var get nomad/jobs/api does not show the value:\n%s", res)
	}
	outputs = outputs[:len(outputs)-1] // the one command whose answer is the value

	// A commit scales api 2 -> 3: web's list re-renders, web gets SIGHUP.
	r.Write(map[string]string{"api.nomad.hcl": strings.Replace(apiJob, "count = 2", "count = 3", 1)})
	scaled := r.Commit("Scale api to 3", nil)
	waitApplied(t, c, scaled)
	apiAllocs = running(followAllocs(t, c, "api", "three running", func(as []*cluster.Allocation) bool { return len(running(as)) == 3 }))
	for _, a := range apiAllocs {
		rendered[findFile(t, dev.data, filepath.Join(a.ID, "server", "secrets", "db.env"))] = true
	}
	for _, w := range webAllocs {
		conf := findFile(t, dev.data, filepath.Join(w.ID, "server", "local", "upstreams.txt"))
		deadline := time.Now().Add(agentWait)
		for {
			b, _ := os.ReadFile(conf)
			if n := len(strings.Fields(string(b))); n == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("web %s's upstreams.txt does not list 3 api instances (catalog: %v):\n%s", w.Name, catalog(), b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for {
			res := cli("alloc", "logs", w.ID[:8], "server")
			if res.code == 0 && strings.Contains(res.stdout, "reloaded upstreams on SIGHUP: 3 api instances") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("web %s never logged the SIGHUP reload:\n%s", w.Name, res)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Where a user or an attacker could look.
	for _, a := range apiAllocs {
		cli("alloc", "logs", a.ID[:8], "server")
		cli("alloc", "logs", "-stderr", a.ID[:8], "server")
		cli("alloc", "status", a.ID[:8])
	}
	cli("history", "api")
	cli("history", "web")
	cli("sync", "status")
	cli("sync", "status", "-json")
	cli("job", "inspect", "api")
	snap := filepath.Join(t.TempDir(), "state.snap")
	if res := cli("operator", "snapshot", "save", snap); res.code != 0 {
		t.Errorf("snapshot save:\n%s", res)
	}
	dev.checkNoPlaintext(t, secret, r, outputs, rendered, filepath.Dir(snap))
}

// httpGet returns the body of url, or "" when it does not answer 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}
