package reconciler

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/repo"
)

func chainDeps(t *testing.T) *repo.Config {
	t.Helper()
	cfg, diags := repo.ParseConfig("drover.hcl", []byte("job \"api\" {\n  depends_on = [\"postgres\"]\n}\njob \"web\" {\n  depends_on = [\"api\"]\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

func TestOrder(t *testing.T) {
	deps := chainDeps(t)
	const sha, other = "c0ffee", "beef00"
	act := func(id string) Action { return Action{ID: id, Namespace: "default", Job: &jobspec.Job{ID: id}} }
	live := func(id string, version uint64, commit string) *cluster.Job {
		return &cluster.Job{ID: id, Namespace: "default", Version: version, Source: &cluster.Source{Name: "apps", Commit: commit}}
	}
	type health map[string]Health // by "id@version"
	tests := []struct {
		name      string
		register  []string
		live      []*cluster.Job
		submitted map[string]Submitted
		health    health
		ready     []string
		holds     []string
	}{
		{"first pass: the roots go", []string{"api", "postgres", "web"}, nil, nil, nil,
			[]string{"postgres"}, []string{"api waits for postgres (in this commit, not started yet)", "web waits for api (in this commit, not started yet); postgres (in this commit, not started yet)"}},
		{"postgres rolling out", []string{"api", "web"}, []*cluster.Job{live("postgres", 3, sha)}, nil,
			health{"postgres@3": {State: RolloutPending, Reason: "deployment 1 running: db 1/3 healthy"}},
			nil, []string{"api waits for postgres (deployment 1 running: db 1/3 healthy)", "web waits for api (in this commit, not started yet); postgres (deployment 1 running: db 1/3 healthy)"}},
		{"postgres healthy: api goes", []string{"api", "web"}, []*cluster.Job{live("postgres", 3, sha)}, nil,
			health{"postgres@3": {State: RolloutHealthy}},
			[]string{"api"}, []string{"web waits for api (in this commit, not started yet)"}},
		{"an unchanged dependency holds no one", []string{"web"}, []*cluster.Job{live("postgres", 3, other), live("api", 2, other)}, nil,
			health{"postgres@3": {State: RolloutPending}, "api@2": {State: RolloutPending}},
			[]string{"web"}, nil},
		{"postgres failed and was reverted: dependents fail", []string{"api", "postgres", "web"}, []*cluster.Job{live("postgres", 4, other)},
			map[string]Submitted{"postgres": {ID: "postgres", Namespace: "default", Version: 3}},
			health{"postgres@3": {State: RolloutFailed, Reason: "deployment failed: unhealthy"}},
			[]string{"postgres"}, []string{"api not rolled out: dependency postgres failed: deployment failed: unhealthy", "web not rolled out: dependency postgres failed: deployment failed: unhealthy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := orderInput{deps: deps, commit: sha, source: "apps", live: map[string]*cluster.Job{}, submitted: tt.submitted}
			for _, id := range tt.register {
				in.register = append(in.register, act(id))
			}
			for _, j := range tt.live {
				in.live[j.ID] = j
			}
			in.health = func(_ context.Context, _, id string, version uint64) (Health, error) {
				h, ok := tt.health[id+"@"+strconv.FormatUint(version, 10)]
				if !ok {
					t.Errorf("health of %s@%d asked, not expected", id, version)
				}
				return h, nil
			}
			ready, holds, err := order(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			var gotReady []string
			for _, a := range ready {
				gotReady = append(gotReady, a.ID)
			}
			if !reflect.DeepEqual(gotReady, tt.ready) {
				t.Errorf("ready = %q, want %q", gotReady, tt.ready)
			}
			if got := holdStrings(holds); !reflect.DeepEqual(got, tt.holds) && (len(got) != 0 || len(tt.holds) != 0) {
				t.Errorf("holds =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.holds, "\n  "))
			}
		})
	}

	// A health read that fails is a Waiting step error: the next pass
	// tries again.
	in := orderInput{deps: deps, commit: sha, source: "apps", register: []Action{act("api")},
		live: map[string]*cluster.Job{"postgres": live("postgres", 1, sha)},
		health: func(context.Context, string, string, uint64) (Health, error) {
			return Health{}, errors.New("connection refused")
		}}
	if _, _, err := order(t.Context(), in); KindOf(err) != Waiting || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("err = %v (%v), want a Waiting error naming postgres", err, KindOf(err))
	}
	// No dependencies: everything goes, nothing is read.
	in = orderInput{register: []Action{act("api"), act("web")}}
	if ready, holds, err := order(t.Context(), in); len(ready) != 2 || holds != nil || err != nil {
		t.Errorf("without deps: %v %v %v", ready, holds, err)
	}
}

func TestWavesOfDecision(t *testing.T) {
	deps := chainDeps(t)
	d := Decision{
		Register: []Action{{ID: "web"}, {ID: "api"}, {ID: "postgres"}, {ID: "cache"}},
		Stop:     []Action{{ID: "legacy"}},
	}
	var got [][]string
	for i, w := range Waves(deps, d) {
		var ids []string
		for _, a := range w.Register {
			ids = append(ids, a.ID)
		}
		got = append(got, ids)
		if (i == 0) != (len(w.Stop) == 1) {
			t.Errorf("wave %d stops %v: stops belong to the first wave", i+1, w.Stop)
		}
	}
	if want := [][]string{{"cache", "postgres"}, {"api"}, {"web"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("waves = %q, want %q", got, want)
	}
	if w := Waves(nil, d); len(w) != 1 || len(w[0].Register) != 4 {
		t.Errorf("without deps: %d waves", len(w))
	}
}
