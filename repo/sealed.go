package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/droverhq/drover/cluster"
)

// Sealed variable files (issue 16): `drover var seal` encrypts a
// variable's items to the cluster's age recipients and writes
// PATH.sealed.hcl into the repository:
//
//	sealed_variable "app/db" {
//	  namespace  = "default"
//	  recipients = ["age:3f1c0a9e5b7d2c41"]
//	  items = {
//	    DB_PASSWORD = <<-EOT
//	      -----BEGIN AGE ENCRYPTED FILE-----
//	      ...
//	      -----END AGE ENCRYPTED FILE-----
//	    EOT
//	  }
//	}
//
// Format decisions, and why:
//
//   - One age ciphertext per item, not one for the whole variable: a Git
//     diff and a review show which keys a commit touched (key names are
//     not secret: they are in every template that reads them), and
//     resealing one item leaves the others' lines alone.
//   - No hash of any value, keyed or not. An unkeyed hash of a short
//     password is a guessing oracle; a keyed one would need a key the
//     sealer shares with the servers, i.e. a secret in every laptop.
//     What changed is computed on the servers after decryption, by
//     comparing with the stored variable ("(sealed: 2 items changed)").
//   - Each plaintext is bound to its namespace, path and key (a header
//     line inside the ciphertext, checked on open). age authenticates
//     the payload but not where it sits: without the binding, someone
//     with commit rights could copy the ciphertext of app/db's
//     DB_PASSWORD into a file for a path they can read and have the
//     servers decrypt it for them.
//   - recipients lists fingerprints (cluster.SealFingerprint), only to
//     say which key a file needs when it does not open; it is not
//     trusted for anything else.
//
// The file holds ciphertext, key names and fingerprints: committing it
// is safe.

// SealedFileSuffix ends the name of a sealed variable file. Such files
// are never job files.
const SealedFileSuffix = ".sealed.hcl"

// sealedHeader starts every sealed plaintext: a version, then the
// binding lines.
const sealedHeader = "drover-sealed-v1\n"

// maxSealedArmor bounds one item's armored ciphertext before it is
// decoded: a 64 KiB value is about 88 KiB of armor plus the header.
const maxSealedArmor = 128 << 10

// SealedVariable is one sealed_variable block of a sealed file.
type SealedVariable struct {
	Namespace string
	Path      string
	// Recipients are the fingerprints the file says it was sealed for.
	Recipients []string
	// Items are sorted by key.
	Items []SealedItem
	// File is the file's path; DefRange is the block's header.
	File     string
	DefRange hcl.Range
}

// SealedItem is one item's ciphertext (age, armored).
type SealedItem struct {
	Key        string
	Ciphertext string
	Range      hcl.Range
}

// ID is the variable's namespace/path.
func (v *SealedVariable) ID() string { return v.Namespace + "/" + v.Path }

// Keys lists the item keys, sorted.
func (v *SealedVariable) Keys() []string {
	out := make([]string, len(v.Items))
	for i, it := range v.Items {
		out[i] = it.Key
	}
	return out
}

// IsSealedFile reports whether a slash path names a sealed variable file.
func IsSealedFile(p string) bool {
	return strings.HasSuffix(path.Base(p), SealedFileSuffix)
}

var sealedFileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "sealed_variable", LabelNames: []string{"path"}}},
}

var sealedBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "namespace"},
		{Name: "recipients", Required: true},
		{Name: "items", Required: true},
	},
}

// ParseSealed parses a sealed variable file without decrypting it.
// Every problem is a diagnostic at its position.
func ParseSealed(filename string, src []byte) ([]*SealedVariable, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := f.Body.Content(sealedFileSchema)
	diags = append(diags, d...)
	var out []*SealedVariable
	for _, b := range content.Blocks {
		v, d := parseSealedBlock(filename, b)
		diags = append(diags, d...)
		if v != nil {
			out = append(out, v)
		}
	}
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No sealed variable",
			Detail:   "A " + SealedFileSuffix + " file holds sealed_variable blocks written by 'drover var seal'; this one has none. Delete it or seal a variable into it.",
			Subject:  f.Body.MissingItemRange().Ptr(),
		})
	}
	return out, diags
}

func sealedDiag(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

func parseSealedBlock(filename string, b *hcl.Block) (*SealedVariable, hcl.Diagnostics) {
	v := &SealedVariable{Namespace: "default", Path: b.Labels[0], File: filename, DefRange: b.DefRange}
	var diags hcl.Diagnostics
	if err := cluster.ValidateVariablePath(v.Path); err != nil {
		diags = append(diags, sealedDiag(b.LabelRanges[0], "Invalid variable path", err.Error()+"."))
	}
	content, d := b.Body.Content(sealedBlockSchema)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	if a, ok := content.Attributes["namespace"]; ok {
		s, d := staticString(a.Expr)
		diags = append(diags, d...)
		if !jobspecNameOK(s) {
			diags = append(diags, sealedDiag(a.Expr.Range(), "Invalid namespace", fmt.Sprintf("Namespace %q: use letters, digits, - and _ (at most 128).", s)))
		}
		v.Namespace = s
	}
	a := content.Attributes["recipients"]
	val, d := a.Expr.Value(nil)
	diags = append(diags, d...)
	if !d.HasErrors() {
		if !val.Type().IsTupleType() && !val.Type().IsListType() || !val.IsWhollyKnown() || val.LengthInt() > 64 {
			diags = append(diags, sealedDiag(a.Expr.Range(), "Invalid recipients", "recipients is a list of at most 64 key fingerprints (\"age:...\")."))
		} else {
			for it := val.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.IsNull() || e.Type() != cty.String {
					diags = append(diags, sealedDiag(a.Expr.Range(), "Invalid recipients", "recipients is a list of strings."))
					break
				}
				v.Recipients = append(v.Recipients, e.AsString())
			}
		}
	}
	a = content.Attributes["items"]
	pairs, d := hcl.ExprMap(a.Expr)
	diags = append(diags, d...)
	if len(pairs) > cluster.MaxVariableItems {
		diags = append(diags, sealedDiag(a.Expr.Range(), "Too many items", fmt.Sprintf("A variable holds at most %d items.", cluster.MaxVariableItems)))
		return nil, diags
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		key, d := staticString(p.Key)
		diags = append(diags, d...)
		ct, d2 := staticString(p.Value)
		diags = append(diags, d2...)
		if d.HasErrors() || d2.HasErrors() {
			continue
		}
		switch {
		case cluster.ValidateVariableItems(map[string]string{key: ""}) != nil:
			diags = append(diags, sealedDiag(p.Key.Range(), "Invalid item key", fmt.Sprintf("Item key %q: only letters, digits, - and _ are allowed (at most 128).", key)))
			continue
		case seen[key]:
			diags = append(diags, sealedDiag(p.Key.Range(), "Duplicate item", fmt.Sprintf("Item %q is sealed twice in this variable.", key)))
			continue
		case len(ct) > maxSealedArmor || !strings.Contains(ct, armor.Header):
			diags = append(diags, sealedDiag(p.Value.Range(), "Invalid sealed item", fmt.Sprintf("Item %q is not an armored age ciphertext of at most %d bytes. Seal it again with 'drover var seal'.", key, maxSealedArmor)))
			continue
		}
		seen[key] = true
		v.Items = append(v.Items, SealedItem{Key: key, Ciphertext: ct, Range: p.Value.Range()})
	}
	if len(pairs) == 0 {
		diags = append(diags, sealedDiag(a.Expr.Range(), "No items", "A sealed variable needs at least one item."))
	}
	sort.Slice(v.Items, func(i, j int) bool { return v.Items[i].Key < v.Items[j].Key })
	if diags.HasErrors() {
		return nil, diags
	}
	return v, diags
}

// staticString evaluates an expression that must be a literal string
// (no variables or functions: a sealed file is data).
func staticString(e hcl.Expression) (string, hcl.Diagnostics) {
	val, diags := e.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if val.IsNull() || !val.IsKnown() || val.Type() != cty.String {
		return "", hcl.Diagnostics{sealedDiag(e.Range(), "Not a string", "A string is required here.")}
	}
	return val.AsString(), nil
}

func jobspecNameOK(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// sealedPlaintext binds a value to where it may be opened.
func sealedPlaintext(namespace, varPath, key, value string) []byte {
	return []byte(sealedHeader + namespace + "\n" + varPath + "\n" + key + "\n" + value)
}

// SealVariable encrypts items to the recipients (age X25519 recipient
// strings, "age1...") and returns a sealed file's text. Values never
// appear in it, nor in its errors.
func SealVariable(namespace, varPath string, items map[string]string, recipients []string) ([]byte, error) {
	if namespace == "" {
		namespace = "default"
	}
	if !jobspecNameOK(namespace) {
		return nil, fmt.Errorf("namespace %q: use letters, digits, - and _", namespace)
	}
	if err := cluster.ValidateVariablePath(varPath); err != nil {
		return nil, err
	}
	if err := cluster.ValidateVariableItems(items); err != nil {
		return nil, err
	}
	if len(recipients) == 0 {
		return nil, errors.New("no recipient to seal to: give -address of a cluster or -recipient-file")
	}
	rs := make([]age.Recipient, 0, len(recipients))
	fps := make([]string, 0, len(recipients))
	for _, s := range recipients {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", s, err)
		}
		rs = append(rs, r)
		fps = append(fps, cluster.SealFingerprint(s))
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteString("# Written by 'drover var seal': only the cluster's servers can open it.\n")
	b.WriteString("# Safe to commit: it holds ciphertext and key fingerprints, never a value.\n")
	fmt.Fprintf(&b, "sealed_variable %q {\n", varPath)
	fmt.Fprintf(&b, "  namespace  = %q\n", namespace)
	fmt.Fprintf(&b, "  recipients = [%s]\n\n", quoteList(fps))
	b.WriteString("  items = {\n")
	for _, k := range keys {
		var ct bytes.Buffer
		aw := armor.NewWriter(&ct)
		w, err := age.Encrypt(aw, rs...)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", k, err)
		}
		if _, err := w.Write(sealedPlaintext(namespace, varPath, k, items[k])); err != nil {
			return nil, fmt.Errorf("seal %s: %w", k, err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("seal %s: %w", k, err)
		}
		if err := aw.Close(); err != nil {
			return nil, fmt.Errorf("seal %s: %w", k, err)
		}
		fmt.Fprintf(&b, "    %q = <<-EOT\n", k)
		for _, line := range strings.Split(strings.TrimRight(ct.String(), "\n"), "\n") {
			b.WriteString("      " + line + "\n")
		}
		b.WriteString("    EOT\n")
	}
	b.WriteString("  }\n}\n")
	return b.Bytes(), nil
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// SealKeys are the identities that open sealed files, with the
// fingerprints an error names.
type SealKeys struct {
	Identities   []age.Identity
	Fingerprints []string
}

// Open decrypts a sealed variable's items. A diagnostic at the item's
// position says what is wrong: sealed for another key (naming the key
// it needs and the keys the cluster has), tampered or corrupted (age's
// authentication failed), or moved from another variable or item. No
// diagnostic ever contains a value.
func (v *SealedVariable) Open(keys SealKeys) (map[string]string, hcl.Diagnostics) {
	items := make(map[string]string, len(v.Items))
	var diags hcl.Diagnostics
	for _, it := range v.Items {
		val, d := v.openItem(it, keys)
		if d != nil {
			diags = append(diags, d)
			continue
		}
		items[it.Key] = val
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if err := cluster.ValidateVariableItems(items); err != nil {
		return nil, hcl.Diagnostics{sealedDiag(v.DefRange, "Invalid sealed variable", err.Error()+".")}
	}
	return items, nil
}

func (v *SealedVariable) openItem(it SealedItem, keys SealKeys) (string, *hcl.Diagnostic) {
	if len(keys.Identities) == 0 {
		return "", sealedDiag(it.Range, "No key to open sealed variables", fmt.Sprintf(
			"Item %q of %s is sealed for age key %s, and this cluster has no seal key yet. Run 'drover operator seal recipients' to create one, then seal the file again.",
			it.Key, v.Path, strings.Join(v.Recipients, ", ")))
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(it.Ciphertext)), keys.Identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return "", sealedDiag(it.Range, "Sealed for another key", fmt.Sprintf(
			"Item %q of %s is sealed for age key %s; this cluster has %s. Seal it again for this cluster with 'drover var seal -address ...', or add the key it needs.",
			it.Key, v.Path, orUnknown(v.Recipients), strings.Join(keys.Fingerprints, ", ")))
	case err != nil:
		return "", tampered(v, it, err)
	}
	pt, err := io.ReadAll(io.LimitReader(r, cluster.MaxVariableSize+512))
	if err != nil {
		return "", tampered(v, it, err)
	}
	want := sealedPlaintext(v.Namespace, v.Path, it.Key, "")
	if !bytes.HasPrefix(pt, want) {
		clear(pt)
		return "", sealedDiag(it.Range, "Sealed item moved", fmt.Sprintf(
			"Item %q of %s opens, but was sealed for another variable or item: a ciphertext only opens where it was sealed. Seal the value again for this path with 'drover var seal'.",
			it.Key, v.ID()))
	}
	val := string(pt[len(want):])
	clear(pt)
	return val, nil
}

// tampered reports an item whose ciphertext fails age's authentication.
// age's errors name the failing step (header MAC, payload chunk), never
// plaintext.
func tampered(v *SealedVariable, it SealedItem, err error) *hcl.Diagnostic {
	return sealedDiag(it.Range, "Sealed item does not open", fmt.Sprintf(
		"Item %q of %s is tampered or corrupted (%v). Restore it from Git history or seal it again with 'drover var seal'.",
		it.Key, v.Path, err))
}

func orUnknown(fps []string) string {
	if len(fps) == 0 {
		return "(unknown: the file lists no recipients)"
	}
	return strings.Join(fps, ", ")
}

// loadSealed parses the listing's sealed files that drover.hcl's paths
// and exclude globs select (the rules of job files, bar the name). They
// are few and small, so they are not cached.
func (r *Repo) loadSealed(ctx context.Context, files []File, isVarFile map[string]bool) error {
	byID := map[string]*SealedVariable{}
	for _, f := range files {
		if !IsSealedFile(f.Path) || isVarFile[f.Path] || isHiddenPath(f.Path) ||
			len(r.Config.Paths) > 0 && !matchAny(r.Config.Paths, f.Path) || matchAny(r.Config.Exclude, f.Path) {
			continue
		}
		src, diag, err := readText(ctx, r.src, f)
		if err != nil {
			return err
		}
		if diag != nil {
			r.Diagnostics = append(r.Diagnostics, diag)
			continue
		}
		vars, diags := ParseSealed(f.Path, src)
		if len(diags) > 0 {
			r.Sources[f.Path] = src
			r.Diagnostics = append(r.Diagnostics, diags...)
		}
		for _, v := range vars {
			if first, ok := byID[v.ID()]; ok {
				r.Sources[f.Path] = src
				r.Diagnostics = append(r.Diagnostics, sealedDiag(v.DefRange, "Duplicate sealed variable",
					fmt.Sprintf("Variable %s is sealed at %s and again here: keep one.", v.ID(), position(first.DefRange))))
				continue
			}
			byID[v.ID()] = v
			r.Sealed = append(r.Sealed, v)
		}
	}
	return nil
}
