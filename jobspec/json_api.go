package jobspec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Nomad's API job format: {"Job": {...}} as `nomad job run -json` takes
// and `nomad job inspect` prints, in JSON (*.job.json) or YAML
// (*.job.yaml, *.job.yml). Both are read into a positioned tree (apiNode)
// and decoded by reflection straight into the model, whose JSON names are
// Nomad's API names in snake_case; apiNames lists where Nomad's names
// differ. Durations are nanoseconds, as in Nomad.
//
// Fields Nomad's API has and Drover does not model are accepted when they
// hold their zero value (null, "", 0, false, [] or {}), as inspect prints
// them, and refused with a positioned error otherwise, so that no setting
// is silently lost. Server-set fields (Status, Version, indexes, ...) are
// ignored.

// IsAPIJob says whether filename holds a job in Nomad's API format.
func IsAPIJob(filename string) bool {
	return strings.HasSuffix(filename, ".job.json") || IsAPIJobYAML(filename)
}

// IsAPIJobYAML says whether filename is the YAML rendering of the API
// format.
func IsAPIJobYAML(filename string) bool {
	return strings.HasSuffix(filename, ".job.yaml") || strings.HasSuffix(filename, ".job.yml")
}

// IsJobFile says whether filename is a job file in any syntax Drover reads.
func IsJobFile(filename string) bool {
	return strings.HasSuffix(filename, ".hcl") || strings.HasSuffix(filename, ".nomad") ||
		IsHCLJSON(filename) || IsAPIJob(filename)
}

// apiNames maps "Type.json_name" to Nomad's API name where it is not the
// json name in PascalCase.
var apiNames = map[string]string{
	"Job.groups":                    "TaskGroups",
	"Job.parameterized":             "ParameterizedJob",
	"Periodic.crons":                "Specs",
	"Constraint.attribute":          "LTarget",
	"Constraint.operator":           "Operand",
	"Constraint.value":              "RTarget",
	"Affinity.attribute":            "LTarget",
	"Affinity.operator":             "Operand",
	"Affinity.value":                "RTarget",
	"Spread.targets":                "SpreadTarget",
	"Group.reschedule":              "ReschedulePolicy",
	"Task.restart":                  "RestartPolicy",
	"Task.logs":                     "LogConfig",
	"Service.port":                  "PortLabel",
	"Service.task":                  "TaskName",
	"Check.port":                    "PortLabel",
	"Check.task":                    "TaskName",
	"Template.source":               "SourcePath",
	"Template.destination":          "DestPath",
	"Template.data":                 "EmbeddedTmpl",
	"Template.env":                  "Envvars",
	"Template.left_delimiter":       "LeftDelim",
	"Template.right_delimiter":      "RightDelim",
	"Template.error_on_missing_key": "ErrMissingKey",
	"Port.static":                   "Value",
}

// apiIgnored are fields Nomad's servers set; a job read back from
// `nomad job inspect` carries them and they mean nothing to a job file.
var apiIgnored = map[string]bool{
	"Status": true, "StatusDescription": true, "Stable": true, "Version": true,
	"SubmitTime": true, "CreateIndex": true, "ModifyIndex": true, "JobModifyIndex": true,
	"Dispatched": true, "ParentID": true, "NomadTokenID": true, "Stop": true,
	"VersionTag": true, "DispatchIdempotencyToken": true,
}

// acronyms are spelled in capitals in Nomad's API names.
var acronyms = map[string]string{"id": "ID", "mb": "MB", "cpu": "CPU", "url": "URL", "ui": "UI", "ttl": "TTL", "uid": "UID", "gid": "GID", "mbits": "MBits"}

func pascal(snake string) string {
	var sb strings.Builder
	for _, w := range strings.Split(snake, "_") {
		if a, ok := acronyms[w]; ok {
			sb.WriteString(a)
		} else if w != "" {
			sb.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return sb.String()
}

type apiField struct {
	index     int
	api, json string
	omitEmpty bool
}

// apiFieldTable holds apiFields of every struct type of the model,
// computed once: reflection per object would dominate a load.
var apiFieldTable = func() map[reflect.Type][]apiField {
	m := map[reflect.Type][]apiField{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			if _, done := m[t]; done {
				return
			}
			fs := computeAPIFields(t)
			m[t] = fs
			for _, f := range fs {
				walk(t.Field(f.index).Type)
			}
		}
	}
	walk(reflect.TypeOf(Job{}))
	return m
}()

// apiFields lists a model struct's fields under their API names.
func apiFields(t reflect.Type) []apiField {
	if fs, ok := apiFieldTable[t]; ok {
		return fs
	}
	return computeAPIFields(t)
}

func computeAPIFields(t reflect.Type) []apiField {
	var out []apiField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		api := apiNames[t.Name()+"."+name]
		if api == "" {
			api = pascal(name)
		}
		out = append(out, apiField{index: i, api: api, json: name, omitEmpty: strings.Contains(opts, "omitempty")})
	}
	return out
}

// apiNode is one value of an API job file with its position.
type apiNode struct {
	kind  byte // 'o'bject, 'a'rray, 's'tring, 'n'umber, 'b'ool, 'z' null
	rng   hcl.Range
	keys  []apiKey
	items []*apiNode
	str   string // string value, or a number's text
	b     bool
}

type apiKey struct {
	name string
	rng  hcl.Range
	val  *apiNode
}

func (n *apiNode) zero() bool {
	switch n.kind {
	case 'z':
		return true
	case 's':
		return n.str == ""
	case 'n':
		f, err := strconv.ParseFloat(n.str, 64)
		return err == nil && f == 0
	case 'b':
		return !n.b
	case 'a':
		return len(n.items) == 0
	case 'o':
		return len(n.keys) == 0
	}
	return false
}

func (n *apiNode) what() string {
	return map[byte]string{'o': "an object", 'a': "an array", 's': "a string", 'n': "a number", 'b': "a boolean", 'z': "null"}[n.kind]
}

// ParseAPIJob reads a job in Nomad's API format, JSON or YAML by its
// name, into the model and validates it. Errors carry file:line:col.
func ParseAPIJob(filename string, src []byte) (*File, hcl.Diagnostics) {
	return parseAPIJob(filename, src, nil)
}

func parseAPIJob(filename string, src []byte, opts *ParseOptions) (*File, hcl.Diagnostics) {
	if diags := checkInput(filename, src); diags.HasErrors() {
		return nil, diags
	}
	var root *apiNode
	var diags hcl.Diagnostics
	if IsAPIJobYAML(filename) {
		root, diags = yamlTree(filename, src)
	} else {
		root, diags = jsonTree(filename, src)
	}
	if diags.HasErrors() {
		return nil, finishDiags(diags)
	}
	var check ConfigChecker
	if opts != nil {
		check = opts.CheckConfig
	}
	return decodeAPIRoot(filename, root, check)
}

func decodeAPIRoot(filename string, root *apiNode, check ConfigChecker) (*File, hcl.Diagnostics) {
	var jobNode *apiNode
	var jobKey hcl.Range
	if root.kind == 'o' {
		for _, k := range root.keys {
			if k.name == "Job" || strings.EqualFold(k.name, "job") {
				jobNode, jobKey = k.val, k.rng
			} else {
				return nil, hcl.Diagnostics{apiDiag(k.rng, "Unexpected top-level key", fmt.Sprintf("An API job file holds one object, {\"Job\": {...}}; %q is not expected.", k.name))}
			}
		}
	}
	if jobNode == nil {
		return nil, hcl.Diagnostics{apiDiag(root.rng, "Missing Job", `An API job file holds {"Job": {...}}, as "nomad job inspect" prints it. For HCL's JSON syntax, name the file *.nomad.json.`)}
	}
	d := &apiDecoder{}
	job := &Job{}
	d.value(jobNode, reflect.ValueOf(job).Elem(), "Job")
	if d.diags.HasErrors() {
		return nil, finishDiags(d.diags)
	}
	applyAPIDefaults(job, jobNode)
	if check != nil {
		d.checkConfigs(job, jobNode, check)
	}
	for _, err := range ValidateJob(job) {
		d.diags = append(d.diags, apiDiag(jobKey, "Invalid job", err.Error()))
	}
	if d.diags.HasErrors() {
		return nil, finishDiags(d.diags)
	}
	return &File{Path: filename, Job: job, JobRange: jobKey}, nil
}

// applyAPIDefaults fills what Nomad's Canonicalize fills for a job given
// through the API without it.
func applyAPIDefaults(j *Job, n *apiNode) {
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Region == "" {
		j.Region = "global"
	}
	if j.Namespace == "" {
		j.Namespace = "default"
	}
	if j.Priority == 0 {
		j.Priority = 50
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	groups := n.get("TaskGroups")
	for i, g := range j.Groups {
		var gn *apiNode
		if groups != nil && i < len(groups.items) {
			gn = groups.items[i]
		}
		if gn == nil || gn.get("Count") == nil {
			g.Count = 1
		}
		// What the HCL decoder fills (decode_group.go, decode_task.go),
		// so that the rest of Drover meets the same complete model.
		if g.Update == nil && hasDeployments(j.Type) {
			u := defaultUpdate()
			if j.Update != nil {
				u = *j.Update
			}
			g.Update = &u
		}
		if g.Reschedule == nil {
			g.Reschedule = defaultReschedule(j.Type)
		}
		if g.Migrate == nil && j.Type == JobTypeService {
			m := defaultMigrate()
			g.Migrate = &m
		}
		if g.EphemeralDisk == nil {
			d := defaultDisk()
			g.EphemeralDisk = &d
		}
		for k := range g.Networks {
			if g.Networks[k].Mode == "" {
				g.Networks[k].Mode = defaultNetworkMode
			}
		}
		var tasks *apiNode
		if gn != nil {
			tasks = gn.get("Tasks")
		}
		for ti, t := range g.Tasks {
			var tn *apiNode
			if tasks != nil && ti < len(tasks.items) {
				tn = tasks.items[ti]
			}
			if t.Restart == nil {
				r := defaultRestart(j.Type)
				t.Restart = &r
			}
			if t.Resources.CPU == 0 && t.Resources.Cores == 0 {
				t.Resources.CPU = defaultResources().CPU
			}
			if t.Resources.MemoryMB == 0 {
				t.Resources.MemoryMB = defaultResources().MemoryMB
			}
			if t.Logs.MaxFiles == 0 && t.Logs.MaxFileSizeMB == 0 {
				t.Logs = Logs{MaxFiles: defaultLogs().MaxFiles, MaxFileSizeMB: defaultLogs().MaxFileSizeMB, Disabled: t.Logs.Disabled}
			}
			if tn == nil || tn.get("KillTimeout") == nil {
				t.KillTimeout = defaultKillTimeout
			}
			def := defaultTemplate()
			for k := range t.Templates {
				tp := &t.Templates[k]
				if tp.ChangeMode == "" {
					tp.ChangeMode = def.ChangeMode
				}
				if tp.Perms == "" {
					tp.Perms = def.Perms
				}
				if tp.LeftDelim == "" {
					tp.LeftDelim = def.LeftDelim
				}
				if tp.RightDelim == "" {
					tp.RightDelim = def.RightDelim
				}
			}
		}
	}
}

// checkConfigs checks each task's Config against its driver's schema, as
// the HCL decoder does, with each problem at the key it names.
func (d *apiDecoder) checkConfigs(j *Job, jobNode *apiNode, check ConfigChecker) {
	groups := jobNode.get("TaskGroups")
	for gi, g := range j.Groups {
		var tasks *apiNode
		if groups != nil && gi < len(groups.items) {
			tasks = groups.items[gi].get("Tasks")
		}
		for ti, t := range g.Tasks {
			var cfg *apiNode
			if tasks != nil && ti < len(tasks.items) {
				cfg = tasks.items[ti].get("Config")
			}
			for _, p := range check(t.Driver, t.Config) {
				rng := jobNode.rng
				if cfg != nil {
					rng = cfg.rng
					first := p.Path
					if i := strings.IndexAny(first, ".["); i >= 0 {
						first = first[:i]
					}
					for _, k := range cfg.keys {
						if k.name == first {
							rng = k.rng
						}
					}
				}
				detail := p.Msg
				if p.Path != "" {
					detail = p.Path + ": " + p.Msg
				}
				d.diags = append(d.diags, apiDiag(rng, fmt.Sprintf("Invalid %s config", t.Driver), detail))
			}
		}
	}
}

func (n *apiNode) get(name string) *apiNode {
	if n == nil {
		return nil
	}
	for _, k := range n.keys {
		if strings.EqualFold(k.name, name) {
			return k.val
		}
	}
	return nil
}

func apiDiag(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

type apiDecoder struct {
	diags hcl.Diagnostics
}

func (d *apiDecoder) fail(n *apiNode, path, want string) {
	d.diags = append(d.diags, apiDiag(n.rng, "Incorrect value type", fmt.Sprintf("%s must be %s, not %s.", path, want, n.what())))
}

var durationType = reflect.TypeOf(time.Duration(0))

func (d *apiDecoder) value(n *apiNode, v reflect.Value, path string) {
	t := v.Type()
	if n.kind == 'z' {
		return // null leaves the zero value, as encoding/json does
	}
	switch {
	case t == durationType:
		switch n.kind {
		case 'n':
			i, err := strconv.ParseInt(n.str, 10, 64)
			if err != nil {
				d.fail(n, path, "a whole number of nanoseconds")
				return
			}
			v.SetInt(i)
		case 's':
			dur, err := time.ParseDuration(n.str)
			if err != nil {
				d.diags = append(d.diags, apiDiag(n.rng, "Invalid duration", fmt.Sprintf("%s: %v; give nanoseconds (as Nomad's API) or a duration such as \"30s\".", path, err)))
				return
			}
			v.SetInt(int64(dur))
		default:
			d.fail(n, path, "a duration in nanoseconds")
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		if n.kind != 's' {
			d.fail(n, path, "a string")
			return
		}
		v.SetString(n.str)
	case reflect.Bool:
		if n.kind != 'b' {
			d.fail(n, path, "true or false")
			return
		}
		v.SetBool(n.b)
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint8:
		i, err := strconv.ParseInt(n.str, 10, 64)
		if n.kind != 'n' || err != nil || v.OverflowInt(i) {
			d.fail(n, path, "a whole number in range")
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.str, 64)
		if n.kind != 'n' || err != nil {
			d.fail(n, path, "a number")
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // Payload: base64, as encoding/json
			b, err := base64.StdEncoding.DecodeString(n.str)
			if n.kind != 's' || err != nil {
				d.fail(n, path, "a base64 string")
				return
			}
			v.SetBytes(b)
			return
		}
		if n.kind != 'a' {
			d.fail(n, path, "an array")
			return
		}
		s := reflect.MakeSlice(t, len(n.items), len(n.items))
		for i, it := range n.items {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			if it.kind == 'z' && t.Elem().Kind() == reflect.Pointer {
				d.fail(it, ipath, "an object") // the model holds no nil elements
				continue
			}
			d.value(it, s.Index(i), ipath)
		}
		v.Set(s)
	case reflect.Map:
		if n.kind != 'o' {
			d.fail(n, path, "an object")
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.keys))
		for _, k := range n.keys {
			e := reflect.New(t.Elem()).Elem()
			if k.val.kind == 'z' && t.Elem().Kind() == reflect.Pointer {
				d.fail(k.val, path+"."+k.name, "an object")
				continue
			}
			d.value(k.val, e, path+"."+k.name)
			m.SetMapIndex(reflect.ValueOf(k.name).Convert(t.Key()), e)
		}
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf(n.plain()))
	case reflect.Struct:
		d.object(n, v, path)
	default:
		d.fail(n, path, "a supported value")
	}
}

// plain is the node as encoding/json would decode it into an any.
func (n *apiNode) plain() any {
	switch n.kind {
	case 's':
		return n.str
	case 'n':
		f, _ := strconv.ParseFloat(n.str, 64)
		return f
	case 'b':
		return n.b
	case 'a':
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = it.plain()
		}
		return out
	case 'o':
		out := make(map[string]any, len(n.keys))
		for _, k := range n.keys {
			out[k.name] = k.val.plain()
		}
		return out
	}
	return nil
}

func (d *apiDecoder) object(n *apiNode, v reflect.Value, path string) {
	if n.kind != 'o' {
		d.fail(n, path, "an object")
		return
	}
	t := v.Type()
	fields := apiFields(t)
	for _, k := range n.keys {
		kpath := path + "." + k.name
		if t.Name() == "Network" && (strings.EqualFold(k.name, "ReservedPorts") || strings.EqualFold(k.name, "DynamicPorts")) {
			var ports []Port
			d.value(k.val, reflect.ValueOf(&ports).Elem(), kpath)
			v.FieldByName("Ports").Set(reflect.AppendSlice(v.FieldByName("Ports"), reflect.ValueOf(ports)))
			continue
		}
		if t.Name() == "Periodic" && strings.EqualFold(k.name, "Spec") && k.val.kind == 's' {
			if k.val.str != "" {
				v.FieldByName("Crons").Set(reflect.Append(v.FieldByName("Crons"), reflect.ValueOf(k.val.str)))
			}
			continue
		}
		if t.Name() == "Group" && strings.EqualFold(k.name, "RestartPolicy") {
			continue // applied to the tasks below
		}
		f, ok := findField(fields, k.name)
		if !ok {
			if apiIgnored[k.name] || k.val.zero() || (t.Name() == "Periodic" && k.name == "SpecType") {
				continue
			}
			d.diags = append(d.diags, apiDiag(k.rng, "Unsupported field",
				fmt.Sprintf("%s is not a field Drover supports in %s.%s", kpath, t.Name(), suggestAPI(k.name, fields))))
			continue
		}
		d.value(k.val, v.Field(f.index), kpath)
	}
	if t.Name() == "Group" {
		if rp := n.get("RestartPolicy"); rp != nil && rp.kind == 'o' {
			g := v.Addr().Interface().(*Group)
			for _, task := range g.Tasks {
				if task != nil && task.Restart == nil {
					d.value(rp, reflect.ValueOf(&task.Restart).Elem(), path+".RestartPolicy")
				}
			}
		}
	}
}

func findField(fields []apiField, name string) (apiField, bool) {
	for _, f := range fields {
		if f.api == name {
			return f, true
		}
	}
	// Nomad decodes its API with encoding/json, which matches names
	// without regard to case.
	for _, f := range fields {
		if strings.EqualFold(f.api, name) {
			return f, true
		}
	}
	return apiField{}, false
}

func suggestAPI(name string, fields []apiField) string {
	m := map[string]bool{}
	for _, f := range fields {
		m[f.api] = true
	}
	if s := suggest(name, m); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return " Drover reads the fields of Nomad's API that its job model has; remove it, or write the job in HCL to see the supported blocks."
}

// APIJob is a job in Nomad's API shape, ready to encode as JSON (or YAML
// through JSON): {"Job": {...}}.
func APIJob(j *Job) map[string]any {
	return map[string]any{"Job": apiValue(reflect.ValueOf(j))}
}

// MarshalAPIJSON renders j as `nomad job inspect` does: indented JSON.
func MarshalAPIJSON(j *Job) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(APIJob(j)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func apiValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Interface {
			return v.Interface()
		}
		return apiValue(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for _, f := range apiFields(t) {
			fv := v.Field(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			if t.Name() == "Network" && f.json == "ports" {
				var reserved, dynamic []any
				for i := 0; i < fv.Len(); i++ {
					p := fv.Index(i)
					if p.FieldByName("Static").Int() != 0 {
						reserved = append(reserved, apiValue(p))
					} else {
						dynamic = append(dynamic, apiValue(p))
					}
				}
				if reserved != nil {
					out["ReservedPorts"] = reserved
				}
				if dynamic != nil {
					out["DynamicPorts"] = dynamic
				}
				continue
			}
			out[f.api] = apiValue(fv)
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = apiValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = apiValue(it.Value())
		}
		return out
	}
	return v.Interface()
}

// checkDataNesting refuses API JSON nested deeper than MaxNesting
// (brackets outside strings). YAML's parser has its own depth limit and
// the tree it yields is bounded in yamlConv.
func checkDataNesting(filename string, src []byte) hcl.Diagnostics {
	if IsAPIJobYAML(filename) {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for i, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > MaxNesting {
				p := posAt(src, i)
				return hcl.Diagnostics{apiDiag(hcl.Range{Filename: filename, Start: p, End: p}, "Nesting too deep",
					fmt.Sprintf("Objects and arrays nest more than %d levels deep here.", MaxNesting))}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
