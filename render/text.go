package render

import (
	"bufio"
	"io"

	"github.com/droverhq/drover/diff"
)

const (
	ansiReset = "\x1b[0m"
)

var ansi = [...]string{
	plain:  "",
	bold:   "\x1b[1m",
	green:  "\x1b[32m",
	red:    "\x1b[31m",
	yellow: "\x1b[33m",
	cyan:   "\x1b[36m",
}

// Text writes the plan as `nomad job plan` does, between a header naming
// the two sides and a closing summary. Colour is used only when color is
// set (the caller knows whether w is a terminal).
func Text(w io.Writer, p *diff.Plan, m Meta, color bool) error {
	bw := bufio.NewWriter(w)
	write := func(l line) {
		for _, s := range l.spans {
			if color && s.style != plain {
				bw.WriteString(ansi[s.style] + s.text + ansiReset)
			} else {
				bw.WriteString(s.text)
			}
		}
		bw.WriteByte('\n')
	}

	if m.Base != "" {
		write(line{spans: []span{{"Base: ", bold}, {text: m.Base}}})
	}
	if m.Head != "" {
		write(line{spans: []span{{"Head: ", bold}, {text: m.Head}}})
	}
	if m.Base != "" || m.Head != "" {
		bw.WriteByte('\n')
	}
	for _, n := range m.Sealed { // sealed.go: paths and counts only
		write(line{spans: []span{{text: n.String()}}})
	}
	if len(m.Sealed) > 0 {
		bw.WriteByte('\n')
	}
	if !p.HasChanges() {
		msg := "No changes. The desired state matches."
		if len(m.Sealed) > 0 {
			msg = "No job changes."
		}
		write(line{spans: []span{{msg, green}}})
		return bw.Flush()
	}
	for _, j := range p.Jobs {
		var l layout
		l.job(j)
		for _, ln := range l.lines {
			write(ln)
		}
		if n := m.note(j); n != "" {
			write(line{spans: []span{{"Note: ", yellow}, {text: n}}})
		}
		bw.WriteByte('\n')
	}
	if len(p.Waves) > 0 {
		write(line{spans: []span{{wavesTitle + ":", bold}}})
		for _, l := range waveLines(p.Waves) {
			write(line{spans: []span{{text: "  " + l}}})
		}
		bw.WriteByte('\n')
	}
	write(line{spans: []span{{"Plan: " + summaryLine(p.Summary()) + ".", bold}}})
	return bw.Flush()
}
