package repo_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/repo"
)

// benchFilesAs is benchFiles with every job converted to Nomad's API
// JSON (*.job.json) or its YAML (*.job.yaml).
func benchFilesAs(b *testing.B, format string) map[string]string {
	files := map[string]string{"drover.hcl": "paths = [\"jobs/**\"]\nsensitive = [\"*_URL\"]\n"}
	for i := range benchJobs {
		p := benchPath(i)
		f, diags := jobspec.Parse(p, []byte(repo.ServiceJobForTest(i)), nil)
		if f == nil {
			b.Fatal(diags)
		}
		var out []byte
		var err error
		if format == "yaml" {
			out, err = jobspec.MarshalAPIYAML(f.Job)
		} else {
			out, err = jobspec.MarshalAPIJSON(f.Job)
		}
		if err != nil {
			b.Fatal(err)
		}
		files[strings.TrimSuffix(p, ".nomad.hcl")+".job."+format] = string(out)
	}
	return files
}

// benchLoadFormats: BenchmarkLoadRepo's cold load over the same 10,000
// jobs in the API formats.
func benchLoadFormats(b *testing.B) {
	for _, format := range []string{"json", "yaml"} {
		b.Run("dir-"+format, func(b *testing.B) {
			dir := b.TempDir()
			repo.WriteTreeForTest(b, dir, benchFilesAs(b, format))
			cpu0, n := cpuTime(), 0
			for b.Loop() {
				n++
				mustLoad(b, repo.NewLoader(repo.LoadOptions{}), repo.DirSource(dir))
			}
			reportCPU(b, cpu0, n)
		})
	}
}
