package server

import (
	"strings"
	"testing"
)

func TestParseACLPolicy(t *testing.T) {
	cases := []struct {
		name, src string
		check     func(r *aclRules) bool
		err       string
	}{
		{name: "read", src: `namespace "default" { policy = "read" }`, check: func(r *aclRules) bool {
			return r.allowNamespace("default", "read-job") && r.allowNamespace("default", "list-jobs") &&
				!r.allowNamespace("default", "submit-job") && !r.allowNamespace("prod", "read-job")
		}},
		{name: "write and wildcard", src: `namespace "*" { policy = "write" }`, check: func(r *aclRules) bool {
			return r.allowNamespace("prod", "submit-job")
		}},
		{name: "capabilities", src: `namespace "default" { capabilities = ["submit-job"] }`, check: func(r *aclRules) bool {
			return r.allowNamespace("default", "submit-job") && !r.allowNamespace("default", "read-job")
		}},
		{name: "deny capability wins", src: `namespace "default" {
  policy       = "write"
  capabilities = ["deny"]
}`, check: func(r *aclRules) bool { return !r.allowNamespace("default", "read-job") }},
		{name: "levels", src: "node {\n  policy = \"write\"\n}\nagent {\n  policy = \"read\"\n}\noperator {\n  policy = \"deny\"\n}\n", check: func(r *aclRules) bool {
			return allowLevel(r.node, "write") && allowLevel(r.agent, "read") && !allowLevel(r.agent, "write") && !allowLevel(r.operator, "read")
		}},
		{name: "bad level", src: "node {\n  policy = \"admin\"\n}\n", err: `p.hcl:1,1-5: node: policy "admin"`},
		{name: "bad capability", src: "\nnamespace \"x\" { capabilities = [\"root\"] }", err: `p.hcl:2,1-14: namespace "x": unknown capability "root"`},
		{name: "empty namespace rule", src: `namespace "x" {}`, err: "set policy, capabilities or variables"},
		{name: "duplicate", src: "namespace \"x\" { policy = \"read\" }\nnamespace \"x\" { policy = \"read\" }", err: "p.hcl:2,1-14: namespace \"x\" is given twice"},
		{name: "unknown block", src: `root { policy = "write" }`, err: "p.hcl:1,1-5"},
		{name: "syntax", src: `namespace "x" {`, err: "p.hcl:1,"},
		{name: "too big", src: strings.Repeat(" ", MaxACLPolicyBytes+1), err: "more than the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseACLPolicy("p.hcl", []byte(tc.src))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Fatalf("rules %+v do not grant what they should", r)
			}
		})
	}
}

func TestACLRulesMergeDenyWins(t *testing.T) {
	a, _ := ParseACLPolicy("a.hcl", []byte("namespace \"default\" { policy = \"write\" }\nnode {\n  policy = \"write\"\n}\n"))
	b, _ := ParseACLPolicy("b.hcl", []byte("namespace \"default\" { policy = \"deny\" }\nnode {\n  policy = \"read\"\n}\n"))
	m := &aclRules{namespaces: map[string]map[string]bool{}}
	m.merge(a)
	m.merge(b)
	if m.allowNamespace("default", "read-job") {
		t.Error("deny of one policy did not win over write of another")
	}
	if !allowLevel(m.node, "write") {
		t.Error("read of one policy took away write of another")
	}
}

func FuzzParseACLPolicy(f *testing.F) {
	f.Add(`namespace "default" { policy = "read" }`)
	f.Add("namespace \"*\" {\n  capabilities = [\"submit-job\", \"deny\"]\n}\nnode {\n  policy = \"write\"\n}\n")
	f.Add(`operator { policy = "deny" }`)
	f.Fuzz(func(t *testing.T, src string) {
		r, err := ParseACLPolicy("f.hcl", []byte(src))
		if err == nil && r == nil {
			t.Fatal("no rules and no error")
		}
	})
}
