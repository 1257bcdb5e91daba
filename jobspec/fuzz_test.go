package jobspec

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	if files, err := globCorpus(); err == nil {
		for _, path := range files {
			if src, err := os.ReadFile(path); err == nil {
				f.Add(src)
			}
		}
	}
	for _, b := range bombs {
		if src, err := os.ReadFile(filepath.Join("testdata", "bomb", b.file)); err == nil {
			f.Add(src)
		}
	}
	for _, s := range []string{
		minimal,
		`locals { l = range(100) }
job "j" { meta = { a = jsonencode([for a in local.l : [for b in local.l : [for c in local.l : c]]]) } }`,
		`job "j" { meta = { a = replace(format("%9999s", ""), " ", format("%9999s", "")) } }`,
		`job "j" { meta = { a = "%{for i in range(1000)}${format("%9999s", i)}%{endfor}" } }`,
		varJob,
		benchJob,
		"",
		"job",
		`job "" {}`,
		`locals { a = local.b
b = local.a }`,
		`job "j" { count = 1e400 }`,
		"job \"j\" {\n group \"g\" {\n count = -0\n }\n}",
		`x = "${attr.x}${"${meta.y}"}"`,
		"\xff\xfe",
		`job "j" { meta = { a = pow(-1, 0.5) } }`,
		// Issue 15 blocks.
		wrapJob("batch", "node_pool = \"gpu\"\nparameterized {}\nui {\nlink {\nlabel = \"a\"\nurl = \"b\"\n}\n}",
			"volume \"v\" {\nsource = \"s\"\nper_alloc = true\n}\nscaling {\nmin = 1\nmax = 2\npolicy {\na = 1\n}\n}\ndisconnect {\nlost_after = \"1h\"\nreconcile = \"keep_original\"\n}\nmax_run_duration = \"1h\"",
			"volume_mount {\nvolume = \"v\"\ndestination = \"/d\"\n}\ndispatch_payload {\nfile = \"p\"\n}\nidentity {\nenv = true\n}\nidentity \"x\" {\naud = [\"a\"]\n}\naction \"a\" {\ncommand = \"c\"\n}\ntemplate {\ndata = \"x\"\ndestination = \"local/x\"\nchange_mode = \"script\"\nwait {\nmin = \"1s\"\n}\nchange_script {\ncommand = \"c\"\n}\n}"),
		wrapJob("service", "task \"solo\" {\ndriver = \"exec\"\n}", "max_client_disconnect = \"1h\"\nstop_after_client_disconnect = \"1m\"\nnetwork {\nmode = \"cni/x\"\nhostname = \"h\"\n}", "resources {\ndisk = 500\nmemory_max = -1\n}"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		file, diags := Parse("fuzz.hcl", src, corpusVars)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if file == nil && !diags.HasErrors() {
			t.Fatalf("nil File without an error diagnostic: %v", diags)
		}
		if file != nil {
			if diags.HasErrors() {
				t.Fatalf("File returned with errors: %v", diags)
			}
			if _, err := file.Job.Canonical(); err != nil {
				t.Fatalf("parsed job does not encode: %v", err)
			}
		}
		if riskyBytes(src) <= cheapBound && checkTokens("fuzz.hcl", src).HasErrors() && len(src) <= MaxFileSize {
			t.Fatalf("cheap bound passed a file the token check rejects")
		}
	})
}

func globCorpus() ([]string, error) {
	files, err := filepath.Glob(corpusDir + "/*.hcl")
	if err != nil || len(files) == 0 {
		return nil, os.ErrNotExist
	}
	return files, nil
}
