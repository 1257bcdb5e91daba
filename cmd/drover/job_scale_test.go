package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestJobScaleArgs: the usage mistakes are caught before any server is
// asked, each with what to do; --help shows real examples.
func TestJobScaleArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, exitOK, "drover job scale web frontend 5"},
		{[]string{"web"}, exitError, "want JOB [GROUP] COUNT"},
		{[]string{"web", "g", "3", "x"}, exitError, "want JOB [GROUP] COUNT"},
		{[]string{"web", "-1"}, exitError, "flag provided but not defined"},
		{[]string{"web", "--", "-1"}, exitError, `COUNT "-1" is not a whole number`},
		{[]string{"web", "three"}, exitError, `COUNT "three" is not a whole number`},
		{[]string{"web", "99999999999"}, exitError, "is not a whole number"},
	} {
		var out, errb bytes.Buffer
		code := runJobScale(t.Context(), tc.args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("drover job scale %q: exit %d, %q%q; want exit %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := runAction(t.Context(), []string{"--help"}, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != exitOK || !strings.Contains(out.String(), "drover action -job web flush-cache") {
		t.Errorf("drover action --help: %d %q", code, out.String())
	}
	if code := runAction(t.Context(), []string{"flush"}, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != exitError || !strings.Contains(errb.String(), "want -job JOB") {
		t.Errorf("drover action without -job: %d %q", code, errb.String())
	}
}
