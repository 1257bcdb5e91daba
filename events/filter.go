package events

import (
	"fmt"
	"slices"
	"strings"
)

// Bounds on a subscription's filter, checked before anything is built.
const (
	maxTopicParams = 64
	maxTopicKeyLen = 256
)

// Filter selects the events of a subscription: Nomad's topic filters
// ("Topic", "Topic:Key", "*", "Topic:*") and a namespace ("*" for all).
// Events without a namespace (Node, Sync) pass any namespace filter.
type Filter struct {
	// Topics maps each topic to the keys wanted, nil meaning all keys.
	Topics    map[Topic][]string
	Namespace string
}

// ParseFilter parses the topic query parameters of a subscription. No
// topic means every topic, as in Nomad.
func ParseFilter(topics []string, namespace string) (Filter, error) {
	if len(topics) > maxTopicParams {
		return Filter{}, fmt.Errorf("too many topic parameters (%d, at most %d): subscribe to whole topics instead", len(topics), maxTopicParams)
	}
	f := Filter{Topics: map[Topic][]string{}, Namespace: namespace}
	if f.Namespace == "" {
		f.Namespace = "default"
	}
	all := map[Topic]bool{}
	for _, raw := range topics {
		name, key, hasKey := strings.Cut(strings.TrimSpace(raw), ":")
		t := Topic(name)
		if t != TopicAll && !slices.Contains(Topics, t) {
			return Filter{}, fmt.Errorf("unknown topic %q in %q: use one of %s, or *", name, raw, topicList())
		}
		if hasKey && (key == "" || len(key) > maxTopicKeyLen || strings.ContainsAny(key, ":\x00")) {
			return Filter{}, fmt.Errorf("bad key in topic %q: write Topic:Key with a key of 1 to %d characters, no ':'", raw, maxTopicKeyLen)
		}
		if !hasKey || key == "*" {
			all[t] = true
			f.Topics[t] = nil
			continue
		}
		if !all[t] && !slices.Contains(f.Topics[t], key) {
			f.Topics[t] = append(f.Topics[t], key)
		}
	}
	if len(topics) == 0 {
		f.Topics[TopicAll] = nil
	}
	return f, nil
}

// Match reports whether a subscription with this filter wants ev.
func (f Filter) Match(ev *Stored) bool {
	if ev.Namespace != "" && f.Namespace != "*" && ev.Namespace != f.Namespace {
		return false
	}
	for _, t := range []Topic{ev.Topic, TopicAll} {
		keys, ok := f.Topics[t]
		if !ok {
			continue
		}
		if keys == nil || slices.Contains(keys, ev.Key) {
			return true
		}
		for _, k := range ev.FilterKeys {
			if slices.Contains(keys, k) {
				return true
			}
		}
	}
	return false
}

// String renders the filter back as query values, sorted, for logs.
func (f Filter) String() string {
	var parts []string
	for t, keys := range f.Topics {
		if keys == nil {
			parts = append(parts, string(t))
		}
		for _, k := range keys {
			parts = append(parts, string(t)+":"+k)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",") + " in namespace " + f.Namespace
}

func topicList() string {
	names := make([]string, len(Topics))
	for i, t := range Topics {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
