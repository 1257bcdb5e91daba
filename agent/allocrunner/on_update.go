package allocrunner

import "errors"

// A check's on_update says how its status counts for deployment health
// (Nomad's service and check on_update): require_healthy (the default)
// needs it passing; ignore_warnings also accepts a warning; ignore never
// holds the allocation back, so a readiness-only check cannot stall or
// fail a deployment. The check still runs and its failures are still
// logged: only the deployment's verdict ignores it.
const (
	onUpdateRequireHealthy = "require_healthy"
	onUpdateIgnoreWarnings = "ignore_warnings"
	onUpdateIgnore         = "ignore"
)

// checkOnUpdate is a check's effective on_update: its own value, else its
// service's, else require_healthy (Nomad's api.Service.Canonicalize gives
// a check its service's value when it sets none). A value the parser let
// through but this code does not know counts as require_healthy: the
// strict reading, so an unknown word never makes a deployment laxer.
func checkOnUpdate(service, check string) string {
	v := check
	if v == "" {
		v = service
	}
	switch v {
	case onUpdateIgnoreWarnings, onUpdateIgnore:
		return v
	}
	return onUpdateRequireHealthy
}

// checkStatus is a check's result in Consul's three states.
type checkStatus int

const (
	checkCritical checkStatus = iota
	checkWarning
	checkPassing
)

func (s checkStatus) String() string {
	switch s {
	case checkPassing:
		return "passing"
	case checkWarning:
		return "warning"
	}
	return "critical"
}

// errCheckWarning marks a check result that is a warning, not a failure:
// a script check that exits 1, or an HTTP check answered 429 Too Many
// Requests (Consul's rules, which Nomad's checks follow).
var errCheckWarning = errors.New("warning")

// statusOf classifies one run's error.
func statusOf(err error) checkStatus {
	switch {
	case err == nil:
		return checkPassing
	case errors.Is(err, errCheckWarning):
		return checkWarning
	}
	return checkCritical
}

// healthyForDeployment reports whether a check in status st lets the
// allocation count as healthy for its deployment under onUpdate.
func healthyForDeployment(onUpdate string, st checkStatus) bool {
	switch onUpdate {
	case onUpdateIgnore:
		return true
	case onUpdateIgnoreWarnings:
		return st != checkCritical
	}
	return st == checkPassing
}
