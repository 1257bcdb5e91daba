package jobspec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// A check_restart block on a service, as Nomad allows, governs each of
// its checks; a check's own block overrides what it sets.
func TestServiceCheckRestart(t *testing.T) {
	job := mustParse(t, `
job "web" {
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "web"
      port = "http"
      check_restart {
        limit = 3
        grace = "20s"
      }
      check {
        name     = "alive"
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
      check {
        name     = "ready"
        type     = "http"
        path     = "/ready"
        interval = "10s"
        timeout  = "2s"
        check_restart {
          limit           = 1
          ignore_warnings = true
        }
      }
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`, nil)
	s := &job.Groups[0].Services[0]
	if want := (&CheckRestart{Limit: 3, Grace: 20 * time.Second}); !reflect.DeepEqual(s.CheckRestart, want) {
		t.Fatalf("service check_restart = %+v, want %+v", s.CheckRestart, want)
	}
	if got, want := EffectiveCheckRestart(s, &s.Checks[0]), (&CheckRestart{Limit: 3, Grace: 20 * time.Second}); !reflect.DeepEqual(got, want) {
		t.Errorf("alive: %+v, want the service's %+v", got, want)
	}
	if got, want := EffectiveCheckRestart(s, &s.Checks[1]), (&CheckRestart{Limit: 1, Grace: 20 * time.Second, IgnoreWarnings: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("ready: %+v, want %+v", got, want)
	}

	// inspect -o hcl writes it back where it was.
	out, err := MarshalHCL(job)
	if err != nil {
		t.Fatal(err)
	}
	again := mustParse(t, string(out), nil)
	if !reflect.DeepEqual(again.Groups[0].Services[0].CheckRestart, s.CheckRestart) {
		t.Errorf("after MarshalHCL: %+v, want %+v\n%s", again.Groups[0].Services[0].CheckRestart, s.CheckRestart, out)
	}

	// Two blocks on one service are refused, with a position.
	diags := mustFail(t, `
job "web" {
  group "g" {
    service {
      name = "web"
      check_restart {
        limit = 1
      }
      check_restart {
        limit = 2
      }
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`, nil)
	if d := diags[0]; d.Subject == nil || d.Subject.Start.Line != 9 || !strings.Contains(d.Summary+d.Detail, "check_restart") {
		t.Errorf("duplicate check_restart: %s at %v, want line 9", d.Summary+": "+d.Detail, d.Subject)
	}
}

// EffectiveCheckRestart is Nomad's merge (api CheckRestart.Merge, as
// Service.Canonicalize applies it).
func TestEffectiveCheckRestart(t *testing.T) {
	svc := &CheckRestart{Limit: 3, Grace: 10 * time.Second}
	for _, tc := range []struct {
		name       string
		svc, check *CheckRestart
		want       *CheckRestart
	}{
		{"none", nil, nil, nil},
		{"check only", nil, &CheckRestart{Limit: 2}, &CheckRestart{Limit: 2}},
		{"service only", svc, nil, svc},
		{"check limit wins", svc, &CheckRestart{Limit: 1}, &CheckRestart{Limit: 1, Grace: 10 * time.Second}},
		{"check grace wins", svc, &CheckRestart{Grace: time.Second}, &CheckRestart{Limit: 3, Grace: time.Second}},
		{"ignore_warnings adds", svc, &CheckRestart{IgnoreWarnings: true}, &CheckRestart{Limit: 3, Grace: 10 * time.Second, IgnoreWarnings: true}},
		{"service ignore_warnings kept", &CheckRestart{Limit: 2, IgnoreWarnings: true}, &CheckRestart{Limit: 5}, &CheckRestart{Limit: 5, IgnoreWarnings: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{CheckRestart: tc.svc}
			c := &Check{CheckRestart: tc.check}
			got := EffectiveCheckRestart(s, c)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got != nil && (got == tc.svc) {
				t.Fatal("the service's block was returned itself, so a caller could change it for every check")
			}
		})
	}
}
