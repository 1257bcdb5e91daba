package jobspec

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ParseOptions carries the inputs of a parse that do not come from the job
// file itself. The zero value is valid.
type ParseOptions struct {
	// Vars are -var name=value pairs. A value is parsed as an HCL
	// expression when the variable's type is not string.
	Vars map[string]string
	// VarFiles are -var-file contents (HCL, name = value), applied in
	// order before Vars.
	VarFiles []VarFile
	// Environ is the process environment (os.Environ() form) from which
	// DROVER_VAR_x and NOMAD_VAR_x are read. Nil means none.
	Environ []string
	// CheckConfig, when set, checks every task's config {} block against
	// its driver's declared schema; its problems become diagnostics at the
	// offending attribute. jobspec knows no driver, so the caller brings
	// the schemas.
	CheckConfig ConfigChecker
	// Budget bounds the work of evaluating the file; nil means
	// DefaultBudget().
	Budget *Budget
}

// ConfigChecker checks a task's decoded config block for the named
// driver.
type ConfigChecker func(driver string, config map[string]any) []ConfigProblem

// ConfigProblem is one problem in a config block. Path starts with the
// attribute or block name ("image", "args[1]", "mount[0].source"); an
// empty Path concerns the block as a whole.
type ConfigProblem struct {
	Path string
	Msg  string
}

// VarFile is one variables file.
type VarFile struct {
	Name string
	Src  []byte
}

// File is one parsed job file.
type File struct {
	Path string
	Job  *Job
	// JobRange is where the job block was declared.
	JobRange hcl.Range
}

// Parse parses one job file. It returns every diagnostic of the file at
// once; File is nil when any of them is an error. Parse is safe for
// concurrent use. Evaluation runs under opts.Budget (DefaultBudget when
// unset), whose Timeout bounds it in time.
func Parse(filename string, src []byte, opts *ParseOptions) (*File, hcl.Diagnostics) {
	return inFile(filename, src)(parse(newMeter(budgetOf(opts)), filename, src, opts))
}

// ParseContext is Parse that also stops, with an error diagnostic, when
// ctx is done. A caller that caches outcomes should not cache one made
// after ctx ended.
func ParseContext(ctx context.Context, filename string, src []byte, opts *ParseOptions) (*File, hcl.Diagnostics) {
	return inFile(filename, src)(parse(newMeter(budgetOf(opts)).withContext(ctx), filename, src, opts))
}

// inFile returns a function that puts diagnostics at their line and
// column in the file as written (see jsonPositions).
func inFile(filename string, src []byte) func(*File, hcl.Diagnostics) (*File, hcl.Diagnostics) {
	return func(f *File, diags hcl.Diagnostics) (*File, hcl.Diagnostics) {
		if IsHCLJSON(filename) {
			jsonPositions(filename, src, diags)
		}
		return f, diags
	}
}

func budgetOf(opts *ParseOptions) *Budget {
	if opts == nil {
		return nil
	}
	return opts.Budget
}

func parse(m *meter, filename string, src []byte, opts *ParseOptions) (*File, hcl.Diagnostics) {
	if IsAPIJob(filename) {
		// Nomad's API format has no variables or expressions to evaluate.
		return parseAPIJob(filename, src, opts)
	}
	if diags := checkInput(filename, src); diags.HasErrors() {
		return nil, diags
	}
	body, src, diags := parseBody(filename, src)
	if diags.HasErrors() {
		// A broken file yields a partial tree; decoding it would only add
		// errors that follow from the syntax error.
		return nil, finishDiags(diags)
	}
	diags = append(diags, topSpec.check(body, hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos})...)

	var jobs, variables, locals []*hclsyntax.Block
	for _, b := range body.Blocks {
		switch b.Type {
		case "job":
			if usable(b, 1) {
				jobs = append(jobs, b)
			}
		case "variable":
			variables = append(variables, b)
		case "locals":
			if usable(b, 0) {
				locals = append(locals, b)
			}
		}
	}
	switch {
	case len(jobs) == 0:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing job",
			Detail:   `A job file must declare exactly one job "id" { ... } block.`,
			Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
		return nil, finishDiags(diags)
	case len(jobs) > 1:
		for _, b := range jobs[1:] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "More than one job",
				Detail:   fmt.Sprintf("A job file declares exactly one job; %q is already declared at %s.", jobs[0].Labels[0], jobs[0].DefRange()),
				Subject:  b.DefRange().Ptr(),
			})
		}
	}

	diags = append(diags, keepRuntimeRefs(body, src)...)
	if ds := m.prepare(body, src); ds.HasErrors() {
		// Too large to evaluate at all.
		return nil, finishDiags(append(diags, ds...))
	}

	vars, ds := evalVariables(variables, opts, m)
	diags = append(diags, ds...)
	varObj := cty.ObjectVal(vars)
	localVals, ds := evalLocals(locals, varObj, m)
	diags = append(diags, ds...)
	ev := &evaluator{meter: m, ctx: &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": varObj, "local": cty.ObjectVal(localVals)},
		Functions: m.funcs,
	}}
	if opts != nil {
		ev.checkConfig = opts.CheckConfig
	}

	job, ds := decodeJob(ev, jobs[0])
	diags = append(diags, ds...)
	diags = finishDiags(m.finish(diags))
	if diags.HasErrors() {
		return nil, diags
	}
	return &File{Path: filename, Job: job, JobRange: jobs[0].DefRange()}, diags
}

// parseBody parses src in the syntax its name says: HCL's JSON syntax
// (hcljson.go) or native HCL. It also returns the text the tree's byte
// ranges index, which for JSON holds each string's decoded value in place.
func parseBody(filename string, src []byte) (*hclsyntax.Body, []byte, hcl.Diagnostics) {
	if IsHCLJSON(filename) {
		return parseHCLJSON(filename, src)
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, src, diags
	}
	return f.Body.(*hclsyntax.Body), src, diags
}

// finishDiags makes the output deterministic and readable: follow-on
// "value not known" errors are dropped when the error they follow is
// present, everything is sorted by position, and the count is capped.
func finishDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	primary := false
	for _, d := range diags {
		if _, follow := d.Extra.(unknownMarker); d.Severity == hcl.DiagError && !follow {
			primary = true
			break
		}
	}
	out := diags[:0:0]
	for _, d := range diags {
		if _, follow := d.Extra.(unknownMarker); follow && primary {
			continue
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := rangeOf(out[i]), rangeOf(out[j])
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Start.Byte != b.Start.Byte {
			return a.Start.Byte < b.Start.Byte
		}
		return out[i].Summary < out[j].Summary
	})
	if len(out) > maxDiagnostics {
		rest := len(out) - maxDiagnostics
		severity := hcl.DiagWarning
		if out.HasErrors() {
			severity = hcl.DiagError
		}
		out = append(out[:maxDiagnostics:maxDiagnostics], &hcl.Diagnostic{
			Severity: severity,
			Summary:  "Too many errors",
			Detail:   fmt.Sprintf("%d more diagnostics were left out.", rest),
		})
	}
	return out
}

func rangeOf(d *hcl.Diagnostic) hcl.Range {
	if d.Subject != nil {
		return *d.Subject
	}
	return hcl.Range{}
}
