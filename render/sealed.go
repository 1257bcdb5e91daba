package render

import (
	"fmt"
	"strings"
)

// SealedNote is what a plan, a pull-request comment, the history and
// the logs say of a sealed variable (drover var seal): its path and how
// many items a commit changes. It has no field for a value, old or new,
// on purpose: nothing that renders it can leak one.
type SealedNote struct {
	Namespace string `json:"namespace"`
	Path      string `json:"path"`
	// Changed counts the items added, removed or changed.
	Changed int `json:"changed"`
	// Created and Deleted say the variable is new, or removed because
	// its file was (prune).
	Created bool `json:"created,omitempty"`
	Deleted bool `json:"deleted,omitempty"`
	// Offline is set by a plan made without the cluster's keys (drover
	// plan): Changed then counts the items sealed again, whose values
	// may or may not differ; only the servers can compare them.
	Offline bool `json:"offline,omitempty"`
}

// String is the note's one line: `+ app/db (sealed: 2 items changed)`.
func (n SealedNote) String() string {
	mark, what := "~", fmt.Sprintf("%d %s changed", n.Changed, plural(n.Changed, "item", "items"))
	if n.Offline {
		what = fmt.Sprintf("%d %s resealed", n.Changed, plural(n.Changed, "item", "items"))
	}
	switch {
	case n.Deleted:
		mark, what = "-", "removed"
	case n.Created:
		mark = "+"
		what = fmt.Sprintf("%d %s", n.Changed, plural(n.Changed, "item", "items"))
	}
	id := n.Path
	if n.Namespace != "" && n.Namespace != "default" {
		id = n.Namespace + "/" + n.Path
	}
	return fmt.Sprintf("%s Variable %q (sealed: %s)", mark, id, what)
}

// SealedText renders notes one per line, for plans and PR comments.
func SealedText(notes []SealedNote) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(n.String())
		b.WriteByte('\n')
	}
	return b.String()
}
