package server

import (
	"net/url"
	"strings"
	"testing"
)

// TestLogsParams: Nomad's log query maps onto the agent's, and what the
// agent cannot do (byte offsets, framed output) is refused with the way
// out.
func TestLogsParams(t *testing.T) {
	for _, tc := range []struct {
		query, want, err string
	}{
		{"", "", ""},
		{"type=stderr&follow=true&plain=true", "follow=true&type=stderr", ""},
		{"origin=start&offset=0", "", ""},
		{"origin=end&offset=0", "lines=0", ""},
		{"origin=end&lines=5", "lines=5", ""},
		{"lines=10&follow=false", "lines=10", ""},
		{"task=t&other=x", "", ""},
		{"type=stdin", "", "want stdout or stderr"},
		{"follow=yes", "", "want true or false"},
		{"lines=-1", "", "want a number"},
		{"lines=99999999999999999999", "", "want a number"},
		{"origin=end&offset=100", "", "use lines=N"},
		{"origin=middle", "", "use lines=N"},
		{"plain=false", "", "only plain=true"},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := logsParams(q)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err %v, want one saying %q", tc.query, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.query, err)
		case tc.err == "" && got.Encode() != tc.want:
			t.Errorf("%q: agent query %q, want %q", tc.query, got.Encode(), tc.want)
		}
	}
}

// FuzzLogsParams: no query makes the checks panic or pass a value the
// agent would have to check again.
func FuzzLogsParams(f *testing.F) {
	f.Add("type=stdout&follow=true&lines=3&origin=end&offset=0&plain=true")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		out, err := logsParams(q)
		if err != nil {
			return
		}
		for k := range out {
			if k != "type" && k != "follow" && k != "lines" {
				t.Fatalf("%q passed %q to the agent", raw, k)
			}
		}
	})
}
