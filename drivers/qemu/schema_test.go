package qemu

import (
	"fmt"
	"testing"

	"github.com/droverhq/drover/jobspec"
)

// port_map is written both ways in Nomad job files: as a block (HCL1
// style) and as a map attribute.
func TestConfigSpecOnHCL(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"port_map block", `image_path = "a.img"
			port_map { http = 80 }`, nil},
		{"port_map map", `image_path = "a.img"
			port_map = { http = 80 }`, nil},
		{"problems", `accelerator = "kvm"
			port_map { http = "eighty" }`, []string{
			"image_path: required attribute (string) is missing",
			"port_map[0].http: must be number, not a string",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("job \"j\" {\n group \"g\" {\n task \"t\" {\n driver = \"qemu\"\n config {\n%s\n}\n}\n}\n}\n", tc.src)
			f, diags := jobspec.Parse("t.nomad.hcl", []byte(src), nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var got []string
			for _, e := range ConfigSpec().Validate(f.Job.Groups[0].Tasks[0].Config) {
				got = append(got, e.Error())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("errors =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}
