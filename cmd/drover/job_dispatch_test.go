package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

// TestReadPayload: a file, standard input, none; more than 16 KiB is
// refused before anything is sent, saying what to do instead.
func TestReadPayload(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(small, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), api.DispatchPayloadMaxBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := bytes.Repeat([]byte("y"), api.DispatchPayloadMaxBytes)
	for _, tc := range []struct {
		name, input string
		stdin       []byte
		want        []byte
		err         string
	}{
		{"none", "", nil, nil, ""},
		{"a file", small, nil, []byte("hello"), ""},
		{"stdin", "-", []byte("from stdin"), []byte("from stdin"), ""},
		{"stdin at the limit", "-", exact, exact, ""},
		{"stdin over the limit", "-", append(exact, 'z'), nil, "larger than 16384 bytes"},
		{"a file over the limit", big, nil, nil, "put the data where the task can fetch it"},
		{"no such file", filepath.Join(dir, "nope"), nil, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPayload(tc.input, bytes.NewReader(tc.stdin))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

// TestJobDispatchArgs: the job is required, at most one input.
func TestJobDispatchArgs(t *testing.T) {
	for _, args := range [][]string{{}, {"a", "b", "c"}} {
		var out, errb bytes.Buffer
		code := runJobDispatch(t.Context(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		if code != exitError || !strings.Contains(errb.String(), "drover job dispatch [options] JOB [INPUT|-]") {
			t.Errorf("args %q: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
