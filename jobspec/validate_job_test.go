package jobspec_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/jobspec"
)

func validJob() *jobspec.Job {
	return &jobspec.Job{
		ID: "web", Type: jobspec.JobTypeService, Priority: 50, Datacenters: []string{"*"},
		Groups: []*jobspec.Group{{
			Name: "web", Count: 2,
			Tasks: []*jobspec.Task{{Name: "server", Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64}}},
		}},
	}
}

func TestValidateJob(t *testing.T) {
	if errs := jobspec.ValidateJob(validJob()); len(errs) != 0 {
		t.Fatalf("valid job: %v", errs)
	}
	cases := []struct {
		name string
		edit func(j *jobspec.Job)
		want []string
	}{
		{"no id", func(j *jobspec.Job) { j.ID = "" }, []string{"job.id: is required"}},
		{"space in id", func(j *jobspec.Job) { j.ID = "a b" }, []string{"job.id: \"a b\" contains whitespace"}},
		{"bad type", func(j *jobspec.Job) { j.Type = "cron" }, []string{"job.type"}},
		{"no groups", func(j *jobspec.Job) { j.Groups = nil }, []string{"job.groups: at least one group"}},
		{"no datacenters", func(j *jobspec.Job) { j.Datacenters = nil }, []string{"job.datacenters"}},
		{"null group", func(j *jobspec.Job) { j.Groups = append(j.Groups, nil) }, []string{"job.group[1]: is null"}},
		{"no tasks", func(j *jobspec.Job) { j.Groups[0].Tasks = nil }, []string{`job.group["web"].tasks: at least one task`}},
		{"duplicate group", func(j *jobspec.Job) { j.Groups = append(j.Groups, j.Groups[0]) }, []string{`job.group["web"].name: "web" is used by another group`}},
		{"duplicate task", func(j *jobspec.Job) { j.Groups[0].Tasks = append(j.Groups[0].Tasks, j.Groups[0].Tasks[0]) }, []string{`task["server"].name: "server" is used by another task`}},
		{"negative count", func(j *jobspec.Job) { j.Groups[0].Count = -1 }, []string{`job.group["web"].count: is -1`}},
		{"driver", func(j *jobspec.Job) { j.Groups[0].Tasks[0].Driver = "podman" }, []string{`job.group["web"].task["server"].driver: "podman" is not supported; use one of docker, exec, qemu, raw_exec`}},
		{"resources", func(j *jobspec.Job) { j.Groups[0].Tasks[0].Resources = jobspec.Resources{} }, []string{"resources.cpu: is 0 MHz", "resources.memory: is 0 MB"}},
		{"unnamed task", func(j *jobspec.Job) { j.Groups[0].Tasks[0].Name = "" }, []string{`job.group["web"].task[0].name: is required`}},
		{"duplicate port", func(j *jobspec.Job) {
			j.Groups[0].Networks = []jobspec.Network{{Ports: []jobspec.Port{{Label: "http"}, {Label: "http", Static: 70000}}}}
		}, []string{`network[0].port[1].label: "http" is used`, "port[1].static: 70000 is not a port number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := validJob()
			tc.edit(j)
			errs := jobspec.ValidateJob(j)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			all := strings.Join(msgs, "\n")
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(errs), len(tc.want), all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no error contains %q:\n%s", w, all)
				}
			}
		})
	}
	if errs := jobspec.ValidateJob(nil); len(errs) != 1 {
		t.Fatalf("nil job: %v", errs)
	}
}

// The issue 15 fields of a JSON job are checked by the parser's rules,
// paths first: they are joined under task directories on the node.
func TestValidateJobIssue15(t *testing.T) {
	cases := []struct {
		name string
		edit func(j *jobspec.Job)
		want string
	}{
		{"node pool", func(j *jobspec.Job) { j.NodePool = "a/b" }, "job.node_pool"},
		{"payload", func(j *jobspec.Job) { j.Payload = make([]byte, 16<<10+1) }, "job.payload"},
		{"csi volume", func(j *jobspec.Job) {
			j.Groups[0].Volumes = map[string]*jobspec.VolumeRequest{"v": {Name: "v", Type: "csi", Source: "x"}}
		}, `volume["v"].type`},
		{"mount escapes", func(j *jobspec.Job) {
			j.Groups[0].Volumes = map[string]*jobspec.VolumeRequest{"v": {Name: "v", Type: "host", Source: "x"}}
			j.Groups[0].Tasks[0].VolumeMounts = []jobspec.VolumeMount{{Volume: "v", Destination: "../../etc"}}
		}, "volume_mount[0].destination"},
		{"mount of unknown volume", func(j *jobspec.Job) {
			j.Groups[0].Tasks[0].VolumeMounts = []jobspec.VolumeMount{{Volume: "v", Destination: "/d"}}
		}, "volume_mount[0].volume"},
		{"payload file escapes", func(j *jobspec.Job) {
			j.Groups[0].Tasks[0].DispatchPayload = &jobspec.DispatchPayload{File: "../secrets/x"}
		}, "dispatch_payload.file"},
		{"payload file absolute", func(j *jobspec.Job) {
			j.Groups[0].Tasks[0].DispatchPayload = &jobspec.DispatchPayload{File: "/etc/passwd"}
		}, "dispatch_payload.file"},
		{"scaling", func(j *jobspec.Job) { j.Groups[0].Scaling = &jobspec.Scaling{Min: 3, Max: 5} }, "outside the scaling bounds"},
		{"reconcile", func(j *jobspec.Job) { j.Groups[0].Disconnect = &jobspec.Disconnect{Reconcile: "newest"} }, "disconnect.reconcile"},
		{"identity name", func(j *jobspec.Job) {
			j.Groups[0].Tasks[0].Identities = []jobspec.WorkloadIdentity{{Name: "../x"}}
		}, "identity[0].name"},
		{"max_run_duration in service", func(j *jobspec.Job) { j.Groups[0].MaxRunDuration = 1 }, "max_run_duration"},
		{"action without command", func(j *jobspec.Job) { j.Groups[0].Tasks[0].Actions = []jobspec.Action{{Name: "a"}} }, "action[0].command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := validJob()
			tc.edit(j)
			var got []string
			for _, e := range jobspec.ValidateJob(j) {
				got = append(got, e.Error())
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("want %q in %q", tc.want, got)
			}
		})
	}
	j := validJob()
	j.Groups[0].Volumes = map[string]*jobspec.VolumeRequest{"v": {Name: "v", Type: "host", Source: "x"}}
	j.Groups[0].Tasks[0].VolumeMounts = []jobspec.VolumeMount{{Volume: "v", Destination: "/d"}}
	j.Groups[0].Tasks[0].Identities = []jobspec.WorkloadIdentity{{Name: "default", Env: true}}
	if errs := jobspec.ValidateJob(j); len(errs) != 0 {
		t.Errorf("valid job: %v", errs)
	}
}
