package pki

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	kek, err := NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKEK()
	secret := []byte("-----BEGIN PRIVATE KEY-----\nCA key\n-----END PRIVATE KEY-----\n")
	sealed, err := Seal(kek, secret, []byte("ca-key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("CA key")) {
		t.Fatal("the sealed data contains the plaintext")
	}
	again, _ := Seal(kek, secret, []byte("ca-key"))
	if bytes.Equal(again, sealed) {
		t.Error("sealing twice gives the same bytes: the nonce is not random")
	}
	got, err := Open(kek, sealed, []byte("ca-key"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if got, err := Open(kek, mustSeal(t, kek, nil, nil), nil); err != nil || len(got) != 0 {
		t.Errorf("empty plaintext: %q, %v", got, err)
	}

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		kek    [32]byte
		sealed []byte
		aad    string
		want   string
	}{
		{"wrong key", other, sealed, "ca-key", "does not open"},
		{"wrong aad", kek, sealed, "join-token-server", "does not open"},
		{"tampered nonce", kek, flip(1), "ca-key", "does not open"},
		{"tampered ciphertext", kek, flip(20), "ca-key", "does not open"},
		{"tampered tag", kek, flip(len(sealed) - 1), "ca-key", "does not open"},
		{"other version", kek, flip(0), "ca-key", "version"},
		{"truncated", kek, sealed[:20], "ca-key", "too short"},
		{"empty", kek, nil, "ca-key", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(tt.kek, tt.sealed, []byte(tt.aad))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Fatalf("Open = %q, %v; want ErrInvalid containing %q", got, err, tt.want)
			}
		})
	}
}

func mustSeal(t *testing.T, kek [32]byte, plain, aad []byte) []byte {
	t.Helper()
	b, err := Seal(kek, plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKEKText(t *testing.T) {
	kek, _ := NewKEK()
	s := EncodeKEK(kek)
	if !strings.HasPrefix(s, "drover-kek-1:") || strings.ContainsAny(s, "\n ") {
		t.Fatalf("EncodeKEK = %q, want one line drover-kek-1:<base64>", s)
	}
	got, err := ParseKEK(s + "\n")
	if err != nil || got != kek {
		t.Fatalf("ParseKEK round trip: %v", err)
	}
	b64 := strings.TrimPrefix(s, "drover-kek-1:")
	for _, bad := range []string{"", b64, "drover-kek-2:" + b64, "drover-kek-1:" + b64[:40], "drover-kek-1:" + b64 + "AAAA", "drover-kek-1:!" + b64[1:]} {
		if _, err := ParseKEK(bad); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), b64) {
			t.Errorf("ParseKEK(%.20q) = %v, want ErrInvalid not repeating the key", bad, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	var kek [32]byte
	sealed, _ := Seal(kek, []byte("secret"), []byte("aad"))
	f.Add(sealed, []byte("aad"))
	f.Add([]byte{1}, []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		plain, err := Open(kek, sealed, aad)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !bytes.Equal(plain, []byte("secret")) || !bytes.Equal(aad, []byte("aad")) {
			t.Fatalf("Open accepted forged data: %q with aad %q", plain, aad)
		}
	})
}

func FuzzParseKEK(f *testing.F) {
	f.Add("drover-kek-1:" + strings.Repeat("A", 43) + "=")
	f.Add("drover-kek-1:")
	f.Fuzz(func(t *testing.T, s string) {
		kek, err := ParseKEK(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if again, err := ParseKEK(EncodeKEK(kek)); err != nil || again != kek {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
