package scheduler

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Constraint operators, as Nomad spells them.
const (
	opDistinctHosts    = "distinct_hosts"
	opDistinctProperty = "distinct_property"
	opRegexp           = "regexp"
	opVersion          = "version"
	opSemver           = "semver"
	opSetContains      = "set_contains"
	opSetContainsAll   = "set_contains_all"
	opSetContainsAny   = "set_contains_any"
	opIsSet            = "is_set"
	opIsNotSet         = "is_not_set"
)

type targetKind uint8

const (
	targetLiteral targetKind = iota
	targetAttr
	targetMeta
	targetNodeID
	targetNodeName
	targetNodeDC
	targetNodeClass
	targetUnknown // an interpolation we do not know: never set
)

// target is a constraint operand parsed once per evaluation, so that
// resolving it on a node is a field read or one map lookup.
type target struct {
	kind targetKind
	key  string // attribute or meta key, or the literal
}

func parseTarget(s string) target {
	if !strings.HasPrefix(s, "${") || !strings.HasSuffix(s, "}") {
		return target{kind: targetLiteral, key: s}
	}
	in := s[2 : len(s)-1]
	switch {
	case strings.HasPrefix(in, "attr."):
		return target{kind: targetAttr, key: in[len("attr."):]}
	case strings.HasPrefix(in, "meta."):
		return target{kind: targetMeta, key: in[len("meta."):]}
	}
	switch in {
	case "node.unique.id":
		return target{kind: targetNodeID}
	case "node.unique.name":
		return target{kind: targetNodeName}
	case "node.datacenter":
		return target{kind: targetNodeDC}
	case "node.class":
		return target{kind: targetNodeClass}
	}
	return target{kind: targetUnknown, key: in}
}

// resolve returns the operand's value on node n, and whether it is set.
func (t target) resolve(n *cluster.Node) (string, bool) {
	switch t.kind {
	case targetLiteral:
		return t.key, true
	case targetAttr:
		v, ok := n.Attributes[t.key]
		return v, ok
	case targetMeta:
		v, ok := n.Meta[t.key]
		return v, ok
	case targetNodeID:
		return n.ID, true
	case targetNodeName:
		return n.Name, true
	case targetNodeDC:
		return n.Datacenter, true
	case targetNodeClass:
		return n.NodeClass, n.NodeClass != ""
	}
	return "", false
}

// checker is a constraint or affinity compiled for repeated evaluation:
// operands parsed, and a literal right-hand side pre-parsed into the form
// its operator needs.
type checker struct {
	text string
	op   string
	l, r target

	set   []string            // set operators
	re    *regexp.Regexp      // regexp
	vcons version.Constraints // version, semver
	bad   bool                // a literal operand that does not parse: never matches
}

func constraintText(attr, op, value string) string {
	parts := make([]string, 0, 3)
	for _, p := range []string{attr, op, value} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

func compileChecker(attr, op, value string) *checker {
	c := &checker{text: constraintText(attr, op, value), op: normalizeOp(op), l: parseTarget(attr), r: parseTarget(value)}
	if c.r.kind != targetLiteral {
		return c
	}
	switch c.op {
	case opSetContains, opSetContainsAll, opSetContainsAny:
		c.set = splitSet(value)
	case opRegexp:
		re, err := regexp.Compile(value)
		c.re, c.bad = re, err != nil
	case opVersion, opSemver:
		vc, err := version.NewConstraint(value)
		c.vcons, c.bad = vc, err != nil
	}
	return c
}

func compileConstraint(c jobspec.Constraint) *checker {
	return compileChecker(c.Attribute, c.Operator, c.Value)
}

func normalizeOp(op string) string {
	switch op {
	case "", "==", "is":
		return "="
	case "not":
		return "!="
	}
	return op
}

// match evaluates the check on node n, with Nomad's semantics for unset
// operands: only `!=` and is_not_set can hold for an attribute a node
// does not have.
func (c *checker) match(n *cluster.Node) bool {
	if c.bad {
		return false
	}
	l, lok := c.l.resolve(n)
	switch c.op {
	case opIsSet:
		return lok
	case opIsNotSet:
		return !lok
	}
	r, rok := c.r.resolve(n)
	switch c.op {
	case "=":
		return lok && rok && l == r
	case "!=":
		if lok != rok {
			return true
		}
		return lok && l != r
	case "<", "<=", ">", ">=":
		return lok && rok && checkOrder(c.op, l, r)
	}
	if !lok || !rok {
		return false
	}
	switch c.op {
	case opRegexp:
		re := c.re
		if re == nil {
			var err error
			if re, err = regexp.Compile(r); err != nil {
				return false
			}
		}
		return re.MatchString(l)
	case opVersion, opSemver:
		return c.versionMatch(l, r)
	case opSetContains, opSetContainsAll:
		for _, want := range c.setOf(r) {
			if !setHas(l, want) {
				return false
			}
		}
		return true
	case opSetContainsAny:
		for _, want := range c.setOf(r) {
			if setHas(l, want) {
				return true
			}
		}
		return false
	}
	return false
}

func (c *checker) setOf(r string) []string {
	if c.set != nil {
		return c.set
	}
	return splitSet(r)
}

func (c *checker) versionMatch(l, r string) bool {
	var v *version.Version
	var err error
	if c.op == opSemver {
		if !strictSemver.MatchString(l) {
			return false
		}
		v, err = version.NewSemver(l)
	} else {
		v, err = version.NewVersion(l)
	}
	if err != nil {
		return false
	}
	cons := c.vcons
	if cons == nil {
		if cons, err = version.NewConstraint(r); err != nil {
			return false
		}
	}
	return cons.Check(v)
}

// strictSemver is SemVer 2.0.0: three numeric parts without leading
// zeros, then an optional pre-release and build. go-version alone accepts
// "1.2" or "1.2.3.4" as semver.
var strictSemver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// checkOrder compares numerically when both sides are numbers, else
// lexically.
func checkOrder(op, l, r string) bool {
	cmp := 0
	lf, lerr := strconv.ParseFloat(l, 64)
	rf, rerr := strconv.ParseFloat(r, 64)
	switch {
	case lerr == nil && rerr == nil:
		switch {
		case lf < rf:
			cmp = -1
		case lf > rf:
			cmp = 1
		}
	default:
		cmp = strings.Compare(l, r)
	}
	switch op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

func splitSet(s string) []string {
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// setHas reports whether the comma-separated list holds want, without
// splitting the list: it runs for every node a set constraint sees.
func setHas(list, want string) bool {
	for list != "" {
		item := list
		if i := strings.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = ""
		}
		if strings.TrimSpace(item) == want {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters, as datacenter names in a job do.
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
