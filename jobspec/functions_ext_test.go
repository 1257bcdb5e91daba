package jobspec

import (
	"strings"
	"testing"
)

// TestIssue15Functions checks the functions of Nomad's jobspec that
// Drover added, with the values Terraform's and Nomad's documentation
// give for them.
func TestIssue15Functions(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`md5("hello world")`, "5eb63bbbe01eeed093cb22bb8f5acdc3"},
		{`sha1("hello world")`, "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"},
		{`sha256("hello world")`, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"},
		{`substr(sha512("hello world"), 0, 16)`, "309ecc489c12d6eb"},
		{`base64sha256("hello world")`, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="},
		{`substr(base64sha512("hello world"), 0, 12)`, "MJ7MSJwS1utM"},
		{`urlencode("Hello World?a=b&c")`, "Hello+World%3Fa%3Db%26c"},
		{`yamlencode({a = "b", c = [1, true]})`, "a: b\nc:\n- 1\n- true\n"},
		{`yamldecode("a: b\nc: [1, 2]\n").c[1]`, "2"},
		{`yamldecode("- x\n- z\n")[1]`, "z"},
		// sigs.k8s.io/yaml reads YAML 1.1: yes, on and y are booleans.
		{`tostring(yamldecode("a: yes\n").a)`, "true"},
		{`cidrhost("10.12.112.0/20", 16)`, "10.12.112.16"},
		{`cidrhost("10.12.112.0/20", -2)`, "10.12.127.254"},
		{`cidrnetmask("172.16.0.0/12")`, "255.240.0.0"},
		{`cidrsubnet("172.16.0.0/12", 4, 2)`, "172.18.0.0/16"},
		{`cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)`, "fd00:fd12:3456:7800:a200::/72"},
		{`join(",", cidrsubnets("10.1.0.0/16", 4, 4, 8, 4))`, "10.1.0.0/20,10.1.16.0/20,10.1.32.0/24,10.1.48.0/20"},
		{`uuidv5("dns", "www.terraform.io")`, "a5008fae-b28c-5ba5-96cd-82b4c53552d6"},
		{`uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.terraform.io")`, "a5008fae-b28c-5ba5-96cd-82b4c53552d6"},
		{`convert(5, string)`, "5"},
		{`join(",", convert(["a", "b"], list(string)))`, "a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+tt.expr, 1)
			if got := mustParse(t, src, nil).Groups[0].Tasks[0].User; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

// The new functions are bounded like the others: a blow-up is an error
// with a position, never a crash or a long stall.
func TestIssue15FunctionLimits(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`yamldecode("a: &x [1, 2]\nb: *x\n")`, "YAML aliases"},
		{`yamldecode("a: [")`, "yamldecode"},
		{`urlencode(join("", [for i in range(250) : format("%8000s", "")]))`, "bytes"},
		{`yamlencode([for i in range(1000) : format("%5000s", "")])`, "bytes"},
		{`cidrhost("10.0.0.0/30", 9)`, "cidrhost"},
		{`convert("x", number)`, "a number is required"},
		{`uuidv5("nope", "x")`, "uuidv5"},
	} {
		t.Run(tt.expr[:min(len(tt.expr), 40)], func(t *testing.T) {
			src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+tt.expr, 1)
			errs := mustFail(t, src, nil)
			if tt.want != "" && !strings.Contains(diagText(errs), tt.want) {
				t.Errorf("errors do not mention %q:\n%s", tt.want, diagText(errs))
			}
			if errs[0].Subject == nil || errs[0].Subject.Start.Line == 0 {
				t.Errorf("error without position: %s", diagText(errs))
			}
		})
	}
}

func TestLeftOutFunctionsSayWhy(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`uuidv4()`, "use uuidv5"},
		{`timestamp()`, "changes at every parse"},
		{`file("x.tpl")`, "parses each job file on its own"},
		{`pathexpand("~/x")`, "depends on the machine"},
	} {
		src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+tt.expr, 1)
		errs := mustFail(t, src, nil)
		if !strings.Contains(diagText(errs), tt.want) {
			t.Errorf("%s: want %q in:\n%s", tt.expr, tt.want, diagText(errs))
		}
	}
	for expr, want := range map[string]string{`basename("/a/b/c.txt")`: "c.txt", `dirname("/a/b/c.txt")`: "/a/b"} {
		src := strings.Replace(minimal, `driver = "docker"`, `driver = "docker"
      user = `+expr, 1)
		if got := mustParse(t, src, nil).Groups[0].Tasks[0].User; got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
}
