package jobspec

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Input limits. hclsyntax parses and evaluates recursively and has no depth
// limit of its own: 100,000 nested brackets overflow the goroutine stack,
// which kills the whole process rather than panicking, and a 10 MB file
// takes seconds and gigabytes. A job file is a few kilobytes, so these
// limits are far above anything real.
const (
	// MaxFileSize is the largest job or variables file Parse accepts.
	MaxFileSize = 1 << 20
	// MaxNesting is the deepest nesting of brackets, braces, parentheses,
	// strings and template sequences a file may have.
	MaxNesting = 100
	// maxChainTokens bounds operator and index tokens, which build
	// left-deep expression trees without any nesting of brackets.
	maxChainTokens = 5000
	// hclsyntax merges the literal pieces of a template (a heredoc has one
	// per line, more where a line holds $ or %) in quadratic time: 24,000
	// pieces take seconds. So the pieces of one template are bounded, and
	// so is the merging work summed over the file.
	maxLiteralRun  = 3000
	maxMergeBudget = maxLiteralRun * maxLiteralRun / 2
	// cheapBound is the number of "risky" bytes, and of lines, below which
	// a file cannot be deep or long enough to matter, so the exact (and
	// costly) token scan is skipped for ordinary files.
	cheapBound = 2000
	// maxDiagnostics caps what one file reports, so that garbage input
	// does not produce one diagnostic per byte.
	maxDiagnostics = 100
)

// checkInput rejects inputs that are too big, not text, or nested deeply
// enough to endanger the parser. It runs before hclsyntax sees the bytes.
func checkInput(filename string, src []byte) hcl.Diagnostics {
	if len(src) > MaxFileSize {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "File too large",
			Detail:   fmt.Sprintf("The file is %d bytes; Drover accepts job and variables files of at most %d bytes.", len(src), MaxFileSize),
			Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return hcl.Diagnostics{invalidTextDiag(filename, src, i, "The file contains a NUL byte; it is not a text file.")}
	}
	if !utf8.Valid(src) {
		i := firstInvalidUTF8(src)
		return hcl.Diagnostics{invalidTextDiag(filename, src, i, "The file is not valid UTF-8 text.")}
	}
	if IsAPIJob(filename) {
		// No expressions in Nomad's API format: bracket depth is the whole
		// risk, and the HCL token scan below would cost more than the
		// parse (json_api.go).
		return checkDataNesting(filename, src)
	}
	if riskyBytes(src) <= cheapBound && bytes.Count(src, []byte{'\n'}) <= cheapBound {
		return nil
	}
	return checkTokens(filename, src)
}

// riskyBytes counts every byte that could start a nesting level or an
// operator. Each level of recursion in the parser or evaluator needs at
// least one such token, so the count bounds the depth from above no matter
// whether the bytes sit in strings or comments.
func riskyBytes(src []byte) int {
	n := 0
	for _, c := range src {
		switch c {
		case '{', '[', '(', '!', '?', '-', '+', '*', '/', '%', '<', '>', '&', '|', '=':
			n++
		}
	}
	return n
}

// checkTokens measures nesting and operator chains on real tokens.
func checkTokens(filename string, src []byte) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	depth, chain, run, merges := 0, 0, 0, 0
	for _, tok := range tokens {
		if tok.Type == hclsyntax.TokenStringLit || tok.Type == hclsyntax.TokenQuotedLit {
			run++
			merges += run
		} else {
			run = 0
		}
		if run > maxLiteralRun || merges > maxMergeBudget {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Template too long",
				Detail:   fmt.Sprintf("A heredoc or template string may have at most %d pieces (about one per line, more for lines with $ or %%), and a file about that many in total.", maxLiteralRun),
				Subject:  tok.Range.Ptr(),
			}}
		}
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
		case hclsyntax.TokenOBrack:
			depth++
			chain++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus, hclsyntax.TokenStar,
			hclsyntax.TokenSlash, hclsyntax.TokenPercent, hclsyntax.TokenQuestion,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenAnd, hclsyntax.TokenOr:
			chain++
		}
		if depth > MaxNesting {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail:   fmt.Sprintf("Blocks, brackets, parentheses and strings nest more than %d levels deep here.", MaxNesting),
				Subject:  tok.Range.Ptr(),
			}}
		}
		if chain > maxChainTokens {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Too many operators",
				Detail:   fmt.Sprintf("The file has more than %d operators and index brackets.", maxChainTokens),
				Subject:  tok.Range.Ptr(),
			}}
		}
	}
	return nil
}

func firstInvalidUTF8(src []byte) int {
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(src)
}

// invalidTextDiag points at byte offset i, counting lines and bytes rather
// than grapheme clusters because the text around it is not trustworthy.
func invalidTextDiag(filename string, src []byte, i int, detail string) *hcl.Diagnostic {
	line := 1 + bytes.Count(src[:i], []byte{'\n'})
	col := i - bytes.LastIndexByte(src[:i], '\n')
	pos := hcl.Pos{Line: line, Column: col, Byte: i}
	end := pos
	end.Column++
	end.Byte++
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid file content",
		Detail:   detail,
		Subject:  &hcl.Range{Filename: filename, Start: pos, End: end},
	}
}
