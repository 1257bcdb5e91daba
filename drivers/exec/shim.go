package exec

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ShimArg is the hidden first argument that makes the drover binary run
// ShimMain instead of its CLI. cmd/drover's main must check it before
// anything else:
//
//	if len(os.Args) > 1 && os.Args[1] == exec.ShimArg {
//		os.Exit(exec.ShimMain(os.Args[2:]))
//	}
const ShimArg = "__exec-shim"

// Why a shim: the task must outlive the agent (upgrades, crashes) with its
// logs still rotating and its exit still recorded. So the agent does not
// own the task; it starts this small supervisor in a new session, and the
// supervisor owns the task: it starts it in its own session and process
// group (and cgroup), copies stdout and stderr into rotated files, reaps it
// (and, as a child subreaper, whatever it orphans), kills what is left of
// its process group when it exits, and writes the exit status to a file
// before exiting itself. A restarted agent finds both processes again by
// pid and start time. This is Nomad's executor and logmon in one process,
// talking to the agent through files instead of gRPC.
//
// Protocol: the agent writes a shimSpec as JSON to the shim's stdin and
// closes it; the shim answers once on fd 3 with a shimStarted as JSON and
// closes it; at the end it writes a shimStatus to spec.StatusPath. The
// shim's own stdout and stderr are its log file.

// shimSpec is what the shim needs to start the task.
type shimSpec struct {
	Path string   `json:"path"` // resolved executable
	Argv []string `json:"argv"` // argv[0] is the command as written
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`

	Credential *shimCredential `json:"credential,omitempty"`
	// Cgroup is the task's cgroup v2 directory, CgroupV1 its cgroup v1
	// directories (memory, cpu).
	Cgroup   string   `json:"cgroup,omitempty"`
	CgroupV1 []string `json:"cgroup_v1,omitempty"`
	// CgroupV1Mounts are the hierarchies' mounts, parallel to CgroupV1:
	// the thread that forks the task enters CgroupV1 and returns to its
	// own cgroups under them after.
	CgroupV1Mounts []string `json:"cgroup_v1_mounts,omitempty"`
	// Chroot, when set, isolates the task (see Isolation): the agent
	// started the shim in new mount, PID, IPC and UTS namespaces, and the
	// shim builds the task's root before it starts the task there. Path
	// and Dir are then paths inside that root.
	Chroot *chrootSpec `json:"chroot,omitempty"`

	// Logs: <LogDir>/<LogName>.stdout.N and .stderr.N.
	LogDir      string `json:"log_dir"`
	LogName     string `json:"log_name"`
	LogMaxFiles int    `json:"log_max_files"`
	LogMaxBytes int64  `json:"log_max_bytes"`
	LogDisabled bool   `json:"log_disabled,omitempty"`

	StatusPath string `json:"status_path"`
}

type shimCredential struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// shimStarted is the shim's one answer on fd 3.
type shimStarted struct {
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	Error     string `json:"error,omitempty"`
}

// shimStatus is the task's recorded end. A signalled task has ExitCode
// 128+signal, as a shell would report it.
type shimStatus struct {
	ExitCode  int       `json:"exit_code"`
	Signal    int       `json:"signal,omitempty"`
	OOMKilled bool      `json:"oom_killed,omitempty"`
	ExitedAt  time.Time `json:"exited_at"`
}

// ShimMain runs the exec shim and returns its exit code. args are ignored
// (everything arrives on stdin) and exist so the hook stays stable if
// flags are added.
func ShimMain(args []string) int {
	_ = args
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "exec-shim", "pid", os.Getpid())
	// fd 3 was inherited without close-on-exec; the task must not get it.
	syscall.CloseOnExec(3)
	report := os.NewFile(3, "shim-report")
	answer := func(s shimStarted) {
		if report == nil {
			return
		}
		if err := json.NewEncoder(report).Encode(s); err != nil {
			log.Error("report to agent", "err", err)
		}
		report.Close()
		report = nil
	}
	defer answer(shimStarted{Error: "exec shim exited before starting the task"})

	var spec shimSpec
	if err := json.NewDecoder(os.Stdin).Decode(&spec); err != nil {
		answer(shimStarted{Error: fmt.Sprintf("exec shim: read spec: %v", err)})
		return 1
	}
	os.Stdin.Close()
	log = log.With("status", spec.StatusPath)

	st, err := runTask(log, &spec, answer)
	if err != nil {
		log.Error("task failed to start", "err", err)
		answer(shimStarted{Error: err.Error()})
		return 1
	}
	if err := writeStatus(spec.StatusPath, st); err != nil {
		log.Error("record exit status", "err", err)
		return 1
	}
	log.Info("task exited", "exit_code", st.ExitCode, "signal", st.Signal, "oom_killed", st.OOMKilled)
	return 0
}

// writeStatus writes atomically: a reader sees no file or a whole one.
func writeStatus(path string, st shimStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".exec-status-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readStatus(path string) (shimStatus, error) {
	var st shimStatus
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("parse %s: %w", path, err)
	}
	return st, nil
}
