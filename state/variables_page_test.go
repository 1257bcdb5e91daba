package state_test

import (
	"slices"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// TestVariablesFrom: a page starts at the first variable at or after
// its (namespace, path), within the namespace and prefix asked for,
// whether or not that variable exists.
func TestVariablesFrom(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})
	for _, nv := range [][2]string{
		{"a", "x/1"}, {"a-b", "x/1"}, {"default", "app"}, {"default", "app/a"}, {"default", "app/b"},
		{"default", "app-z"}, {"default", "b"}, {"dev", "app/a"},
	} {
		v := encVar(nv[1], "a", 1)
		v.Namespace = nv[0]
		if r := varSet(h, v, nil); r.Result != state.VarResultOK {
			t.Fatalf("put %v: %+v", nv, r)
		}
	}
	for _, tc := range []struct {
		name                     string
		ns, prefix, fromNS, from string
		limit                    int
		want                     []string
	}{
		{"namespace", "default", "", "", "", 0, []string{"default:app", "default:app-z", "default:app/a", "default:app/b", "default:b"}},
		{"prefix", "default", "app/", "", "", 0, []string{"default:app/a", "default:app/b"}},
		{"from an existing path", "default", "app/", "default", "app/b", 0, []string{"default:app/b"}},
		{"from a deleted path", "default", "", "default", "app/0", 0, []string{"default:app/a", "default:app/b", "default:b"}},
		{"from before the prefix", "default", "app/", "default", "a", 0, []string{"default:app/a", "default:app/b"}},
		{"from an earlier namespace", "default", "app/", "a", "zzz", 0, []string{"default:app/a", "default:app/b"}},
		{"from a later namespace", "default", "", "dev", "", 0, nil},
		{"every namespace", "*", "x/", "", "", 0, []string{"a:x/1", "a-b:x/1"}},
		{"every namespace, from the second", "*", "", "a-b", "x/1", 2, []string{"a-b:x/1", "default:app"}},
		{"every namespace, prefix across", "*", "app/a", "default", "app/b", 0, []string{"dev:app/a"}},
	} {
		var got []string
		h.snap().VariablesFrom(tc.ns, tc.prefix, tc.fromNS, tc.from, func(v *cluster.VariableEncrypted) bool {
			got = append(got, v.Namespace+":"+v.Path)
			return tc.limit == 0 || len(got) < tc.limit
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
