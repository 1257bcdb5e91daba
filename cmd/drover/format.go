package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The human output of the cluster commands: Nomad's layout (key = value
// headers, then tables with two spaces between columns), written through
// text/tabwriter so that columns line up whatever the content.

// writeKV writes "key = value" lines with the "=" aligned.
func writeKV(w io.Writer, pairs [][2]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s\t= %s\n", p[0], p[1])
	}
	_ = tw.Flush()
}

// writeTable writes a header and rows as aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// writeJSON prints v indented, for -json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// shortID is the first eight characters of an ID, as Nomad shows them:
// enough to be unique in any real cluster, and accepted back as a prefix.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// formatTime prints an absolute time in the location of now, which is
// the local zone in the CLI and UTC in tests.
func formatTime(t, now time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return t.In(now.Location()).Format(time.RFC3339)
}

// relTime prints how long before now t was, in at most two units and
// without a zero second unit, as Nomad does ("45s ago", "5m12s ago",
// "3h ago", "2d1h ago").
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := now.Sub(t)
	if d < 0 {
		// Clocks of servers and clients disagree a little; "0s ago"
		// reads better than a time in the future.
		d = 0
	}
	const day = 24 * time.Hour
	units := []struct {
		size time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size && u.size != time.Second {
			continue
		}
		s := fmt.Sprintf("%d%s", d/u.size, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if n := d % u.size / next.size; n > 0 {
				s += fmt.Sprintf("%d%s", n, next.name)
			}
		}
		return s + " ago"
	}
	return "0s ago"
}

// orNone shows an empty value as Nomad does.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// progressWriter is where progress lines go: nowhere with -json, whose
// stdout is for the JSON document alone.
func progressWriter(w io.Writer, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return w
}
