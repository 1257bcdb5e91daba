package render_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

// FuzzRender feeds arbitrary names and values through every renderer: none
// may fail, the markdown must fit a comment, and a secret never shows.
func FuzzRender(f *testing.F) {
	f.Add("web", "LOG_LEVEL", "debug", "```\n<b>", "local/x")
	f.Add("<script>", "k\ney", "v\x00", "````", "secrets/a")
	f.Fuzz(func(t *testing.T, id, key, val, data, dest string) {
		old := difftest.Job(id)
		new := difftest.Clone(old)
		tk := new.Groups[0].Tasks[0]
		tk.Env[key] = val
		tk.Env["DB_PASSWORD"] = "fuzz-secret-value"
		tk.Templates = []jobspec.Template{{Destination: dest, Data: data}}
		p := diff.Compute(jobs(old), jobs(new), diff.Options{})
		var txt, md, js bytes.Buffer
		for _, err := range []error{
			render.Text(&txt, p, render.Meta{Base: id}, true),
			render.Markdown(&md, p, render.Meta{Head: data}),
			render.JSON(&js, p, render.Meta{}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if md.Len() >= render.GitHubCommentLimit {
			t.Fatalf("markdown is %d bytes", md.Len())
		}
		for _, out := range []string{txt.String(), md.String(), js.String()} {
			if strings.Contains(out, "fuzz-secret-value") {
				t.Fatal("secret rendered")
			}
		}
	})
}
