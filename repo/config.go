package repo

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/droverhq/drover/jobspec"
)

// ConfigFile is the name of the repository settings file at the root.
const ConfigFile = "drover.hcl"

// Config is a repository's drover.hcl. Every field may be absent from the
// file; DefaultConfig gives the values used then.
type Config struct {
	// Paths are doublestar globs (** crosses folders) of the files that are
	// job files, relative to the root. Empty means every job-file name.
	Paths []string
	// Exclude are globs of files that are never job files, even when
	// Paths selects them.
	Exclude []string
	// VarFiles are root-relative variables files applied, in order, to
	// every job before the command line's -var-file and -var.
	VarFiles []string
	// Sensitive are globs of extra keys (env, meta, template data) whose
	// values the diff masks. Matching ignores case.
	Sensitive []string

	// Prune stops a job whose file was removed from the repository.
	Prune bool
	// SelfHeal puts a job that was changed outside Git back to its Git
	// version.
	SelfHeal bool
	// AllowMassPrune lets one commit stop more than half of a source's
	// jobs; without it such a commit is rejected, because a wrong path
	// glob must not wipe a cluster.
	AllowMassPrune bool

	// Jobs are the job blocks: per-job settings, by job ID.
	Jobs map[string]*JobConfig

	// ranges are where each attribute was set, for diagnostics found after
	// parsing (a var file that does not exist).
	ranges map[string]hcl.Range
}

// DefaultConfig returns the settings of a repository without drover.hcl.
func DefaultConfig() *Config {
	return &Config{Prune: true, SelfHeal: true}
}

// configSchema lists drover.hcl's attributes. hclsyntax answers any other
// name with "Unsupported argument" and a did-you-mean suggestion.
var configSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "paths"},
		{Name: "exclude"},
		{Name: "var_files"},
		{Name: "sensitive"},
		{Name: "prune"},
		{Name: "self_heal"},
		{Name: "allow_mass_prune"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "job", LabelNames: []string{"id"}},
	},
}

// ParseConfig parses drover.hcl. filename is used in diagnostics. The
// returned Config is valid when the diagnostics hold no error.
func ParseConfig(filename string, src []byte) (*Config, hcl.Diagnostics) {
	if IsYAMLConfig(filename) {
		return parseYAMLConfig(filename, src)
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return DefaultConfig(), diags
	}
	return parseConfigBody(f, diags)
}

func parseConfigBody(f *hcl.File, diags hcl.Diagnostics) (*Config, hcl.Diagnostics) {
	cfg := DefaultConfig()
	if diags.HasErrors() {
		return cfg, diags
	}
	content, cdiags := f.Body.Content(configSchema)
	diags = append(diags, cdiags...)
	cfg.ranges = make(map[string]hcl.Range)
	fields := map[string]any{
		"paths":            &cfg.Paths,
		"exclude":          &cfg.Exclude,
		"var_files":        &cfg.VarFiles,
		"sensitive":        &cfg.Sensitive,
		"prune":            &cfg.Prune,
		"self_heal":        &cfg.SelfHeal,
		"allow_mass_prune": &cfg.AllowMassPrune,
	}
	for name, attr := range content.Attributes {
		// A nil EvalContext rejects variables and functions with a
		// positioned error: settings are literal.
		diags = append(diags, gohcl.DecodeExpression(attr.Expr, nil, fields[name])...)
		cfg.ranges[name] = attr.Expr.Range()
	}
	for _, b := range content.Blocks {
		diags = append(diags, cfg.decodeJobBlock(b)...)
	}
	if diags.HasErrors() {
		return cfg, diags
	}
	return cfg, append(diags, cfg.Validate()...)
}

// Validate checks the settings' values. Diagnostics point into drover.hcl
// when the Config was parsed from it.
func (c *Config) Validate() hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(attr, summary, detail string) {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
		if r, ok := c.ranges[attr]; ok {
			d.Subject = r.Ptr()
		}
		diags = append(diags, d)
	}
	for attr, globs := range map[string][]string{"paths": c.Paths, "exclude": c.Exclude} {
		for _, g := range globs {
			switch {
			case g == "":
				bad(attr, "Empty pattern", fmt.Sprintf("%s holds an empty pattern.", attr))
			case !doublestar.ValidatePattern(g):
				bad(attr, "Invalid pattern", fmt.Sprintf("%q in %s is not a valid glob.", g, attr))
			case strings.HasPrefix(g, "/") || strings.HasPrefix(g, "./") || strings.Contains(g, "\\"):
				bad(attr, "Invalid pattern", fmt.Sprintf("%q in %s must be relative to the repository root, slash-separated and without a leading / or ./.", g, attr))
			}
		}
	}
	seen := make(map[string]bool)
	for _, v := range c.VarFiles {
		switch {
		case !isRepoPath(v):
			bad("var_files", "Invalid variables file path", fmt.Sprintf("%q must be a slash-separated path inside the repository, relative to its root.", v))
		case seen[v]:
			bad("var_files", "Duplicate variables file", fmt.Sprintf("%q is listed twice.", v))
		}
		seen[v] = true
	}
	for _, s := range c.Sensitive {
		if _, err := path.Match(strings.ToLower(s), ""); err != nil || s == "" {
			bad("sensitive", "Invalid pattern", fmt.Sprintf("%q in sensitive is not a valid glob.", s))
		}
	}
	diags = append(diags, c.validateJobs()...)
	sortDiagnostics(diags)
	return diags
}

// IsSensitive reports whether key matches one of the Sensitive globs.
// Case is ignored: masking DB_dsn because DB_DSN is listed errs on the
// safe side.
func (c *Config) IsSensitive(key string) bool {
	key = strings.ToLower(key)
	for _, s := range c.Sensitive {
		if ok, _ := path.Match(strings.ToLower(s), key); ok {
			return true
		}
	}
	return false
}

// isRepoPath reports whether p is a clean, relative, slash-separated path
// that stays inside the root.
func isRepoPath(p string) bool {
	return p != "" && p != "." && !strings.Contains(p, "\\") &&
		path.Clean(p) == p && !path.IsAbs(p) && p != ".." && !strings.HasPrefix(p, "../")
}

// selectsJob reports whether the file at p (a slash path) is a job file
// under these settings. See the package documentation for the rules.
func (c *Config) selectsJob(p string, varFiles map[string]bool) bool {
	if !hasJobFileName(p) || p == ConfigFile || varFiles[p] || isHiddenPath(p) {
		return false
	}
	if len(c.Paths) > 0 && !matchAny(c.Paths, p) {
		return false
	}
	return !matchAny(c.Exclude, p)
}

func hasJobFileName(p string) bool {
	base := path.Base(p)
	if strings.HasSuffix(base, ".vars.hcl") || strings.HasSuffix(base, SealedFileSuffix) {
		return false
	}
	return strings.HasSuffix(base, ".hcl") || strings.HasSuffix(base, ".nomad") ||
		jobspec.IsHCLJSON(base) || jobspec.IsAPIJob(base)
}

func isHiddenPath(p string) bool {
	return strings.HasPrefix(p, ".") || strings.Contains(p, "/.")
}

func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		// Patterns were validated, so the error is always nil.
		if ok, _ := doublestar.Match(g, p); ok {
			return true
		}
	}
	return false
}
