package jobspec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Budget bounds the work of evaluating one file. A job file is untrusted
// input: a few hundred bytes of nested for expressions or string padding
// can ask for 10^9 elements or gigabytes, and a commit holding such a file
// would take down every server that parses it. Each limit that trips is an
// error diagnostic at the expression that tripped it; no limit is anywhere
// near what a real job file uses.
type Budget struct {
	// MaxElements bounds any one collection: the iterations of nested for
	// expressions (checked on the syntax tree before evaluation where the
	// collections have a known size, such as range(1000)) and the results
	// of concat, flatten, setproduct, split and the like.
	MaxElements int
	// MaxValueBytes bounds the size of any one value: a string, or the sum
	// of the strings and elements of a list, map or object.
	MaxValueBytes int
	// MaxTotalBytes bounds the bytes that function calls, interpolations
	// and attributes produce over the whole file, counted as they are
	// produced; it is the file's memory ceiling.
	MaxTotalBytes int
	// MaxSteps bounds the evaluation work: for-expression iterations,
	// each weighted by the size of the loop's body, plus function calls,
	// each weighted by the elements it is given. A step costs a few
	// microseconds at most, so the default stays under a second.
	MaxSteps int
	// Timeout bounds the wall time of a parse, on top of the caller's
	// context. Zero means no limit of its own.
	Timeout time.Duration
}

// DefaultBudget is the budget of every parse that sets none.
func DefaultBudget() Budget {
	return Budget{
		MaxElements:   1_000_000,
		MaxValueBytes: 4 << 20,
		MaxTotalBytes: 32 << 20,
		MaxSteps:      250_000,
		Timeout:       10 * time.Second,
	}
}

// Validate reports a budget that would reject every file.
func (b Budget) Validate() error {
	if b.MaxElements < 1 || b.MaxValueBytes < 1 || b.MaxTotalBytes < 1 || b.MaxSteps < 1 || b.Timeout < 0 {
		return errors.New("jobspec: every budget limit must be positive")
	}
	return nil
}

// Names of the functions the budget inserts into the syntax tree. The
// space makes them impossible to call from a file.
const (
	meterGate = "drover gate"
	meterSize = "drover size"
)

// site is where an inserted call sits, for its diagnostic. weight is the
// steps one iteration of a for expression costs: the syntax nodes of its
// body, so that a loop over a huge object constructor costs more than one
// over a name.
type site struct {
	rng    hcl.Range
	weight int
}

var siteType = cty.Capsule("site", reflect.TypeFor[site]())

// budgetError is returned by a guarded function whose call would exceed
// the budget; finish turns hcl's "Error in function call" into ours.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }

// meter spends one parse's budget. It belongs to that parse alone (Parse
// evaluates on one goroutine), so it needs no lock.
type meter struct {
	b        Budget
	ctx      context.Context // nil: none
	deadline time.Time       // zero: none
	steps    int
	bytes    int
	next     int // steps at which ctx and the clock are looked at next
	// diag is the first limit that tripped; after it every guarded call
	// yields an unknown value without an error, so the evaluation winds
	// down quickly instead of failing once per loop iteration.
	diag *hcl.Diagnostic
	// funcs is the function table of this parse: the guarded versions of
	// the functions the file calls, and the inserted ones.
	funcs map[string]function.Function
	// static is the table for expressions that may call no function
	// (variable defaults, var files): the inserted functions only.
	static map[string]function.Function
}

func newMeter(b *Budget) *meter {
	m := &meter{b: DefaultBudget(), next: 1024}
	if b != nil {
		m.b = *b
	}
	if m.b.Timeout > 0 {
		m.deadline = time.Now().Add(m.b.Timeout)
	}
	return m
}

// withContext makes the meter stop when ctx is done.
func (m *meter) withContext(ctx context.Context) *meter {
	m.ctx = ctx
	if d, ok := ctx.Deadline(); ok && (m.deadline.IsZero() || d.Before(m.deadline)) {
		m.deadline = d
	}
	return m
}

// trip records the first exceeded limit. rng may be nil when the caller
// does not know where it is; eval fills it in with the expression being
// evaluated.
func (m *meter) trip(rng *hcl.Range, summary, detail string) {
	if m.diag != nil {
		return
	}
	m.diag = &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng}
}

// step spends n steps and looks at the context and clock now and then.
// It reports whether evaluation may go on.
func (m *meter) step(n int, rng *hcl.Range) bool {
	if m.diag != nil {
		return false
	}
	m.steps += n
	if m.steps > m.b.MaxSteps {
		m.trip(rng, "Expression too large", fmt.Sprintf(
			"Evaluating the file takes more than %s steps (for-expression iterations weighted by the size of their body, and function calls weighted by the elements they are given); the limit is %s. Nested for expressions multiply: the inner one runs once per element of the outer.",
			magnitude(float64(m.b.MaxSteps)), magnitude(float64(m.b.MaxSteps))))
		return false
	}
	if m.steps >= m.next {
		m.next = m.steps + 1024
		if m.ctx != nil && m.ctx.Err() != nil {
			m.trip(rng, "Evaluation stopped", fmt.Sprintf("The parse was cancelled: %v.", context.Cause(m.ctx)))
			return false
		}
		if !m.deadline.IsZero() && time.Now().After(m.deadline) {
			m.trip(rng, "Evaluation too slow", "Evaluating the file took longer than the parse is allowed.")
			return false
		}
	}
	return true
}

// produce spends the bytes and elements of a value just made, and checks
// it against the per-value limits.
func (m *meter) produce(v cty.Value, rng *hcl.Range) bool {
	if m.diag != nil {
		return false
	}
	size, elems := measure(v, m.b.MaxValueBytes+1)
	switch {
	case size > m.b.MaxValueBytes:
		m.trip(rng, "Value too large", fmt.Sprintf("A value here is larger than %d bytes, the most one value may hold.", m.b.MaxValueBytes))
	case elems > m.b.MaxElements:
		m.trip(rng, "Value too large", fmt.Sprintf("A value here has more than %s elements; the limit is %s.", magnitude(float64(m.b.MaxElements)), magnitude(float64(m.b.MaxElements))))
	default:
		m.bytes += size
		if m.bytes > m.b.MaxTotalBytes {
			m.trip(rng, "Expression too large", fmt.Sprintf("The file's expressions produce more than %d bytes in total; the limit is %d.", m.b.MaxTotalBytes, m.b.MaxTotalBytes))
		}
	}
	return m.diag == nil
}

// eval evaluates a top-level expression (an attribute) under the budget.
func (m *meter) eval(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if m.diag == nil && !diags.HasErrors() {
		m.produce(v, nil) // the subject is filled in below, only if it trips
	}
	if m.diag != nil && m.diag.Subject == nil {
		m.diag.Subject = expr.Range().Ptr()
	}
	if m.diag != nil && !diags.HasErrors() {
		// Whatever came out is partial: report it as failed.
		return cty.DynamicVal, hcl.Diagnostics{unknownDiag(expr.Range())}
	}
	return v, diags
}

// finish turns the guarded functions' errors into the budget's own
// diagnostic and makes sure a limit that tripped is reported once, even
// when try() or can() swallowed the error that told of it.
func (m *meter) finish(diags hcl.Diagnostics) hcl.Diagnostics {
	if m.diag == nil {
		return diags
	}
	reported := false
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		var be *budgetError
		if errors.As(extra.FunctionCallError(), &be) {
			d.Summary = m.diag.Summary
			d.Detail = fmt.Sprintf("In %s(): %s", extra.CalledFunctionName(), be.msg)
			reported = true
		}
	}
	if !reported {
		if m.diag.Subject == nil {
			m.diag.Subject = &hcl.Range{Start: hcl.InitialPos, End: hcl.InitialPos}
		}
		diags = append(diags, m.diag)
	}
	return diags
}

// prepare checks the for expressions of body whose collections have a
// size known from the source, and rewrites the tree so that evaluation
// is metered: every for expression's collection and each of its
// iterations passes a gate, and every interpolation goes through an
// inserted function. It then builds the function table
// from the functions the file calls.
func (m *meter) prepare(body *hclsyntax.Body, src []byte) hcl.Diagnostics {
	w := &budgetWalker{m: m, src: src}
	w.body(body)
	m.funcs = m.table(w.names, w.rewrote)
	return w.diags
}

// prepareExpr is prepare for an expression that may call no function
// (a variable's default, a var file's value). It reports calls to
// functions the way hcl does when none are allowed.
func (m *meter) prepareExpr(expr hclsyntax.Expression) hcl.Diagnostics {
	w := &budgetWalker{m: m}
	w.expr(expr)
	if w.diags.HasErrors() {
		return w.diags
	}
	return append(w.diags, noCalls(expr)...)
}

// noCalls reports the calls an expression makes to the file's functions.
func noCalls(expr hclsyntax.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if fc, ok := n.(*hclsyntax.FunctionCallExpr); ok && fc.Name != meterGate && fc.Name != meterSize {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Function calls not allowed",
				Detail:   "Functions may not be called here.",
				Subject:  fc.Range().Ptr(),
			})
		}
		return nil
	})
	return diags
}

// staticCtx is the evaluation context of an expression that may use no
// variable and call no function.
func (m *meter) staticCtx() *hcl.EvalContext {
	if m.static == nil {
		m.static = map[string]function.Function{meterGate: m.gateFunc(), meterSize: m.sizeFunc()}
	}
	return &hcl.EvalContext{Functions: m.static}
}

// table builds the guarded function table. A file that calls an unknown
// name gets the whole table, so that hcl can suggest the right name.
func (m *meter) table(names map[string]bool, rewrote bool) map[string]function.Function {
	if len(names) == 0 && !rewrote {
		return nil // nothing is called
	}
	out := make(map[string]function.Function, len(names)+2)
	if rewrote {
		out[meterGate] = m.gateFunc()
		out[meterSize] = m.sizeFunc()
	}
	for name := range names {
		if _, ok := functions[name]; !ok {
			for name, f := range functions {
				out[name] = m.guard(name, f)
			}
			return out
		}
	}
	for name := range names {
		out[name] = m.guard(name, functions[name])
	}
	return out
}

// passParams are the parameters of an inserted function: a site and the
// value it passes through untouched.
var passParams = []function.Parameter{
	{Name: "site", Type: cty.DynamicPseudoType, AllowDynamicType: true},
	{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true, AllowMarked: true},
}

func siteOf(v cty.Value) *site {
	if s, ok := v.EncapsulatedValue().(*site); ok {
		return s
	}
	return &site{weight: 1}
}

// gateFunc is the key of a gate (see gated): 0 lets the value through, 1
// picks the unknown value instead once the budget is spent, which makes
// hcl skip a loop. It takes only the site, so cty does not walk the
// gated value (as it walks every argument of a call, for marks).
func (m *meter) gateFunc() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "site", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s := siteOf(args[0])
			if !m.step(s.weight, &s.rng) {
				return gateClosed, nil
			}
			return gateOpen, nil
		},
	})
}

var gateOpen, gateClosed = cty.NumberIntVal(0), cty.NumberIntVal(1)

// sizeFunc meters an interpolated value before it is copied into a
// string.
func (m *meter) sizeFunc() function.Function {
	return function.New(&function.Spec{
		Params: passParams,
		Type:   function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			rng := &siteOf(args[0]).rng
			if !m.step(1, rng) || !m.produce(args[1], rng) {
				return cty.DynamicVal, nil
			}
			return args[1], nil
		},
	})
}

// guard wraps a function of the table: its arguments are weighed (and for
// the functions whose output can far outgrow their input, the output is
// estimated) before the call, and its result is measured after.
func (m *meter) guard(name string, f function.Function) function.Function {
	if name == "can" || name == "try" {
		// They only evaluate expressions, which are metered themselves.
		return f
	}
	est := estimates[name]
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if m.diag != nil {
				return cty.UnknownVal(retType), nil
			}
			work := 1
			for _, a := range args {
				work += topLen(a)
			}
			if est != nil {
				e := est(args)
				work += e.work
				switch {
				case e.bytes > m.b.MaxValueBytes:
					return m.refuse(fmt.Sprintf("the result would be about %d bytes; one value may hold at most %d.", e.bytes, m.b.MaxValueBytes))
				case e.elems > m.b.MaxElements:
					return m.refuse(fmt.Sprintf("the result would have %s elements; the limit is %s.", magnitude(float64(e.elems)), magnitude(float64(m.b.MaxElements))))
				}
			}
			if !m.step(work, nil) {
				return m.refuse(m.diag.Detail)
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			if !m.produce(v, nil) {
				return m.refuse(m.diag.Detail)
			}
			return v, nil
		},
	})
}

// refuse trips the meter (unless it has already tripped) and returns the
// error hcl positions at the call.
func (m *meter) refuse(msg string) (cty.Value, error) {
	m.trip(nil, "Expression too large", msg)
	return cty.NilVal, &budgetError{msg: msg}
}

// estimate is what a call will cost: extra work, and the size of its
// result, computed from the arguments without making the result.
type estimate struct{ work, bytes, elems int }

// estimates covers the functions whose result can be much larger than
// their arguments, or whose work grows faster than their input.
var estimates = map[string]func(args []cty.Value) estimate{
	"join": func(args []cty.Value) estimate {
		sep := strLen(args, 0)
		n, total := 0, 0
		for _, l := range args[1:] {
			size, elems := measure(l, math.MaxInt)
			n += elems
			total += size
		}
		return estimate{bytes: total + n*sep}
	},
	"format":     formatEstimate,
	"formatlist": formatEstimate,
	"indent": func(args []cty.Value) estimate {
		n, s := intArg(args, 0), strArg(args, 1)
		return estimate{bytes: len(s) + n*(strings.Count(s, "\n")+1)}
	},
	"replace": func(args []cty.Value) estimate {
		s, old, repl := strArg(args, 0), strArg(args, 1), strArg(args, 2)
		return estimate{bytes: len(s) + strings.Count(s, old)*len(repl), work: len(s)}
	},
	"regex_replace": func(args []cty.Value) estimate {
		s, repl := strArg(args, 0), strArg(args, 2)
		per := len(repl) + strings.Count(repl, "$")*len(s)
		return estimate{bytes: len(s) + (len(s)+1)*per, work: len(s)}
	},
	"concat": func(args []cty.Value) estimate {
		n := 0
		for _, a := range args {
			n += topLen(a)
		}
		return estimate{elems: n}
	},
	"flatten": func(args []cty.Value) estimate {
		_, elems := measure(argAt(args, 0), math.MaxInt)
		return estimate{elems: elems}
	},
	"setproduct": func(args []cty.Value) estimate {
		n := 1.0
		for _, a := range args {
			n *= float64(topLen(a))
		}
		return estimate{elems: clampInt(n * float64(len(args)))}
	},
	"split": func(args []cty.Value) estimate {
		sep, s := strArg(args, 0), strArg(args, 1)
		return estimate{elems: strings.Count(s, sep) + 1}
	},
	"distinct": func(args []cty.Value) estimate {
		// Quadratic: every element is compared with those kept so far.
		n := topLen(argAt(args, 0))
		return estimate{work: clampInt(float64(n) * float64(n) / 16)}
	},
	"jsondecode": decodeEstimate,
	"csvdecode":  decodeEstimate,
	// Issue 15's functions (functions_ext.go). Hashes read their input
	// once; urlencode writes at most 3 bytes per byte; yamlencode writes
	// each value once plus its indentation, which grows with the depth;
	// yamldecode makes at most one element per separator (aliases, which
	// could multiply them, are refused by the function itself).
	"md5":          hashEstimate,
	"sha1":         hashEstimate,
	"sha256":       hashEstimate,
	"sha512":       hashEstimate,
	"base64sha256": hashEstimate,
	"base64sha512": hashEstimate,
	"urlencode": func(args []cty.Value) estimate {
		n := strLen(args, 0)
		return estimate{bytes: 3 * n, work: n / 16}
	},
	"yamlencode": func(args []cty.Value) estimate {
		size, elems := measure(argAt(args, 0), math.MaxInt)
		depth := nesting(argAt(args, 0), 0)
		return estimate{bytes: clampInt(2*float64(size) + float64(elems)*float64(2*depth+8)), work: size / 16}
	},
	"yamldecode": func(args []cty.Value) estimate {
		e := decodeEstimate(args)
		s := strArg(args, 0)
		for _, c := range []byte(s) {
			if c == '-' {
				e.elems++
			}
		}
		return e
	},
	"cidrsubnets": func(args []cty.Value) estimate { return estimate{elems: len(args)} },
}

func hashEstimate(args []cty.Value) estimate { return estimate{work: strLen(args, 0) / 64} }

// nesting is how deeply v's collections nest, stopping at 1000.
func nesting(v cty.Value, d int) int {
	v, _ = v.Unmark()
	if d >= 1000 || v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return d
	}
	deepest := d
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		deepest = max(deepest, nesting(e, d+1))
	}
	return deepest
}

// formatEstimate bounds format and formatlist: the format string, each
// verb's width and precision, and the arguments, once per result.
func formatEstimate(args []cty.Value) estimate {
	f := strArg(args, 0)
	per := len(f)
	for _, m := range formatWidth.FindAllStringSubmatch(f, -1) {
		for _, num := range m[1:] {
			if n, err := strconv.Atoi(num); err == nil {
				per += n
			} else if num != "" {
				per += math.MaxInt32
			}
		}
	}
	rows, listBytes := 1, 0
	for _, a := range args[min(1, len(args)):] {
		size, _ := measure(a, math.MaxInt)
		if u, _ := a.Unmark(); u.IsKnown() && !u.IsNull() && (u.Type().IsListType() || u.Type().IsTupleType()) {
			rows = max(rows, u.LengthInt())
			listBytes += size
			continue
		}
		per += size
	}
	return estimate{bytes: clampInt(float64(rows)*float64(per) + float64(listBytes)), elems: rows}
}

// decodeEstimate bounds the elements jsondecode and csvdecode can make
// from their input: at most one per separator.
func decodeEstimate(args []cty.Value) estimate {
	s := strArg(args, 0)
	n := 1
	for _, c := range []byte(s) {
		switch c {
		case ',', '[', '{', ':', '\n':
			n++
		}
	}
	return estimate{elems: n, work: len(s) / 16}
}

func argAt(args []cty.Value, i int) cty.Value {
	if i >= len(args) {
		return cty.NilVal
	}
	v, _ := args[i].Unmark()
	return v
}

// strArg is a known string argument, or "".
func strArg(args []cty.Value, i int) string {
	v := argAt(args, i)
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func strLen(args []cty.Value, i int) int { return len(strArg(args, i)) }

// intArg is a known whole-number argument clamped to [0, MaxInt32].
func intArg(args []cty.Value, i int) int {
	v := argAt(args, i)
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0
	}
	f, _ := v.AsBigFloat().Float64()
	return clampInt(f)
}

func clampInt(f float64) int {
	switch {
	case f != f || f < 0:
		return 0
	case f > math.MaxInt32:
		return math.MaxInt32
	}
	return int(f)
}

// topLen is the number of elements of a known collection, else 0.
func topLen(v cty.Value) int {
	v, _ = v.Unmark()
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return 0
	}
	return v.LengthInt()
}

// measure returns the bytes a value stands for (string lengths, plus 8 per
// other value) and its number of elements at every depth, stopping once
// the bytes pass limit. Shared references count each time they appear:
// that is what they cost once copied into a string or a job.
func measure(v cty.Value, limit int) (size, elems int) {
	var a measured
	a.walk(v, limit)
	return a.size, a.elems
}

type measured struct{ size, elems int }

func (a *measured) walk(v cty.Value, limit int) {
	v, _ = v.Unmark()
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		a.size++
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		a.size += len(v.AsString())
	case ty.IsPrimitiveType() || ty.IsCapsuleType():
		a.size += 8
	case v.CanIterateElements():
		a.size += 8
		keyed := !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType()
		for it := v.ElementIterator(); it.Next() && a.size <= limit; {
			k, e := it.Element()
			a.elems++
			if keyed {
				a.walk(k, limit)
			}
			a.walk(e, limit)
		}
	default:
		a.size += 8
	}
}

// magnitude writes a count the way the limits are written: 10^6 for a
// power of ten, the digits otherwise, about m×10^n when it is long.
func magnitude(f float64) string {
	if f >= 1000 {
		e := math.Round(math.Log10(f))
		if math.Abs(f-math.Pow(10, e)) < 1e-9*f {
			return fmt.Sprintf("10^%d", int(e))
		}
	}
	if f < 1e7 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	e := math.Floor(math.Log10(f))
	return fmt.Sprintf("about %.1f×10^%d", f/math.Pow(10, e), int(e))
}

// evalStatic evaluates an expression that may use no variable and call no
// function: a variable's default (which prepare has visited with the
// rest of the file, fresh false) or a value from a var file or -var
// (fresh true).
func (m *meter) evalStatic(expr hclsyntax.Expression, fresh bool) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if fresh {
		diags = m.prepareExpr(expr)
		if diags.HasErrors() {
			return cty.DynamicVal, diags
		}
	}
	// Most defaults are literals: evaluate them as hcl always did, and
	// only when that fails (a for expression or template, whose gates
	// are calls) with the meter's functions.
	if v, ds := expr.Value(nil); !ds.HasErrors() {
		if m.produce(v, nil) {
			return v, append(diags, ds...)
		}
		if m.diag.Subject == nil {
			m.diag.Subject = expr.Range().Ptr()
		}
		return cty.DynamicVal, hcl.Diagnostics{unknownDiag(expr.Range())}
	}
	if !fresh {
		diags = noCalls(expr)
		if diags.HasErrors() {
			return cty.DynamicVal, diags
		}
	}
	v, ds := m.eval(expr, m.staticCtx())
	return v, append(diags, ds...)
}
