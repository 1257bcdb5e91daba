package events

import (
	"strings"
	"testing"
)

func TestParseFilterAndMatch(t *testing.T) {
	job := &Stored{Topic: TopicJob, Key: "web", Namespace: "default", Index: 1}
	alloc := &Stored{Topic: TopicAllocation, Key: "a1b2", Namespace: "default", FilterKeys: []string{"web", "dep1"}, Index: 1}
	other := &Stored{Topic: TopicJob, Key: "web", Namespace: "prod", Index: 1}
	node := &Stored{Topic: TopicNode, Key: "n1", Index: 1}
	for _, tc := range []struct {
		topics []string
		ns     string
		want   map[*Stored]bool
	}{
		{nil, "", map[*Stored]bool{job: true, alloc: true, other: false, node: true}},
		{[]string{"*"}, "*", map[*Stored]bool{job: true, alloc: true, other: true, node: true}},
		{[]string{"Job"}, "", map[*Stored]bool{job: true, alloc: false, other: false, node: false}},
		{[]string{"Job:api"}, "", map[*Stored]bool{job: false, alloc: false}},
		{[]string{"Allocation:web"}, "", map[*Stored]bool{alloc: true, job: false}}, // by filter key (the job)
		{[]string{"Allocation:dep1", "Node:n1"}, "", map[*Stored]bool{alloc: true, node: true, job: false}},
		{[]string{"*:web"}, "prod", map[*Stored]bool{other: true, job: false, alloc: false, node: false}},
		{[]string{"Job:api", "Job"}, "", map[*Stored]bool{job: true}},
		{[]string{"Job:*"}, "", map[*Stored]bool{job: true}},
	} {
		f, err := ParseFilter(tc.topics, tc.ns)
		if err != nil {
			t.Fatalf("%v: %v", tc.topics, err)
		}
		for ev, want := range tc.want {
			if got := f.Match(ev); got != want {
				t.Errorf("filter %v ns %q on %s %s/%s: %v, want %v", tc.topics, tc.ns, ev.Topic, ev.Namespace, ev.Key, got, want)
			}
		}
	}
}

func TestParseFilterRefuses(t *testing.T) {
	for _, tc := range []struct{ topic, want string }{
		{"Jobs", "unknown topic"},
		{"job", "unknown topic"},
		{"Job:", "bad key"},
		{"Job:a:b", "bad key"},
		{"Job:" + strings.Repeat("x", 300), "bad key"},
		{"", "unknown topic"},
	} {
		_, err := ParseFilter([]string{tc.topic}, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.topic, err, tc.want)
		}
	}
	if _, err := ParseFilter(make([]string, 65), ""); err == nil {
		t.Error("65 topic parameters accepted")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"Job", "Job:web", "*", "*:*", "Allocation:a:b", "Node:", ":x", "Sync:src\x00"} {
		f.Add(s, "default")
	}
	f.Fuzz(func(t *testing.T, topic, ns string) {
		flt, err := ParseFilter([]string{topic}, ns)
		if err != nil {
			return
		}
		// Whatever parsed names known topics and bounded keys only.
		for tp, keys := range flt.Topics {
			if tp != TopicAll && !isTopic(tp) {
				t.Fatalf("%q parsed to unknown topic %q", topic, tp)
			}
			for _, k := range keys {
				if k == "" || len(k) > maxTopicKeyLen || strings.Contains(k, ":") {
					t.Fatalf("%q parsed to bad key %q", topic, k)
				}
			}
		}
		_ = flt.Match(&Stored{Topic: TopicJob, Key: topic, Namespace: ns})
		_ = flt.String()
	})
}

func isTopic(t Topic) bool {
	for _, k := range Topics {
		if k == t {
			return true
		}
	}
	return false
}
