package pki

import (
	"errors"
	"strings"
	"testing"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	ca := mustCA(t, "global")
	for _, role := range []Role{RoleServer, RoleClient} {
		tok, err := NewJoinToken(role, ca.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		s := tok.String()
		if !strings.HasPrefix(s, "DRVTKN-1-"+string(role)+"-"+FingerprintString(ca.Fingerprint())+"-") {
			t.Errorf("token %q does not start with the role and CA fingerprint", s)
		}
		got, err := ParseJoinToken(" " + s + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(tok) || got.Role != role {
			t.Error("parsed token differs")
		}
		other, _ := NewJoinToken(role, ca.Fingerprint())
		if other.Equal(tok) {
			t.Error("two new tokens share a secret")
		}
	}
	server, _ := NewJoinToken(RoleServer, ca.Fingerprint())
	client := server
	client.Role = RoleClient
	if client.Equal(server) {
		t.Error("a client token with a server token's secret equals it")
	}
	if _, err := NewJoinToken("cli", ca.Fingerprint()); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewJoinToken(cli) = %v, want ErrInvalid: CLI certificates come from drover tls cert create", err)
	}
}

func TestParseJoinTokenErrors(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	sec := strings.Repeat("cd", 16)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "want DRVTKN-1"},
		{"swarm", "SWMTKN-1-" + fp + "-" + sec, "want DRVTKN-1"},
		{"version", "DRVTKN-2-server-" + fp + "-" + sec, "version"},
		{"cli role", "DRVTKN-1-cli-" + fp + "-" + sec, `role "cli"`},
		{"unknown role", "DRVTKN-1-admin-" + fp + "-" + sec, `role "admin"`},
		{"short fingerprint", "DRVTKN-1-server-" + fp[2:] + "-" + sec, "fingerprint"},
		{"uppercase", "DRVTKN-1-server-" + strings.ToUpper(fp) + "-" + sec, "lowercase"},
		{"not hex", "DRVTKN-1-server-" + fp + "-" + strings.Repeat("zz", 16), "secret"},
		{"extra part", "DRVTKN-1-server-" + fp + "-" + sec + "-x", "want DRVTKN-1"},
		{"too long", strings.Repeat("a", 300), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJoinToken(tt.in)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseJoinToken = %v, want ErrInvalid containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), sec) {
				t.Error("the error repeats the secret")
			}
		})
	}
}

func FuzzParseJoinToken(f *testing.F) {
	f.Add("DRVTKN-1-server-" + strings.Repeat("ab", 32) + "-" + strings.Repeat("cd", 16))
	f.Add("SWMTKN-1-x-y")
	f.Add("DRVTKN-1-server--")
	f.Add("DRVTKN-1-client-" + strings.Repeat("01", 32) + "-" + strings.Repeat("ef", 16))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := ParseJoinToken(tok.String())
		if err != nil || !again.Equal(tok) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		if tok.String() != strings.TrimSpace(s) {
			t.Fatalf("ParseJoinToken accepted %q, which formats as %q", s, tok.String())
		}
	})
}
