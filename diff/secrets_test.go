package diff_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

// SecretJobs returns two versions of a job whose secrets all change; every
// secret value contains "hunter2".
func secretJobs() (old, new *jobspec.Job) {
	old = difftest.Job("web")
	tk := old.Groups[0].Tasks[0]
	tk.Env["DB_PASSWORD"] = "hunter2-old"
	tk.Env["api_token"] = "hunter2-tok"
	tk.Env["DB_DSN"] = "postgres://u:hunter2@db/x"
	tk.Env["UPSTREAM_URL"] = "https://u:hunter2@up"
	tk.Env["DB_HOST"] = "hunter2-host"
	tk.Config["auth"] = []any{map[string]any{"username": "u", "password": "hunter2-cfg"}}
	tk.Templates = []jobspec.Template{
		{Destination: "local/app.env", Env: true, Data: "X=hunter2-env"},
		{Destination: "secrets/creds.txt", Data: "hunter2-file"},
		{Destination: "local/app.conf", Data: "plain"},
	}
	old.Meta["signing_key"] = "hunter2-meta"

	new = difftest.Clone(old)
	tk = new.Groups[0].Tasks[0]
	for k, v := range tk.Env {
		tk.Env[k] = strings.Replace(v, "hunter2", "hunter2-new", 1)
	}
	delete(tk.Env, "api_token")
	tk.Env["NEW_SECRET"] = "hunter2-added"
	tk.Config["auth"] = []any{map[string]any{"username": "u", "password": "hunter2-cfg2"}}
	for i := range tk.Templates {
		tk.Templates[i].Data += "-new"
	}
	new.Meta["signing_key"] = "hunter2-meta2"
	return old, new
}

func TestSecretsAreMasked(t *testing.T) {
	old, new := secretJobs()
	p := diff.Compute(jobs(old), jobs(new), diff.Options{Sensitive: []string{"db_dsn", "*_URL", "db_host"}})
	d := p.Jobs[0]
	walk(d, func(f *diff.FieldDiff) {
		if strings.Contains(f.Old+f.New, "hunter2") {
			t.Errorf("%s leaks a secret: %q => %q", f.Path, f.Old, f.New)
		}
	})
	want := map[string]diff.DiffType{
		"env.DB_PASSWORD":                  diff.DiffTypeEdited,
		"env.api_token":                    diff.DiffTypeDeleted,
		"env.NEW_SECRET":                   diff.DiffTypeAdded,
		"env.DB_DSN":                       diff.DiffTypeEdited,
		"env.UPSTREAM_URL":                 diff.DiffTypeEdited,
		"env.DB_HOST":                      diff.DiffTypeEdited,
		"config.auth[0].password":          diff.DiffTypeEdited,
		"template[local/app.env].data":     diff.DiffTypeEdited,
		"template[secrets/creds.txt].data": diff.DiffTypeEdited,
		"meta.signing_key":                 diff.DiffTypeEdited,
	}
	for path, typ := range want {
		f := find(d, path)
		if f == nil {
			t.Errorf("%s: no diff", path)
			continue
		}
		if !f.Sensitive || f.Type != typ {
			t.Errorf("%s = %s sensitive=%v, want %s sensitive", path, f.Type, f.Sensitive, typ)
		}
		if typ != diff.DiffTypeAdded && f.Old != diff.SensitiveValue {
			t.Errorf("%s: old = %q", path, f.Old)
		}
		if typ != diff.DiffTypeDeleted && f.New != diff.SensitiveValue {
			t.Errorf("%s: new = %q", path, f.New)
		}
	}
	// Values that are not secret stay readable.
	if f := find(d, "template[local/app.conf].data"); f == nil || f.Sensitive || f.New != "plain-new" {
		t.Errorf("plain template = %+v", f)
	}
	// Without the globs, DB_HOST is not secret; DB_DSN and UPSTREAM_URL
	// still are, by their values: URLs with a password.
	p = diff.Compute(jobs(old), jobs(new), diff.Options{})
	if f := find(p.Jobs[0], "env.DB_HOST"); f == nil || f.Sensitive {
		t.Errorf("DB_HOST without globs = %+v", f)
	}
	for _, path := range []string{"env.DB_DSN", "env.UPSTREAM_URL"} {
		if f := find(p.Jobs[0], path); f == nil || !f.Sensitive || strings.Contains(f.Old+f.New, "hunter2") {
			t.Errorf("%s without globs = %+v", path, f)
		}
	}
}

// A value holding a URL with a password is secret whatever its key, in
// env, meta and driver config; a URL without one is not.
func TestCredentialURLValuesAreMasked(t *testing.T) {
	for _, tc := range []struct {
		value  string
		secret bool
	}{
		{"postgres://u:pw@db/x", true},
		{"redis://:pw@cache:6379", true},
		{"amqp://guest:guest@mq", true},
		{"see https://u:pw@h/p for details", true},
		{"https://ghp_token@github.com/a/b", true}, // a token as the user name
		{"ssh://git@github.com/a/b.git", false},    // SSH's account on every forge: no secret
		{"git@github.com:a/b.git", false},
		{"postgres://db/x", false},
		{"https://example.com:8443/path", false},
		{"host:port@x", false},
		{"info", false},
	} {
		d := update(t, func(j *jobspec.Job) {
			task(j).Env["CONN"] = "old"
			task(j).Config["endpoint"] = "old"
			j.Meta["conn"] = "old"
		}, func(j *jobspec.Job) {
			task(j).Env["CONN"] = tc.value
			task(j).Config["endpoint"] = tc.value
			j.Meta["conn"] = tc.value
		})
		for _, path := range []string{"env.CONN", "config.endpoint", "meta.conn"} {
			f := find(d, path)
			if f == nil {
				t.Errorf("%q: %s: no diff", tc.value, path)
				continue
			}
			if f.Sensitive != tc.secret || tc.secret && (f.Old != diff.SensitiveValue || f.New != diff.SensitiveValue) {
				t.Errorf("%q: %s = %+v, want sensitive %v", tc.value, path, f, tc.secret)
			}
		}
	}
}

// A template that stops being env=true rendered secrets before: both sides
// stay masked.
func TestSecretOnEitherSideMasksBoth(t *testing.T) {
	d := update(t, func(j *jobspec.Job) {
		task(j).Templates = []jobspec.Template{{Destination: "local/x", Env: true, Data: "A=hunter2"}}
	}, func(j *jobspec.Job) {
		task(j).Templates[0].Env = false
		task(j).Templates[0].Data = "A=b"
	})
	f := find(d, "template[local/x].data")
	if f == nil || !f.Sensitive || f.Old != diff.SensitiveValue || f.New != diff.SensitiveValue {
		t.Errorf("field = %+v", f)
	}
}
