package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/droverhq/drover/cluster"
)

// maxUIDescription bounds how much of a job's ui description job status
// prints: the CLI is a summary, and the full text is in -json.
const maxUIDescription = 2048

// renderJobUI prints a job's `ui` block under the status header, as
// Nomad's web UI shows it on the job's page: the description, then the
// links as a table. A job without one prints nothing. The text comes from
// a job file, so control characters (terminal escapes) are replaced
// before it reaches a terminal. -json carries the block unchanged, as
// Nomad's API does: .job.spec.ui {description, links[{label, url}]}.
func renderJobUI(w io.Writer, j *cluster.Job) {
	if j == nil || j.Spec == nil || j.Spec.UI == nil {
		return
	}
	ui := j.Spec.UI
	if d := strings.TrimSpace(ui.Description); d != "" {
		if len(d) > maxUIDescription {
			d = strings.ToValidUTF8(d[:maxUIDescription], "") + "… (the rest: drover job status -json " + j.ID + ")"
		}
		fmt.Fprintln(w, "\nDescription")
		for _, line := range strings.Split(d, "\n") {
			fmt.Fprintln(w, uiPrintable(line))
		}
	}
	if len(ui.Links) > 0 {
		fmt.Fprintln(w, "\nLinks")
		rows := make([][]string, 0, len(ui.Links))
		for _, l := range ui.Links {
			rows = append(rows, []string{uiPrintable(l.Label), uiPrintable(l.URL)})
		}
		writeTable(w, []string{"Label", "URL"}, rows)
	}
}

// uiPrintable replaces control characters (ESC, CR, tabs that would break
// the table) with U+FFFD.
func uiPrintable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}
