package allocrunner

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCheckOnUpdate(t *testing.T) {
	tests := []struct{ service, check, want string }{
		{"", "", "require_healthy"},
		{"ignore", "", "ignore"},                                  // inherited from the service
		{"ignore", "require_healthy", "require_healthy"},          // the check's own wins
		{"require_healthy", "ignore_warnings", "ignore_warnings"}, // the check's own wins
		{"", "ignore", "ignore"},
		{"bogus", "", "require_healthy"}, // unknown: the strict reading
	}
	for _, tt := range tests {
		if got := checkOnUpdate(tt.service, tt.check); got != tt.want {
			t.Errorf("checkOnUpdate(%q, %q) = %q, want %q", tt.service, tt.check, got, tt.want)
		}
	}
}

func TestHealthyForDeployment(t *testing.T) {
	warn := fmt.Errorf("script check %q: %w (exit code 1): busy", "c", errCheckWarning)
	crit := errors.New("HTTP 500")
	tests := []struct {
		onUpdate string
		err      error
		want     bool
	}{
		{"require_healthy", nil, true},
		{"require_healthy", warn, false},
		{"require_healthy", crit, false},
		{"ignore_warnings", nil, true},
		{"ignore_warnings", warn, true},
		{"ignore_warnings", crit, false},
		{"ignore", nil, true},
		{"ignore", warn, true},
		{"ignore", crit, true},
	}
	for _, tt := range tests {
		st := statusOf(tt.err)
		if got := healthyForDeployment(tt.onUpdate, st); got != tt.want {
			t.Errorf("%s with a %s check: healthy = %v, want %v", tt.onUpdate, st, got, tt.want)
		}
	}
	if statusOf(warn) != checkWarning || statusOf(crit) != checkCritical || statusOf(nil) != checkPassing {
		t.Error("statusOf misclassifies")
	}
}

// TestHTTPCheckStatus: a real HTTP server's answers, classified as
// Consul does: 2xx passing, 429 warning, anything else critical.
func TestHTTPCheckStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	r := &Runner{}
	for code, want := range map[int]checkStatus{200: checkPassing, 204: checkPassing, 429: checkWarning, 500: checkCritical, 404: checkCritical} {
		c := checkSpec{name: "c", kind: "http", addr: addr, path: "/" + strconv.Itoa(code), timeout: 5 * time.Second}
		if got := statusOf(r.runCheck(t.Context(), c)); got != want {
			t.Errorf("HTTP %d: %s, want %s", code, got, want)
		}
	}
}
