package jobspec

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestRolloutDecode(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		orderBy string
		order   []string
		// elems are the line:col of each order element.
		elems [][2]int
	}{
		{name: "order_by meta", src: `job "j" {
  group "g" {
    rollout {
      order_by = "${meta.role}"
      order    = ["follower", "leader"]
    }
    task "t" { driver = "exec" }
  }
}`, orderBy: "${meta.role}", order: []string{"follower", "leader"}, elems: [][2]int{{5, 19}, {5, 31}}},
		{name: "node names", src: `job "j" {
  group "g" {
    rollout {
      order = [
        "node-b",
        "node-a",
      ]
    }
    task "t" { driver = "exec" }
  }
}`, order: []string{"node-b", "node-a"}, elems: [][2]int{{5, 9}, {6, 9}}},
		{name: "order from a variable points at the argument", src: `variable "nodes" {
  default = ["a", "b"]
}
job "j" {
  group "g" {
    rollout {
      order_by = "${node.unique.name}"
      order    = var.nodes
    }
    task "t" { driver = "exec" }
  }
}`, orderBy: "${node.unique.name}", order: []string{"a", "b"}, elems: [][2]int{{8, 18}, {8, 18}}},
		{name: "system job", src: `job "j" {
  type = "system"
  group "g" {
    rollout {
      order_by = "${attr.unique.hostname}"
      order    = ["x"]
    }
    task "t" { driver = "exec" }
  }
}`, orderBy: "${attr.unique.hostname}", order: []string{"x"}, elems: [][2]int{{6, 19}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := Parse("job.hcl", []byte(tt.src), nil)
			if len(diags) != 0 || f == nil {
				t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
			}
			r := f.Job.Groups[0].Rollout
			if r == nil || r.OrderBy != tt.orderBy || !slices.Equal(r.Order, tt.order) {
				t.Fatalf("rollout = %+v", r)
			}
			for i, want := range tt.elems {
				got := r.Element(i)
				if got == nil || got.Start.Line != want[0] || got.Start.Column != want[1] || got.Filename != "job.hcl" {
					t.Errorf("element %d at %v, want %d:%d", i, got, want[0], want[1])
				}
			}
		})
	}
}

func TestRolloutValidation(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		want      string // substring of summary or detail
		line, col int
	}{
		{name: "two rollout blocks", src: `job "j" {
  group "g" {
    rollout { order = ["a"] }
    rollout { order = ["b"] }
    task "t" { driver = "exec" }
  }
}`, want: "Duplicate rollout block", line: 4, col: 5},
		{name: "order missing", src: `job "j" {
  group "g" {
    rollout { order_by = "${meta.role}" }
    task "t" { driver = "exec" }
  }
}`, want: `"order" is required`, line: 3, col: 5},
		{name: "order empty", src: `job "j" {
  group "g" {
    rollout {
      order = []
    }
    task "t" { driver = "exec" }
  }
}`, want: "Empty rollout order", line: 4, col: 15},
		{name: "order not a list", src: `job "j" {
  group "g" {
    rollout {
      order = "leader"
    }
    task "t" { driver = "exec" }
  }
}`, want: "a list of strings", line: 4, col: 15},
		{name: "duplicate value", src: `job "j" {
  group "g" {
    rollout {
      order_by = "${meta.role}"
      order    = ["follower", "leader", "follower"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `"follower" is already listed at job.hcl:5,19-29`, line: 5, col: 41},
		{name: "empty value", src: `job "j" {
  group "g" {
    rollout {
      order = ["a", ""]
    }
    task "t" { driver = "exec" }
  }
}`, want: "Empty value in rollout order", line: 4, col: 21},
		{name: "order_by literal", src: `job "j" {
  group "g" {
    rollout {
      order_by = "role"
      order    = ["a"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `Invalid value for "order_by"`, line: 4, col: 18},
		{name: "order_by two references", src: `job "j" {
  group "g" {
    rollout {
      order_by = "${meta.rack}${meta.role}"
      order    = ["a"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `Invalid value for "order_by"`, line: 4, col: 18},
		{name: "order_by reference with text", src: `job "j" {
  group "g" {
    rollout {
      order_by = "rack-${meta.rack}"
      order    = ["a"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `Invalid value for "order_by"`, line: 4, col: 18},
		{name: "order_by unknown root", src: `job "j" {
  group "g" {
    rollout {
      order_by = "${node.region}"
      order    = ["a"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `Invalid value for "order_by"`, line: 4, col: 18},
		{name: "order_by meta without key", src: `job "j" {
  group "g" {
    rollout {
      order_by = "${meta}"
      order    = ["a"]
    }
    task "t" { driver = "exec" }
  }
}`, want: `Invalid value for "order_by"`, line: 4, col: 18},
		{name: "unknown argument", src: `job "j" {
  group "g" {
    rollout {
      order  = ["a"]
      ordr_by = "${meta.role}"
    }
    task "t" { driver = "exec" }
  }
}`, want: `Did you mean "order_by"?`, line: 5, col: 7},
		{name: "batch job", src: `job "j" {
  type = "batch"
  group "g" {
    rollout { order = ["a"] }
    task "t" { driver = "exec" }
  }
}`, want: `Job type "batch" does not allow the rollout block`, line: 4, col: 5},
		{name: "sysbatch job", src: `job "j" {
  type = "sysbatch"
  group "g" {
    rollout { order = ["a"] }
    task "t" { driver = "exec" }
  }
}`, want: `Job type "sysbatch" does not allow the rollout block`, line: 4, col: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := Parse("job.hcl", []byte(tt.src), nil)
			if f != nil {
				t.Fatalf("File must be nil when there are errors")
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagError || !strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					continue
				}
				if d.Subject == nil {
					t.Fatalf("diagnostic %q has no position", d.Summary)
				}
				if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
					t.Fatalf("%q at %d:%d, want %d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
				}
				return
			}
			t.Fatalf("no error containing %q; got:\n%s", tt.want, diagText(diags))
		})
	}
}

func TestCheckRolloutNodes(t *testing.T) {
	src := `job "j" {
  group "db" {
    rollout {
      order = ["node-a", "node-x"]
    }
    task "t" { driver = "exec" }
  }
  group "web" {
    rollout {
      order_by = "${meta.role}"
      order    = ["node-y"]
    }
    task "t" { driver = "exec" }
  }
}`
	f, diags := Parse("job.hcl", []byte(src), nil)
	if len(diags) != 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
	}
	known := func(n string) bool { return n == "node-a" }
	got := CheckRolloutNodes(f.Job, known)
	if len(got) != 1 {
		t.Fatalf("want one warning (order_by groups hold values, not names), got:\n%s", diagText(got))
	}
	d := got[0]
	want := `rollout.order of group "db" names node "node-x", which is not in the cluster`
	if d.Severity != hcl.DiagWarning || d.Summary != want || d.Subject == nil || d.Subject.Start.Line != 4 || d.Subject.Start.Column != 26 {
		t.Fatalf("warning = %s at %v", d.Summary, d.Subject)
	}
	// A job from the API has no positions: the warning has none either.
	f.Job.Groups[0].Rollout.Pos = nil
	if got := CheckRolloutNodes(f.Job, known); len(got) != 1 || got[0].Subject != nil {
		t.Fatalf("without positions: %v", got)
	}
}

func TestRolloutValidateJob(t *testing.T) {
	base := func(r *Rollout, typ JobType) *Job {
		return &Job{ID: "j", Type: typ, Datacenters: []string{"dc1"}, Groups: []*Group{{
			Name: "g", Count: 1, Rollout: r,
			Tasks: []*Task{{Name: "t", Driver: "exec", Resources: Resources{CPU: 100, MemoryMB: 100}}},
		}}}
	}
	tests := []struct {
		name string
		job  *Job
		want []string
	}{
		{name: "valid", job: base(&Rollout{OrderBy: "${meta.role}", Order: []string{"a", "b"}}, JobTypeService)},
		{name: "bad order_by", job: base(&Rollout{OrderBy: "${meta.role}x", Order: []string{"a"}}, ""),
			want: []string{`job.group["g"].rollout.order_by: "${meta.role}x" is not one node attribute reference such as ${meta.role}`}},
		{name: "empty order", job: base(&Rollout{}, JobTypeService),
			want: []string{`job.group["g"].rollout.order: must list at least one value`}},
		{name: "duplicates and empties", job: base(&Rollout{Order: []string{"a", "", "a"}}, JobTypeSystem),
			want: []string{`job.group["g"].rollout.order[1]: is empty`, `job.group["g"].rollout.order[2]: "a" is listed more than once`}},
		{name: "batch", job: base(&Rollout{Order: []string{"a"}}, JobTypeBatch),
			want: []string{`job.group["g"].rollout: a batch job has no deployments to order; rollout applies to service and system jobs`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, err := range ValidateJob(tt.job) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("errors:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestRolloutInCanonicalForm(t *testing.T) {
	parse := func(order string) *Job {
		f, diags := Parse("job.hcl", []byte(`job "j" {
  group "g" {
    rollout { order = `+order+` }
    task "t" { driver = "exec" }
  }
}`), nil)
		if len(diags) != 0 {
			t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
		}
		return f.Job
	}
	a, b := parse(`["x", "y"]`), parse(`["y", "x"]`)
	if a.Hash() == b.Hash() {
		t.Fatal("the order of rollout.order must change the job's hash")
	}
	c, _ := a.Canonical()
	if !strings.Contains(string(c), `"rollout":{"order":["x","y"]}`) {
		t.Fatalf("canonical form lacks the rollout block: %s", c)
	}
	// Positions are not part of the job: the same order written elsewhere
	// hashes the same.
	if d := parse(`[
      "x", "y"]`); d.Hash() != a.Hash() {
		t.Fatal("positions changed the hash")
	}
}
