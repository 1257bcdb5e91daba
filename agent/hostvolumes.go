package agent

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/droverhq/drover/cluster"
)

// hostVolumeBlock is the agent configuration's
//
//	host_volume "data" {
//	  path      = "/srv/data"
//	  read_only = false
//	}
//
// Nomad writes it inside client {}; Drover's agent file is flat, so it is
// a top-level block here.
type hostVolumeBlock struct {
	Name     string `hcl:"name,label"`
	Path     string `hcl:"path"`
	ReadOnly *bool  `hcl:"read_only,optional"`
}

// maxHostVolumeName bounds a host volume's name: it travels in every
// node registration and is matched against jobs' volume sources.
const maxHostVolumeName = 128

// applyHostVolumes adds the host_volume blocks to c. A name given twice
// is an error at the second block's label.
func applyHostVolumes(c *Config, blocks []hostVolumeBlock, body *hclsyntax.Body) hcl.Diagnostics {
	var labels []hcl.Range
	if body != nil {
		for _, b := range body.Blocks {
			if b.Type == "host_volume" && len(b.LabelRanges) > 0 {
				labels = append(labels, b.LabelRanges[0])
			}
		}
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for i, b := range blocks {
		if seen[b.Name] {
			d := &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate host_volume",
				Detail:   fmt.Sprintf("host_volume %q is defined twice; give each volume its own name.", b.Name),
			}
			if i < len(labels) {
				d.Subject = &labels[i]
			}
			diags = append(diags, d)
			continue
		}
		seen[b.Name] = true
		if c.HostVolumes == nil {
			c.HostVolumes = map[string]cluster.HostVolume{}
		}
		c.HostVolumes[b.Name] = cluster.HostVolume{Path: b.Path, ReadOnly: b.ReadOnly != nil && *b.ReadOnly}
	}
	return diags
}

// validateHostVolumes checks every host volume as Nomad's agent does at
// start: a usable name, and an absolute path that exists. The path is
// the operator's, trusted: it may be a symbolic link (the bind mount
// follows it), but it must lead somewhere.
func validateHostVolumes(vols map[string]cluster.HostVolume) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		v := vols[name]
		if err := validHostVolumeName(name); err != nil {
			errs = append(errs, fmt.Errorf("host_volume %q: %w", name, err))
		}
		switch {
		case v.Path == "":
			errs = append(errs, fmt.Errorf("host_volume %q: path is required (path = \"/srv/%s\")", name, name))
		case !filepath.IsAbs(v.Path):
			errs = append(errs, fmt.Errorf("host_volume %q: path %q must be absolute", name, v.Path))
		default:
			if _, err := os.Stat(v.Path); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("host_volume %q: path %q does not exist; create it (mkdir -p %s) before starting the agent", name, v.Path, v.Path))
				} else {
					errs = append(errs, fmt.Errorf("host_volume %q: path %q: %w", name, v.Path, err))
				}
			}
		}
	}
	return errs
}

// validHostVolumeName accepts the names jobs can name in a volume's
// source: printable, no whitespace, no '/', at most maxHostVolumeName
// bytes. Brackets are allowed: per_alloc volumes are named "data[0]".
func validHostVolumeName(name string) error {
	if name == "" {
		return errors.New("the name must not be empty")
	}
	if len(name) > maxHostVolumeName {
		return fmt.Errorf("the name is longer than %d bytes", maxHostVolumeName)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' }) {
		return errors.New("the name must not contain whitespace, control characters or '/'")
	}
	return nil
}

// nodeHostVolumes is what the node registers of the host volumes: the
// configuration's, with cleaned paths.
func nodeHostVolumes(vols map[string]cluster.HostVolume) map[string]cluster.HostVolume {
	if len(vols) == 0 {
		return nil
	}
	out := make(map[string]cluster.HostVolume, len(vols))
	for name, v := range vols {
		v.Path = filepath.Clean(v.Path)
		out[name] = v
	}
	return out
}
