package jobspec

import "time"

// Nomad's defaults (nomad/structs), so that a job that omits a setting and
// one that spells out the default are the same job with the same hash.
// Functions rather than variables: every caller gets its own copy.

func defaultUpdate() UpdateStrategy {
	return UpdateStrategy{
		Stagger:          30 * time.Second,
		MaxParallel:      1,
		HealthCheck:      "checks",
		MinHealthyTime:   10 * time.Second,
		HealthyDeadline:  5 * time.Minute,
		ProgressDeadline: 10 * time.Minute,
	}
}

func defaultMigrate() Migrate {
	return Migrate{
		MaxParallel:     1,
		HealthCheck:     "checks",
		MinHealthyTime:  10 * time.Second,
		HealthyDeadline: 5 * time.Minute,
	}
}

func defaultRestart(t JobType) RestartPolicy {
	if t == JobTypeBatch || t == JobTypeSysBatch {
		return RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}
	}
	return RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
}

// defaultReschedule is nil for system and sysbatch jobs, which Nomad never
// reschedules.
func defaultReschedule(t JobType) *ReschedulePolicy {
	switch t {
	case JobTypeService:
		return &ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true}
	case JobTypeBatch:
		return &ReschedulePolicy{Attempts: 1, Interval: 24 * time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"}
	}
	return nil
}

func hasDeployments(t JobType) bool { return t == JobTypeService || t == JobTypeSystem }

func defaultResources() Resources { return Resources{CPU: 100, MemoryMB: 300} }

func defaultLogs() Logs { return Logs{MaxFiles: 10, MaxFileSizeMB: 10} }

func defaultDisk() EphemeralDisk { return EphemeralDisk{SizeMB: 300} }

func defaultTemplate() Template {
	return Template{ChangeMode: "restart", Perms: "0644", LeftDelim: "{{", RightDelim: "}}"}
}

const (
	defaultKillTimeout  = 5 * time.Second
	defaultPriority     = 50
	defaultWeight       = 50
	defaultNetworkMode  = "host"
	defaultServiceCheck = "service: %q check"
)
