package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// routeNamespaceCaps are the namespace capabilities the routes check,
// as the endpoint names them: what a management token holds anywhere.
func routeNamespaceCaps(s *servertest.Server) []string {
	var out []string
	for _, rt := range s.Routes() {
		if name, ok := strings.CutPrefix(string(rt.Capability), "namespace:"); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestACLCapabilitiesAnswer asks GET /v1/acl/token/self/capabilities
// with tokens of each kind, on a server with ACLs and on one without.
func TestACLCapabilitiesAnswer(t *testing.T) {
	t.Parallel()
	s := aclServer(t)
	open := servertest.Single(t) // no ACLs, no token: the dev server
	all := routeNamespaceCaps(s)
	for _, want := range []string{"list-jobs", "read-job", "submit-job", "scale-job", "dispatch-job"} {
		if !slices.Contains(all, want) {
			t.Fatalf("the routes check %v; want %s among them", all, want)
		}
	}
	ctx := context.Background()
	mgmtACL, err := s.Client.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: "ops", Type: cluster.ACLTokenManagement})
	if err != nil {
		t.Fatal(err)
	}
	readOnly := mustToken(t, s.Client, "cap-read", "namespace \"default\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\n")
	// A wildcard namespace grants where no namespace rule of its own
	// exists; an own rule replaces it; submit-job grants scale-job.
	wildcard := mustToken(t, s.Client, "cap-wildcard", "namespace \"*\" {\n  policy = \"read\"\n}\nnamespace \"default\" {\n  capabilities = [\"submit-job\"]\n}\nagent {\n  policy = \"write\"\n}\n")
	// A namespace's deny wins over the wildcard's write; a level's deny
	// grants nothing.
	deny := mustToken(t, s.Client, "cap-deny", "namespace \"*\" {\n  policy = \"write\"\n}\nnamespace \"secret\" {\n  policy = \"deny\"\n}\noperator {\n  policy = \"deny\"\n}\n")
	write := namespacePolicyWrite(all)

	for _, tc := range []struct {
		name       string
		srv        *servertest.Server
		token      string
		namespaces []string
		want       api.ACLCapabilities
	}{
		{"token_file management token", s, testMgmtToken, nil, api.ACLCapabilities{ACL: true, Management: true,
			Namespaces: map[string][]string{"default": all}, Node: "write", Agent: "write", Operator: "write"}},
		{"ACL management token", s, mgmtACL.SecretID, []string{"default", "prod"}, api.ACLCapabilities{ACL: true, Management: true,
			Namespaces: map[string][]string{"default": all, "prod": all}, Node: "write", Agent: "write", Operator: "write"}},
		{"client token with a read policy", s, readOnly, []string{"default", "prod"}, api.ACLCapabilities{ACL: true,
			Namespaces: map[string][]string{"default": {"list-jobs", "read-job"}, "prod": {}}, Node: "read"}},
		{"wildcard namespace", s, wildcard, []string{"default", "prod", "default"}, api.ACLCapabilities{ACL: true,
			Namespaces: map[string][]string{"default": {"scale-job", "submit-job"}, "prod": {"list-jobs", "read-job"}}, Agent: "write"}},
		{"deny", s, deny, []string{"secret", "web"}, api.ACLCapabilities{ACL: true,
			Namespaces: map[string][]string{"secret": {}, "web": write}}},
		{"empty namespace parameter reads as default", s, readOnly, []string{""}, api.ACLCapabilities{ACL: true,
			Namespaces: map[string][]string{"default": {"list-jobs", "read-job"}}, Node: "read"}},
		{"no ACLs, no token", open, "", []string{"default", "prod"}, api.ACLCapabilities{ACL: false, Management: true,
			Namespaces: map[string][]string{"default": all, "prod": all}, Node: "write", Agent: "write", Operator: "write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.srv.Client.WithToken(tc.token)
			got, err := c.ACL().Capabilities(ctx, tc.namespaces...)
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("capabilities:\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

// namespacePolicyWrite is what namespace policy "write" grants of the
// capabilities the routes check (alloc-exec is not in write, as in
// Nomad).
func namespacePolicyWrite(all []string) []string {
	var out []string
	for _, c := range all {
		if c != "alloc-exec" {
			out = append(out, c)
		}
	}
	return out
}

// TestACLCapabilitiesMatchEnforcement: for tokens of several policies,
// every namespace route the answer says the token may use gets past
// authorization, and every other is refused with 403. The answer and
// the enforcement are one function; this keeps them so.
func TestACLCapabilitiesMatchEnforcement(t *testing.T) {
	t.Parallel()
	s := aclServer(t)
	addr := "http://" + s.HTTPAddr()
	ctx := context.Background()
	for name, rules := range map[string]string{
		"enf-read":   "namespace \"default\" {\n  policy = \"read\"\n}\n",
		"enf-submit": "namespace \"default\" {\n  capabilities = [\"list-jobs\", \"submit-job\"]\n}\n",
		"enf-deny":   "namespace \"*\" {\n  policy = \"write\"\n}\nnamespace \"default\" {\n  policy = \"deny\"\n}\n",
		"enf-other":  "namespace \"prod\" {\n  policy = \"write\"\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			token := mustToken(t, s.Client, name, rules)
			got, err := s.Client.WithToken(token).ACL().Capabilities(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, rt := range s.Routes() {
				c, ok := strings.CutPrefix(string(rt.Capability), "namespace:")
				if !ok {
					continue
				}
				checked++
				code, msg := routeRequest(t, addr, rt, token)
				refused := code == http.StatusForbidden && strings.Contains(msg, "permission denied")
				if allowed := got.Allows("default", c); allowed == refused {
					t.Errorf("%s %s: the answer says %s allowed=%v, the route answered %d %q", rt.Method, rt.Pattern, c, allowed, code, msg)
				}
			}
			if checked < 10 {
				t.Fatalf("only %d namespace routes checked", checked)
			}
		})
	}
}

// TestACLCapabilitiesRefusals: the endpoint needs a valid token with
// ACLs on, and bounds what it is asked.
func TestACLCapabilitiesRefusals(t *testing.T) {
	t.Parallel()
	s := aclServer(t)
	base := "http://" + s.HTTPAddr() + "/v1/acl/token/self/capabilities"
	many := func(n int) string {
		v := url.Values{}
		for i := range n {
			v.Add("namespace", fmt.Sprintf("ns%d", i))
		}
		return "?" + v.Encode()
	}
	for _, tc := range []struct {
		name, query, token string
		code               int
		msg                string
	}{
		{"no token", "", "", http.StatusUnauthorized, "missing token"},
		{"unknown token", "", "not-a-token", http.StatusForbidden, "not found"},
		{"64 namespaces", many(64), testMgmtToken, http.StatusOK, ""},
		{"65 namespaces", many(65), testMgmtToken, http.StatusBadRequest, "at most 64"},
		{"10000 namespaces", many(10000), testMgmtToken, http.StatusBadRequest, "at most 64"},
		{"long namespace", "?namespace=" + strings.Repeat("n", 129), testMgmtToken, http.StatusBadRequest, "at most 128 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := capabilitiesGet(t, base+tc.query, tc.token)
			if code != tc.code || !strings.Contains(body, tc.msg) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.code, tc.msg)
			}
			if code == http.StatusOK {
				var got api.ACLCapabilities
				if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Namespaces) != 64 {
					t.Errorf("answer for 64 namespaces: %d namespaces, %v", len(got.Namespaces), err)
				}
			}
		})
	}
}

func capabilitiesGet(t testing.TB, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v (did the handler panic?)", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// FuzzACLCapabilitiesQuery sends arbitrary query strings: the answer is
// a 200 or a 400, JSON, and never about more than 64 namespaces.
func FuzzACLCapabilitiesQuery(f *testing.F) {
	s := servertest.Single(f, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
	base := "http://" + s.HTTPAddr() + "/v1/acl/token/self/capabilities?"
	for _, seed := range []string{"", "namespace=default", "namespace=a&namespace=b&namespace=a", "namespace=%00", "namespace=*",
		"namespace=" + strings.Repeat("x", 200), strings.Repeat("namespace=x&", 70), "namespace=%zz", "namespace=+&namespace=%20"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
			return // not a request line: net/http refuses it before any handler
		}
		req, err := http.NewRequest(http.MethodGet, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+testMgmtToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%q: %v (did the handler panic?)", query, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%q = %d %s", query, resp.StatusCode, data)
		}
		if !json.Valid(data) {
			t.Fatalf("answer is not JSON: %q", data)
		}
		var got api.ACLCapabilities
		if resp.StatusCode == http.StatusOK && (json.Unmarshal(data, &got) != nil || len(got.Namespaces) == 0 || len(got.Namespaces) > 64) {
			t.Fatalf("%q: answer about %d namespaces: %s", query, len(got.Namespaces), data)
		}
	})
}
