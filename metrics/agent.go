package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Agent is the metric set of one client agent.
type Agent struct {
	registry

	restarts    *prometheus.CounterVec
	driverStart *prometheus.HistogramVec
}

// TaskView is one task the agent runs, read at scrape time.
type TaskView struct {
	AllocID, Namespace, Job, Task, Driver string
	State                                 string
	// Usage is nil when the driver reports no resource usage or the task
	// is not running.
	Usage *TaskUsage
}

// TaskUsage is a task's resource use from its driver.
type TaskUsage struct {
	MemoryRSSBytes uint64
	CPUUser        time.Duration
	CPUSystem      time.Duration
}

// NewAgent returns an agent's metric set on a registry of its own.
// tasks, when not nil, is read at every scrape for the task gauges; it
// must bound its own time (a driver's stats call).
func NewAgent(tasks func() []TaskView) *Agent {
	a := &Agent{registry: newRegistry()}
	a.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_client_task_restarts_total",
		Help: "Task restarts by this agent after a task exited or failed, by driver.",
	}, []string{"driver"})
	a.driverStart = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_client_driver_start_duration_seconds",
		Help:    "Time a driver took to start a task, by driver and result (ok, error).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"driver", "result"})
	a.reg.MustRegister(a.restarts, a.driverStart)
	if tasks != nil {
		a.reg.MustRegister(&taskCollector{tasks: tasks})
	}
	return a
}

// TaskRestarted counts one restart of a task run by driver.
func (a *Agent) TaskRestarted(driver string) {
	if a == nil {
		return
	}
	a.restarts.WithLabelValues(driver).Inc()
}

// DriverStarted records how long driver took to start a task.
func (a *Agent) DriverStarted(driver string, d time.Duration, err error) {
	if a == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	a.driverStart.WithLabelValues(driver, result).Observe(seconds(d))
}

var (
	tasksDesc = prometheus.NewDesc("drover_client_tasks",
		"Tasks of the allocations on this agent, by driver and state (pending, running, dead).", []string{"driver", "state"}, nil)
	memDesc = prometheus.NewDesc("drover_client_allocation_memory_rss_bytes",
		"Resident memory of an allocation's running tasks, from the driver (exec, raw_exec: cgroup or /proc; docker: the container's anonymous memory, from the Engine's stats API; qemu: the QEMU process with the guest RAM it touched).",
		[]string{"alloc_id", "namespace", "job"}, nil)
	cpuDesc = prometheus.NewDesc("drover_client_allocation_cpu_seconds_total",
		"CPU time of an allocation's running tasks since they started, by mode (user, system), from the driver.",
		[]string{"alloc_id", "namespace", "job", "mode"}, nil)
)

type taskCollector struct{ tasks func() []TaskView }

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- memDesc
	ch <- cpuDesc
}

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ driver, state string }
	type allocKey struct{ id, ns, job string }
	states := map[key]int{}
	usage := map[allocKey]*TaskUsage{}
	var order []allocKey
	for _, t := range c.tasks() {
		states[key{t.Driver, t.State}]++
		if t.Usage == nil {
			continue
		}
		k := allocKey{t.AllocID, t.Namespace, t.Job}
		u := usage[k]
		if u == nil {
			u = &TaskUsage{}
			usage[k] = u
			order = append(order, k)
		}
		u.MemoryRSSBytes += t.Usage.MemoryRSSBytes
		u.CPUUser += t.Usage.CPUUser
		u.CPUSystem += t.Usage.CPUSystem
	}
	for k, n := range states {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k.driver, k.state)
	}
	for _, k := range order {
		u := usage[k]
		ch <- prometheus.MustNewConstMetric(memDesc, prometheus.GaugeValue, float64(u.MemoryRSSBytes), k.id, k.ns, k.job)
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, u.CPUUser.Seconds(), k.id, k.ns, k.job, "user")
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, u.CPUSystem.Seconds(), k.id, k.ns, k.job, "system")
	}
}
