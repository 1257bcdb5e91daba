package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
)

// renderServiceChecks lists an instance's check results under its
// fields in 'drover service info -verbose': what took it out of the
// default list, or kept it in.
func renderServiceChecks(w io.Writer, checks []cluster.CheckStatus) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintln(w, "\nChecks")
	rows := make([][]string, 0, len(checks))
	for _, c := range checks {
		out := strings.Join(strings.Fields(c.Output), " ") // one line per check
		rows = append(rows, []string{c.Name, c.Status, c.Timestamp.UTC().Format(time.RFC3339), out})
	}
	writeTable(w, []string{"Name", "Status", "Since", "Output"}, rows)
}
