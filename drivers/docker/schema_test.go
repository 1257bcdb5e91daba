package docker

import (
	"fmt"
	"testing"

	"github.com/droverhq/drover/jobspec"
)

// The schema checks config blocks as jobspec decodes them from HCL:
// blocks (mount, auth) and the block form of maps (labels { … }).
func TestConfigSpecOnHCL(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"valid", `image = "redis:7"
			ports = ["db"]
			labels { team = "x" }
			mount {
				type   = "tmpfs"
				target = "/scratch"
				tmpfs_options { size = 1048576 }
			}
			auth {
				username = "u"
				password = "p"
			}`, nil},
		{"problems", `image = "redis:7"
			mount {
				type   = "bind"
				source = "local"
			}
			auth { username = 1 }
			portz = ["http"]`, []string{
			"auth[0].username: must be string, not a number",
			"mount[0].target: required attribute (string) is missing",
			`portz: unknown attribute; did you mean "ports"?`,
		}},
		{"no image", `command = "x"`, []string{"image: required attribute (string) is missing"}},
		{"two auth blocks", `image = "x"
			auth { username = "a" }
			auth { username = "b" }`, []string{"auth: at most 1 auth block(s) allowed, found 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validateHCL(t, "docker", tc.src); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("errors =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func validateHCL(t *testing.T, driver, config string) []string {
	t.Helper()
	src := fmt.Sprintf("job \"j\" {\n group \"g\" {\n task \"t\" {\n driver = %q\n config {\n%s\n}\n}\n}\n}\n", driver, config)
	f, diags := jobspec.Parse("t.nomad.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got []string
	for _, e := range ConfigSpec().Validate(f.Job.Groups[0].Tasks[0].Config) {
		got = append(got, e.Error())
	}
	return got
}
