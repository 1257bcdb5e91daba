package repo

import (
	"fmt"
	"path"

	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"

	"github.com/droverhq/drover/jobspec"
)

// ConfigFileYAML is drover.hcl's YAML spelling: the same settings, keys as
// in HCL, job blocks as a map by ID:
//
//	paths: ["jobs/**"]
//	prune: true
//	job:
//	  web:
//	    depends_on: [db]
const ConfigFileYAML = "drover.yaml"

// IsYAMLConfig says whether a settings file is in YAML.
func IsYAMLConfig(filename string) bool {
	b := path.Base(filename)
	return b == ConfigFileYAML || b == "drover.yml"
}

// parseYAMLConfig reads drover.yaml as HCL's JSON syntax reads drover.hcl
// written in JSON, so both decode through one schema; diagnostics are
// moved back to the YAML lines.
func parseYAMLConfig(filename string, src []byte) (*Config, hcl.Diagnostics) {
	js, remap, diags := jobspec.YAMLToJSON(filename, src)
	if diags.HasErrors() {
		return DefaultConfig(), diags
	}
	f, diags := hcljson.Parse(js, filename)
	if diags.HasErrors() {
		remap(diags)
		return DefaultConfig(), diags
	}
	cfg, diags := parseConfigBody(f, diags)
	remap(diags)
	return cfg, diags
}

// findConfig returns the repository's settings file: drover.hcl or
// drover.yaml, not both.
func findConfig(files []File) (File, bool, *hcl.Diagnostic) {
	var found []File
	for _, name := range []string{ConfigFile, ConfigFileYAML, "drover.yml"} {
		if f, ok := findFile(files, name); ok {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return File{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return File{}, false, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "More than one settings file",
		Detail:   fmt.Sprintf("The repository has both %s and %s; keep one.", found[0].Path, found[1].Path),
		Subject:  &hcl.Range{Filename: found[1].Path, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}
