package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

const testMgmtToken = "test-management-token"

func aclServer(t *testing.T) *servertest.Server {
	t.Helper()
	return servertest.Single(t, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
}

// namespaceCaps are the namespace capabilities policies may list.
var namespaceCaps = []string{"list-jobs", "read-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec", "alloc-lifecycle", "scale-job"}

// policyFor returns rules that grant exactly capability c (with), or
// every route capability but c (without).
func policyFor(c server.Capability, with bool) string {
	scope, name, _ := strings.Cut(string(c), ":")
	if scope == "node-self" {
		scope = "node" // a token passes a node's own routes with node:read or node:write
	}
	levels := map[string]string{"node": "write", "agent": "write", "operator": "write"}
	var caps []string
	if with {
		levels = map[string]string{"node": "deny", "agent": "deny", "operator": "deny"}
		if scope == "namespace" {
			caps = []string{name}
		} else {
			levels[scope] = name
		}
	} else {
		for _, nc := range namespaceCaps {
			// submit-job grants scale-job too, as in Nomad.
			if scope != "namespace" || nc != name && !(name == "scale-job" && nc == "submit-job") {
				caps = append(caps, nc)
			}
		}
		if _, ok := levels[scope]; ok {
			levels[scope] = map[string]string{"read": "deny", "write": "read"}[name]
		}
	}
	var b strings.Builder
	if scope == "variables" { // variables_acl.go: per-path rules
		others := []string{}
		for _, vc := range []string{"list", "read", "write", "destroy"} {
			// read implies list, as in Nomad.
			if vc != name && !(name == "list" && vc == "read") {
				others = append(others, fmt.Sprintf("%q", vc))
			}
		}
		grant := fmt.Sprintf("%q", name)
		if !with {
			grant = strings.Join(others, ", ")
		}
		fmt.Fprintf(&b, "namespace \"default\" {\n  variables {\n    path \"*\" {\n      capabilities = [%s]\n    }\n  }\n}\n", grant)
		for _, s := range []string{"node", "agent", "operator"} {
			fmt.Fprintf(&b, "%s {\n  policy = \"write\"\n}\n", s)
		}
		return b.String()
	}
	if len(caps) > 0 {
		fmt.Fprintf(&b, "namespace \"default\" {\n  capabilities = [%q", caps[0])
		for _, c := range caps[1:] {
			fmt.Fprintf(&b, ", %q", c)
		}
		b.WriteString("]\n}\n")
	}
	for _, s := range []string{"node", "agent", "operator"} {
		fmt.Fprintf(&b, "%s {\n  policy = %q\n}\n", s, levels[s])
	}
	return b.String()
}

func mustToken(t *testing.T, mgmt *api.Client, name, rules string) string {
	t.Helper()
	ctx := context.Background()
	if err := mgmt.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: name, Rules: rules}); err != nil {
		t.Fatalf("apply policy %s:\n%s\n%v", name, rules, err)
	}
	tok, err := mgmt.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: name, Policies: []string{name}})
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return tok.SecretID
}

func routeRequest(t *testing.T, addr string, rt server.Route, token string) (int, string) {
	t.Helper()
	path := rt.Pattern
	for _, p := range []string{"{id}", "{source}", "{name}", "{accessor}", "{path...}"} {
		path = strings.ReplaceAll(path, p, "no-such-thing")
	}
	var body io.Reader
	if rt.Method != http.MethodGet {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(rt.Method, addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rt.Method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/x-ndjson" {
		return resp.StatusCode, "" // a stream that does not end (event_stream.go)
	}
	var e api.Error
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Error
}

// TestEveryRouteChecksItsCapability walks the route table: with ACLs on,
// a token without a route's capability gets 403 and changes nothing; a
// token with it gets past authorization.
func TestEveryRouteChecksItsCapability(t *testing.T) {
	s := aclServer(t)
	addr := "http://" + s.HTTPAddr()
	routes := s.Routes()
	if len(routes) < 40 {
		t.Fatalf("route table lists %d routes; want every route", len(routes))
	}
	tokens := map[string]string{}
	token := func(c server.Capability, with bool) string {
		key := fmt.Sprintf("%s-%v", c, with)
		if tok, ok := tokens[key]; ok {
			return tok
		}
		name := strings.NewReplacer(":", "-").Replace(string(c)) + map[bool]string{true: "-with", false: "-without"}[with]
		tok := mustToken(t, s.Client, name, policyFor(c, with))
		tokens[key] = tok
		return tok
	}
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			switch rt.Capability {
			case server.CapPublic, server.CapWebhook, server.CapJoinToken, server.CapServerProof:
				// No API token: tested by their own tests (webhooks'
				// HMAC, TestTLSJoin*, TestTLSRenewRefusesBadRequests,
				// TestRaftJoinNeedsAServerCertificate).
				return
			}
			if rt.Method == "" {
				t.Fatalf("route %s has no method", rt.Pattern)
			}
			var without, with string
			switch rt.Capability {
			case server.CapManagement:
				without, with = token(server.CapNodeWrite, true), testMgmtToken
			case server.CapAnyToken:
				with = token(server.CapNodeRead, true)
			default:
				without, with = token(rt.Capability, false), token(rt.Capability, true)
			}
			if code, _ := routeRequest(t, addr, rt, ""); code != http.StatusUnauthorized {
				t.Errorf("without a token: %d, want 401", code)
			}
			if without != "" {
				before := stateIndexes(s)
				code, msg := routeRequest(t, addr, rt, without)
				if code != http.StatusForbidden || !strings.Contains(msg, string(rt.Capability)) {
					t.Errorf("token without %s: %d %q, want 403 naming the capability", rt.Capability, code, msg)
				}
				// The audit log records the refusal, in its own time;
				// nothing else may change.
				if after := stateIndexes(s); after != before {
					t.Errorf("a refused request changed the state: %s -> %s", before, after)
				}
			}
			code, msg := routeRequest(t, addr, rt, with)
			if code == http.StatusUnauthorized || code == http.StatusForbidden && (strings.Contains(msg, "permission denied") || strings.Contains(msg, "token")) {
				t.Errorf("token with %s: %d %q, want past authorization", rt.Capability, code, msg)
			}
		})
	}
}

// stateIndexes lists the index of every table a request could change,
// but the audit log's.
func stateIndexes(s *servertest.Server) string {
	snap := s.State().Store().Snapshot()
	var b strings.Builder
	for _, tbl := range []string{state.TableJobVersions, state.TableJobs, state.TableNodes, state.TableAllocs, state.TableEvals,
		state.TableDeployments, state.TableSyncStatus, state.TableMembers, state.TableACLPolicies, state.TableACLTokens, state.TableTLSKeyring} {
		fmt.Fprintf(&b, "%s=%d ", tbl, snap.Index(tbl))
	}
	return b.String()
}

// TestRoutesAreRegisteredWithACapability fails when a route is added to
// a ServeMux other than through router.handle, which takes the
// capability: such a route would be missing from the table above.
func TestRoutesAreRegisteredWithACapability(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			allowed := fn.Name.Name == "handle" && fn.Recv != nil
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "Handle", "HandleFunc":
					if !allowed {
						t.Errorf("%s: %s registers a route without a capability: use mux.handle(pattern, capability, handler)",
							fset.Position(call.Pos()), sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
}

// readFileMode reads a file that must have exactly mode perm.
func readFileMode(path string, perm os.FileMode) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm() != perm {
		return "", fmt.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), perm)
	}
	b, err := os.ReadFile(path)
	return string(b), err
}
