package allocrunner

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/jobspec"
)

func TestServiceDepArguments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []any
		key     string
		choose  string
		wantErr string
	}{
		{"name", []any{"api"}, "api", "", ""},
		{"choose", []any{2, "alloc-1", "api"}, "api", "2|alloc-1", ""},
		{"choose count as string", []any{"3", "k", "api"}, "api", "3|k", ""},
		{"empty name", []any{""}, "", "", "want a service name"},
		{"two arguments", []any{"a", "b"}, "", "", "want 1 or 3 arguments"},
		{"zero count", []any{0, "k", "api"}, "", "", "nomadService <count>"},
		{"empty key", []any{1, "", "api"}, "", "", "nomadService <count>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := serviceDep("default", tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || d.Key != tc.key || d.Choose != tc.choose || d.Kind != LiveService {
				t.Fatalf("dep = %+v, %v", d, err)
			}
		})
	}
}

func TestLiveNamespaceSuffix(t *testing.T) {
	l := &liveData{ns: "prod"}
	for _, tc := range []struct{ in, ns, key string }{
		{"nomad/jobs/x", "prod", "nomad/jobs/x"},
		{"nomad/jobs/x@other", "other", "nomad/jobs/x"},
		{"trailing@", "prod", "trailing@"},
		{"nomad/jobs/x@other.global", "other", "nomad/jobs/x"},
	} {
		if ns, key := l.splitNS(tc.in); ns != tc.ns || key != tc.key {
			t.Errorf("splitNS(%q) = %q, %q; want %q, %q", tc.in, ns, key, tc.ns, tc.key)
		}
	}
}

func TestLiveDepNames(t *testing.T) {
	for _, tc := range []struct {
		d    LiveDep
		want string
	}{
		{LiveDep{Kind: LiveVar, Namespace: "default", Key: "nomad/jobs/web"}, "nomad.var.block(nomad/jobs/web@default)"},
		{LiveDep{Kind: LiveVarList, Namespace: "default", Key: "nomad/jobs"}, "nomad.var.list(nomad/jobs@default)"},
		{LiveDep{Kind: LiveService, Namespace: "default", Key: "api"}, "nomad.service(api@default)"},
		{LiveDep{Kind: LiveServices, Namespace: "default"}, "nomad.services(@default)"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%+v = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestVarItemsInTemplates(t *testing.T) {
	items := VarItems{"b": {Key: "b", Value: "2"}, "a": {Key: "a", Value: "1", meta: LiveVarMeta{Path: "p"}}}
	if got := strings.Join(items.Keys(), ","); got != "a,b" {
		t.Errorf("Keys = %s", got)
	}
	if v := items.Values(); len(v) != 2 || v[0] != "1" || v[1] != "2" {
		t.Errorf("Values = %+v", v)
	}
	if tu := items.Tuples(); len(tu) != 2 || tu[0].K != "a" || tu[0].V != "1" {
		t.Errorf("Tuples = %+v", tu)
	}
	if items["a"].String() != "1" || items.Metadata().Path != "p" && items.Metadata().Path != "" {
		t.Errorf("item String/Metadata")
	}
}

func TestParseServiceSpec(t *testing.T) {
	for _, tc := range []struct {
		in            string
		tag, name, ns string
		ok            bool
	}{
		{"api", "", "api", "", true},
		{"v1.api", "v1", "api", "", true},
		{"api?ns=prod", "", "api", "prod", true},
		{"canary.api?ns=prod@global", "canary", "api", "prod", true},
		{"api@global", "", "api", "", true},
		{"", "", "", "", false},
		{"api?ns=", "", "", "", false},
		{"a b", "", "", "", false},
	} {
		tag, name, ns, ok := parseServiceSpec(tc.in)
		if ok != tc.ok || ok && (tag != tc.tag || name != tc.name || ns != tc.ns) {
			t.Errorf("parseServiceSpec(%q) = %q %q %q %v", tc.in, tag, name, ns, ok)
		}
	}
}

// Without servers to read from (an agent with no LiveSource), a
// template that uses the live functions fails with a reason rather than
// "function not defined".
func TestLiveFunctionsWithoutServers(t *testing.T) {
	_, err := renderOne(jobspec.Template{Data: `{{ with nomadVar "nomad/jobs/x" }}{{ .a }}{{ end }}`}, taskenv.Dirs{}, nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "cannot read live data from the servers") {
		t.Fatalf("err = %v", err)
	}
}
