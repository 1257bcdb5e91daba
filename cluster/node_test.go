package cluster

import "testing"

func TestNodeSecretHelpers(t *testing.T) {
	a, b := NewNodeSecret(), NewNodeSecret()
	if a == b || len(a) != 64 || ValidNodeSecret(a) != nil {
		t.Fatalf("secrets %q %q", a, b)
	}
	n := &Node{SecretHash: HashNodeSecret(a)}
	if !n.SecretMatches(a) || n.SecretMatches(b) || n.SecretMatches("") || (&Node{}).SecretMatches("") {
		t.Fatal("SecretMatches")
	}
	for _, bad := range []string{"", "short", string(make([]byte, 129)), "0123456789abcdef0123456789abcde!"} {
		if ValidNodeSecret(bad) == nil {
			t.Errorf("ValidNodeSecret(%q) = nil", bad)
		}
	}
}
