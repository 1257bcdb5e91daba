package jobspec_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/jobspec"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		kind jobspec.NameKind
		name string
		want string // "" means valid
	}{
		{jobspec.TaskName, "server", ""},
		{jobspec.TaskName, "my task", ""},
		{jobspec.TaskName, "redis-cache_2:v1", ""},
		{jobspec.TaskName, "café", ""},
		{jobspec.TaskName, "a..b", ""},
		{jobspec.TaskName, strings.Repeat("x", jobspec.MaxNameLen), ""},
		{jobspec.TaskName, "", "must not be empty"},
		{jobspec.TaskName, strings.Repeat("x", jobspec.MaxNameLen+1), "is 129 bytes long; at most 128 are allowed"},
		{jobspec.TaskName, "..", `task name ".." must not be . or ..`},
		{jobspec.GroupName, ".", `group name "." must not be . or ..`},
		{jobspec.TaskName, "../../../x", "must not contain a slash or backslash"},
		{jobspec.TaskName, `..\x`, "must not contain a slash or backslash"},
		{jobspec.TaskName, "a/b", "must not contain a slash or backslash"},
		{jobspec.TaskName, ".state", "must not start with a dot"},
		{jobspec.TaskName, "a\x00b", "must not contain a NUL character"},
		{jobspec.TaskName, "a\nb", "must not contain control or format characters"},
		{jobspec.TaskName, "a\x7fb", "must not contain control or format characters"},
		{jobspec.TaskName, "a\u0085b", "must not contain control or format characters"},
		{jobspec.TaskName, "evil\u202ecod.exe", "must not contain control or format characters"},
		{jobspec.TaskName, "a\u200bb", "must not contain control or format characters"},
		{jobspec.TaskName, "a\xffb", "is not valid UTF-8"},
		{jobspec.JobIDName, "web", ""},
		{jobspec.JobIDName, "my web", `job ID "my web" must not contain spaces`},
		{jobspec.JobIDName, "my\u00a0web", "must not contain spaces"},
	} {
		err := jobspec.CheckName(tc.kind, tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckName(%s, %q) = %v, want nil", tc.kind, tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckName(%s, %q) = %v, want an error containing %q", tc.kind, tc.name, err, tc.want)
		}
	}
}

func TestValidateNames(t *testing.T) {
	j := validJob()
	if errs := jobspec.ValidateNames(j); len(errs) != 0 {
		t.Fatalf("valid job: %v", errs)
	}
	j.ID = "../j"
	j.Groups[0].Name = ".."
	j.Groups[0].Tasks[0].Name = "../../../x"
	j.Groups = append(j.Groups, nil)
	var got []string
	for _, e := range jobspec.ValidateNames(j) {
		got = append(got, e.Error())
	}
	want := []string{
		`job.id: job ID "../j" must not contain a slash or backslash`,
		`job.group[".."].name: group name ".." must not be . or .., which are directories of their own`,
		`job.group[".."].task["../../../x"].name: task name "../../../x" must not contain a slash or backslash`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := jobspec.ValidateNames(nil); errs != nil {
		t.Errorf("nil job: %v", errs)
	}
}

// TestParseRefusesPathNames is the reproduction from Git: a task named
// ".." was accepted and the agent changed the mode of its allocs/
// directory. Every name the rule refuses is a positioned error on the
// block's label.
func TestParseRefusesPathNames(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		line, col       int
	}{
		{"task ..", `job "web" {
  group "g" {
    task ".." {
      driver = "exec"
    }
  }
}`, `The task name ".." must not be . or .., which are directories of their own.`, 3, 10},
		{"task traversal", `job "web" {
  group "g" {
    task "../../../x" {
      driver = "exec"
    }
  }
}`, `The task name "../../../x" must not contain a slash or backslash.`, 3, 10},
		{"group dot", `job "web" {
  group "." {
    task "t" {
      driver = "exec"
    }
  }
}`, `The group name "." must not be . or ..`, 2, 9},
		{"job dot-dot", `job ".." {
  group "g" {
    task "t" {
      driver = "exec"
    }
  }
}`, `The job ID ".." must not be . or ..`, 1, 5},
		{"task NUL via escape", `job "web" {
  group "g" {
    task "a\u0000b" {
      driver = "exec"
    }
  }
}`, `must not contain a NUL character`, 3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := jobspec.Parse("jobs/web.hcl", []byte(tc.src), nil)
			if f != nil || !diags.HasErrors() {
				t.Fatalf("parsed; want an error")
			}
			var hit *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError && strings.Contains(d.Detail, tc.want) {
					hit = d
				}
			}
			if hit == nil {
				t.Fatalf("no error says %q:\n%v", tc.want, diags)
			}
			if hit.Subject == nil || hit.Subject.Filename != "jobs/web.hcl" || hit.Subject.Start.Line != tc.line || hit.Subject.Start.Column != tc.col {
				t.Errorf("error at %v, want jobs/web.hcl:%d:%d", hit.Subject, tc.line, tc.col)
			}
		})
	}
}
