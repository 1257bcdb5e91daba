package jobspec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusJobs parses every corpus file that parses.
func corpusJobs(t testing.TB) map[string]*Job {
	out := map[string]*Job{}
	for _, path := range corpusFiles(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := Parse(filepath.Base(path), src, corpusVars); f != nil {
			out[filepath.Base(path)] = f.Job
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d corpus files parse", len(out))
	}
	return out
}

func mustCanonical(t testing.TB, j *Job) []byte {
	b, err := j.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAPIRoundTrip: every corpus job, written in Nomad's API JSON and in
// its YAML rendering, reads back to the same job (canonical form: the
// ports of a network come back reserved first, as Nomad keeps them).
func TestAPIRoundTrip(t *testing.T) {
	for name, job := range corpusJobs(t) {
		t.Run(name, func(t *testing.T) {
			want := mustCanonical(t, normalizePorts(job))
			js, err := MarshalAPIJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			ys, err := MarshalAPIYAML(job)
			if err != nil {
				t.Fatal(err)
			}
			for file, src := range map[string][]byte{"x.job.json": js, "x.job.yaml": ys} {
				f, diags := Parse(file, src, nil)
				if diags.HasErrors() {
					t.Fatalf("%s: %s\n%s", file, diags, src)
				}
				if got := mustCanonical(t, f.Job); !bytes.Equal(got, want) {
					t.Errorf("%s differs:\n%s", file, firstDiff(f.Job, normalizePorts(job)))
				}
			}
		})
	}
}

// normalizePorts orders each network's ports as the API format keeps
// them: reserved (static) first.
func normalizePorts(j *Job) *Job {
	c := *j
	c.Groups = nil
	for _, g := range j.Groups {
		gc := *g
		gc.Networks = nil
		for _, n := range g.Networks {
			nc := n
			nc.Ports = nil
			for _, p := range n.Ports {
				if p.Static != 0 {
					nc.Ports = append(nc.Ports, p)
				}
			}
			for _, p := range n.Ports {
				if p.Static == 0 {
					nc.Ports = append(nc.Ports, p)
				}
			}
			gc.Networks = append(gc.Networks, nc)
		}
		c.Groups = append(c.Groups, &gc)
	}
	return &c
}

func TestAPIJobPositionedErrors(t *testing.T) {
	cases := []struct{ file, src, want string }{
		{"a.job.json", "{\n  \"Job\": {\n    \"ID\": \"web\",\n    \"Datacenter\": [\"dc1\"]\n  }\n}", `a.job.json:4,5-17: Unsupported field; Job.Datacenter is not a field Drover supports in Job. Did you mean "Datacenters"?`},
		{"a.job.json", `{"Job": {"ID": "web"}} {}`, "a.job.json:1,24"},
		{"a.job.json", `{"Job": {"ID": "web", "ID": "x"}}`, `a.job.json:1,23-27: Duplicate key`},
		{"a.job.json", `{"Job": {"ID": 5}}`, `a.job.json:1,16-17: Incorrect value type; Job.ID must be a string, not a number.`},
		{"a.job.json", `{"Job": {"ID": "w", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker", "KillTimeout": "5x"}]}]}}`, `a.job.json:1,109-113: Invalid duration`},
		{"a.job.json", `{"ID": "web"}`, `a.job.json:1,2-6: Unexpected top-level key`},
		{"a.job.yaml", "Job:\n  ID: web\n  Datacenter: [dc1]\n", `a.job.yaml:3,3-13: Unsupported field; Job.Datacenter is not a field Drover supports in Job. Did you mean "Datacenters"?`},
		{"a.job.yaml", "Job:\n  ID: web\n  ID: x\n", `a.job.yaml:3,3-5: Duplicate key; "ID" is already set at a.job.yaml:2,3-5`},
		{"a.job.yaml", "Job:\n\tID: web\n", `a.job.yaml:2,1-1: Tab in indentation`},
		{"a.job.yml", "Job:\n  ID: [web\n", `a.job.yml:1,1-1: Invalid YAML; did not find expected ',' or ']'.`},
		{"a.job.yaml", "Job: {ID: w}\n---\nJob: {ID: x}\n", "More than one YAML document"},
		{"a.job.yaml", "Job:\n  ID: web\n  Priority: high\n", `a.job.yaml:3,13-17: Incorrect value type; Job.Priority must be a whole number in range, not a string.`},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			f, diags := Parse(tc.file, []byte(tc.src), nil)
			if f != nil {
				t.Fatalf("want an error, got a job")
			}
			if got := diags.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got %q\nwant it to contain %q", got, tc.want)
			}
		})
	}
}

// TestYAMLAliasBomb: anchors that expand past the limit are refused at a
// position, fast.
func TestYAMLAliasBomb(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		sb.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for k := 0; k < 10; k++ {
			if k > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("*a" + string(rune('0'+i-1)))
		}
		sb.WriteString("]\n")
	}
	sb.WriteString("Job: {ID: web}\n")
	f, diags := Parse("bomb.job.yaml", []byte(sb.String()), nil)
	if f != nil || !strings.Contains(diags.Error(), "YAML too large") || !strings.Contains(diags.Error(), "bomb.job.yaml:") {
		t.Fatalf("got %v %v", f, diags)
	}
}

// TestAPIJobMinimal: a hand-written API job gets Nomad's defaults and
// reads the forms Nomad's inspect prints (null fields, server fields).
func TestAPIJobMinimal(t *testing.T) {
	src := `{"Job": {"ID": "web", "Status": "running", "Version": 3, "Vault": null, "Multiregion": null,
  "TaskGroups": [{"Name": "g", "RestartPolicy": {"Attempts": 3, "Interval": 60000000000, "Delay": 1000000000, "Mode": "fail"},
    "Networks": [{"DynamicPorts": [{"Label": "http", "To": 80}], "ReservedPorts": [{"Label": "admin", "Value": 9000}]}],
    "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx", "ports": ["http"]}, "Artifacts": null,
      "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}}`
	f, diags := Parse("web.job.json", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	j := f.Job
	g := j.Groups[0]
	if j.Type != "service" || j.Priority != 50 || g.Count != 1 || g.Tasks[0].Restart == nil || g.Tasks[0].Restart.Attempts != 3 ||
		len(g.Networks[0].Ports) != 2 || g.Tasks[0].Config["image"] != "nginx" {
		t.Errorf("got %+v / %+v / %+v", j, g, g.Tasks[0])
	}
	if _, diags := Parse("web.job.json", []byte(`{"Job": {"ID": "w", "Vault": {"Policies": ["x"]}}}`), nil); !strings.Contains(diags.Error(), "1,21-28: Unsupported field") {
		t.Errorf("a non-empty unsupported field must be refused at its key: %v", diags)
	}
}

// TestHCLRoundTrip: every corpus job rendered as HCL (drover job inspect
// -o hcl) parses back to the same job.
func TestHCLRoundTrip(t *testing.T) {
	for name, job := range corpusJobs(t) {
		t.Run(name, func(t *testing.T) {
			src, err := MarshalHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			f, diags := Parse("x.nomad.hcl", src, nil)
			if diags.HasErrors() {
				t.Fatalf("%s\n%s", diags, src)
			}
			if got, want := mustCanonical(t, f.Job), mustCanonical(t, job); !bytes.Equal(got, want) {
				t.Errorf("differs:\n%s\n%s", firstDiff(f.Job, job), src)
			}
		})
	}
}

// BenchmarkParseAPIJob parses one realistic job in each API syntax.
func BenchmarkParseAPIJob(b *testing.B) {
	src, err := os.ReadFile(filepath.Join(corpusDir, "command__asset__example.hcl"))
	if err != nil {
		b.Skip("needs the corpus")
	}
	f, diags := Parse("x.hcl", src, nil)
	if f == nil {
		b.Fatal(diags)
	}
	js, _ := MarshalAPIJSON(f.Job)
	ys, _ := MarshalAPIYAML(f.Job)
	for name, in := range map[string][]byte{"x.job.json": js, "x.job.yaml": ys, "x.nomad.hcl": src} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if f, diags := Parse(name, in, nil); f == nil {
					b.Fatal(diags)
				}
			}
		})
	}
}

// TestAPIJobDefaultsMatchHCL: a minimal API job gets the defaults the HCL
// decoder gives the same minimal job, so both are one job (one hash).
func TestAPIJobDefaultsMatchHCL(t *testing.T) {
	for _, typ := range []string{"service", "batch", "system", "sysbatch"} {
		t.Run(typ, func(t *testing.T) {
			h, diags := Parse("a.nomad.hcl", []byte(`job "a" {
  type = "`+typ+`"
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx"
      }
    }
  }
}
`), nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			a, diags := Parse("a.job.json", []byte(`{"Job": {"ID": "a", "Type": "`+typ+`", "TaskGroups": [{"Name": "g",
  "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx"}}]}]}}`), nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if h.Job.Hash() != a.Job.Hash() {
				t.Errorf("differ:\n%s", firstDiff(a.Job, h.Job))
			}
		})
	}
}

func TestAPIJobNestingLimit(t *testing.T) {
	src := `{"Job": {"ID": "a", "Meta": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`
	_, diags := Parse("a.job.json", []byte(src), nil)
	if !strings.Contains(diags.Error(), "a.job.json:1,") || !strings.Contains(diags.Error(), "Nesting too deep") {
		t.Fatalf("got %v", diags)
	}
	y := "Job:\n  ID: a\n  Meta: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	if _, diags := Parse("a.job.yaml", []byte(y), nil); !diags.HasErrors() {
		t.Fatal("deep YAML accepted")
	}
}

func TestYAMLNumbers(t *testing.T) {
	src := "Job:\n  ID: a\n  Priority: 0x20\n  TaskGroups:\n    - Name: g\n      Count: 1_0\n      Tasks:\n        - Name: t\n          Driver: docker\n          Config: {image: x, n: 1.5e3}\n"
	f, diags := Parse("a.job.yaml", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if f.Job.Priority != 32 || f.Job.Groups[0].Count != 10 || f.Job.Groups[0].Tasks[0].Config["n"] != 1500.0 {
		t.Errorf("got %d %d %v", f.Job.Priority, f.Job.Groups[0].Count, f.Job.Groups[0].Tasks[0].Config)
	}
	_, diags = Parse("a.job.yaml", []byte("Job:\n  ID: a\n  TaskGroups:\n    - Name: g\n      Tasks:\n        - Name: t\n          Driver: docker\n          Config: {image: x, n: .inf}\n"), nil)
	if !strings.Contains(diags.Error(), "a.job.yaml:8,") || !strings.Contains(diags.Error(), "Invalid number") {
		t.Errorf("infinity: %v", diags)
	}
}

func TestAPIJobHugeNumber(t *testing.T) {
	_, diags := Parse("a.job.json", []byte(`{"Job": {"ID": "a", "Meta": {"x": 1e999}}}`), nil)
	if !strings.Contains(diags.Error(), "a.job.json:1,35") || !strings.Contains(diags.Error(), "out of range") {
		t.Errorf("got %v", diags)
	}
}
