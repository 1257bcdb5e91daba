package drivers

import (
	"strings"
	"testing"
)

func TestValidHostname(t *testing.T) {
	tests := []struct {
		h  string
		ok bool
	}{
		{"web", true},
		{"web-0.prod.example", true},
		{"0abc", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a.", 32), false}, // trailing dot: empty label
		{strings.Repeat("a", 64), false},  // label too long
		{strings.Repeat("a.", 32) + "a", false},
		{"", false},
		{"-web", false},
		{"web-", false},
		{"we_b", false},
		{"web 1", false},
		{"${NOMAD_ALLOC_INDEX}", false}, // an unresolved reference
		{"a\x1b[2Jb", false},
		{"wéb", false},
	}
	for _, tt := range tests {
		if err := ValidHostname(tt.h); (err == nil) != tt.ok {
			t.Errorf("ValidHostname(%q) = %v, want ok %v", tt.h, err, tt.ok)
		}
	}
}
