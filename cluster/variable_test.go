package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateVariablePath(t *testing.T) {
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"a", true},
		{"app/db/creds", true},
		{"with-dash_under~tilde", true},
		{"nomad/jobs", true},
		{"nomad/jobs/web/frontend/server", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"a/../b", false},
		{"..", false},
		{"a.b", false},
		{"a@b", false},
		{"a b", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"nomad", false},
		{"nomad/secret", false},
		{"nomad/jobsx", false},
		{"ünïcode", false},
	} {
		err := ValidateVariablePath(c.path)
		if (err == nil) != c.ok {
			t.Errorf("ValidateVariablePath(%q) = %v, want ok=%v", c.path, err, c.ok)
		}
	}
}

func TestValidateVariableItems(t *testing.T) {
	big := strings.Repeat("v", MaxVariableSize)
	for _, c := range []struct {
		name    string
		items   map[string]string
		ok      bool
		tooLong bool
	}{
		{"one", map[string]string{"k": "v"}, true, false},
		{"none", map[string]string{}, false, false},
		{"exactly 64 KiB", map[string]string{"k": big[1:]}, true, false},
		{"one byte over", map[string]string{"k": big}, false, true},
		{"sum over", map[string]string{"a": big[:40000], "b": big[:40000]}, false, true},
		{"dot key", map[string]string{"a.b": "v"}, false, false},
		{"empty key", map[string]string{"": "v"}, false, false},
	} {
		err := ValidateVariableItems(c.items)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		var tl *VariableTooLargeError
		if errors.As(err, &tl) != c.tooLong {
			t.Errorf("%s: too-large error = %v, want %v", c.name, errors.As(err, &tl), c.tooLong)
		}
		if err != nil && strings.Contains(err.Error(), "vvvv") {
			t.Errorf("%s: the error carries a value", c.name)
		}
	}
}
