package server

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestParseServiceQuery(t *testing.T) {
	cases := []struct {
		query string
		want  serviceQuery
		err   string
	}{
		{"", serviceQuery{}, ""},
		{"all=true", serviceQuery{all: true}, ""},
		{"all=0", serviceQuery{}, ""},
		{"all=maybe", serviceQuery{}, "all="},
		{"choose=2|web-1", serviceQuery{chooseN: 2, chooseKey: "web-1"}, ""},
		{"choose=1|a|b", serviceQuery{chooseN: 1, chooseKey: "a|b"}, ""},
		{"choose=2", serviceQuery{}, "choose="},
		{"choose=0|k", serviceQuery{}, "choose="},
		{"choose=x|k", serviceQuery{}, "choose="},
		{"choose=3|", serviceQuery{}, "choose="},
		{"choose=70000|k", serviceQuery{}, "choose="},
		{"choose=1|" + strings.Repeat("k", 257), serviceQuery{}, "choose="},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/service/api", nil)
			r.URL.RawQuery = strings.ReplaceAll(c.query, "|", "%7C")
			got, err := parseServiceQuery(r)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one naming %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v %v, want %+v", got, err, c.want)
			}
		})
	}
}

func TestSelectServices(t *testing.T) {
	reg := func(id, status string) *cluster.ServiceRegistration {
		return &cluster.ServiceRegistration{ID: id, Status: status}
	}
	regs := []*cluster.ServiceRegistration{
		reg("c", cluster.ServiceHealthPassing), reg("a", cluster.ServiceHealthCritical),
		reg("b", cluster.ServiceHealthPassing), reg("d", cluster.ServiceHealthPassing),
	}
	ids := func(rs []*cluster.ServiceRegistration) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name string
		q    serviceQuery
		want string
	}{
		{"healthy only, by ID", serviceQuery{}, "b,c,d"},
		{"all", serviceQuery{all: true}, "a,b,c,d"},
		{"choose among the healthy", serviceQuery{chooseN: 3, chooseKey: "k"}, ""},
		{"choose more than there are", serviceQuery{chooseN: 9, chooseKey: "k"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := selectServices(regs, c.q)
			if c.want != "" && ids(got) != c.want {
				t.Fatalf("got %s, want %s", ids(got), c.want)
			}
			if c.q.chooseN > 0 {
				if len(got) != min(c.q.chooseN, 3) || strings.Contains(ids(got), "a") {
					t.Fatalf("chose %s: want %d healthy", ids(got), min(c.q.chooseN, 3))
				}
				if again := selectServices(reversed(regs), c.q); ids(again) != ids(got) {
					t.Fatalf("choose unstable: %s then %s", ids(got), ids(again))
				}
			}
		})
	}
}

func TestServiceListStubs(t *testing.T) {
	regs := []*cluster.ServiceRegistration{
		{Namespace: "default", ServiceName: "web", Tags: []string{"b", "a"}},
		{Namespace: "default", ServiceName: "web", Tags: []string{"a", "c"}},
		{Namespace: "default", ServiceName: "api"},
		{Namespace: "prod", ServiceName: "db", Tags: []string{"x"}},
	}
	got := serviceListStubs(regs, func(ns string) bool { return true })
	if len(got) != 2 || got[0].Namespace != "default" || got[1].Namespace != "prod" {
		t.Fatalf("namespaces %+v", got)
	}
	d := got[0].Services
	if len(d) != 2 || d[0].ServiceName != "api" || d[0].Tags == nil || len(d[0].Tags) != 0 ||
		d[1].ServiceName != "web" || !slices.Equal(d[1].Tags, []string{"a", "b", "c"}) {
		t.Fatalf("default services %+v %+v", d[0], d[1])
	}
	if got := serviceListStubs(regs, func(ns string) bool { return ns == "prod" }); len(got) != 1 || got[0].Namespace != "prod" {
		t.Fatalf("filtered %+v", got)
	}
}

// FuzzParseServiceQuery: no query string panics the parser, and what it
// accepts is within the bounds.
func FuzzParseServiceQuery(f *testing.F) {
	f.Add("choose=2%7Cweb-1&all=true")
	f.Add("choose=%7C%7C")
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/v1/service/api", nil)
		r.URL.RawQuery = raw
		q, err := parseServiceQuery(r)
		if err == nil && q.chooseN != 0 && (q.chooseN < 1 || q.chooseN > maxChoose || q.chooseKey == "" || len(q.chooseKey) > maxChooseKeyLen) {
			t.Fatalf("accepted %+v", q)
		}
	})
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
