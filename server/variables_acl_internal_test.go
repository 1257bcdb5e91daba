package server

import (
	"strings"
	"testing"
)

func TestVariablePolicyParseAndMatch(t *testing.T) {
	rules, err := ParseACLPolicy("p.hcl", []byte(`
namespace "default" {
  variables {
    path "project/*"        { capabilities = ["read"] }
    path "project/secret/*" { capabilities = ["deny"] }
    path "project/app"      { capabilities = ["write", "destroy"] }
    path "*/shared"         { capabilities = ["list"] }
  }
}
namespace "*" {
  policy = "read"
  variables {
    path "*" { capabilities = ["list"] }
  }
}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ns, path, cap string
		want          bool
	}{
		{"default", "project/a", "read", true},
		{"default", "project/a", "list", true}, // read implies list
		{"default", "project/a", "write", false},
		{"default", "project/secret/key", "read", false}, // closer deny wins
		{"default", "project/secret/key", "list", false},
		{"default", "project/app", "write", true}, // exact beats glob
		{"default", "project/app", "read", false},
		{"default", "project/app", "destroy", true},
		{"default", "team/shared", "list", true},
		{"default", "team/shared", "read", false},
		{"default", "elsewhere", "read", false},
		{"other", "anything/at/all", "list", true}, // "*" namespace
		{"other", "anything", "read", false},
	} {
		if got := rules.allowVariable(c.ns, c.path, c.cap); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.ns, c.path, c.cap, got, c.want)
		}
	}
	if !rules.allowVariableAny("default", "write") || rules.allowVariableAny("default", "deny") || rules.allowVariableAny("other", "write") {
		t.Error("allowVariableAny")
	}
	// Namespace policies grant no variables by themselves.
	plain, err := ParseACLPolicy("p.hcl", []byte(`namespace "default" { policy = "write" }`))
	if err != nil || plain.allowVariable("default", "x", "read") || plain.allowVariableAny("default", "read") {
		t.Fatalf("a namespace write policy grants variables: %v", err)
	}
}

func TestVariablePolicyMergeDenyWins(t *testing.T) {
	policy := func(caps string) *aclRules {
		r, err := ParseACLPolicy("p", []byte("namespace \"default\" {\n variables {\n  path \"x/*\" { capabilities = "+caps+" }\n }\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := policy(`["read", "write"]`), policy(`["deny"]`)
	r := &aclRules{namespaces: map[string]map[string]bool{}}
	r.merge(a)
	if !r.allowVariable("default", "x/y", "write") {
		t.Fatal("merge lost a grant")
	}
	r.merge(b)
	if r.allowVariable("default", "x/y", "read") {
		t.Fatal("deny does not win after a merge")
	}
}

func TestVariablePolicyRefusals(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"namespace \"d\" {\n variables {\n  path \"a\" { capabilities = [\"sudo\"] }\n }\n}", `unknown capability "sudo"`},
		{"namespace \"d\" {\n variables {\n }\n}", "at least one path"},
		{"namespace \"d\" {\n variables {\n  path \"a\" { capabilities = [\"read\"] }\n  path \"a\" { capabilities = [\"read\"] }\n }\n}", "given twice"},
	} {
		_, err := ParseACLPolicy("p.hcl", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.src, err, c.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "anything/at/all", true},
		{"a/*", "a/b/c", true},
		{"a/*", "b/a", false},
		{"*/x", "a/b/x", true},
		{"a*c", "abc", true},
		{"a*c", "abd", false},
		{"a*b*c", "a1b2c", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
	} {
		if got := globMatch(c.p, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestImplicitWorkloadPaths(t *testing.T) {
	id := &identity{workload: &workloadIdentity{Namespace: "default", JobID: "web", Group: "fe", Task: "srv"}}
	for _, c := range []struct {
		ns, path, cap string
		want          bool
	}{
		{"default", "nomad/jobs", "read", true},
		{"default", "nomad/jobs/web", "read", true},
		{"default", "nomad/jobs/web/fe", "read", true},
		{"default", "nomad/jobs/web/fe/srv", "read", true},
		{"default", "nomad/jobs/web/fe/srv", "list", true},
		{"default", "nomad/jobs/web/fe/srv", "write", false},
		{"default", "nomad/jobs/api", "read", false},
		{"default", "nomad/jobs/web/other", "read", false},
		{"default", "nomad/jobs/web/fe/srv/deeper", "read", false},
		{"prod", "nomad/jobs/web", "read", false},
		{"default", "app/db", "read", false},
	} {
		if got := id.allowVariable(c.ns, c.path, c.cap); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.ns, c.path, c.cap, got, c.want)
		}
	}
}
