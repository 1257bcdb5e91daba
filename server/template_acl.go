package server

// workloadServiceRoutes are the catalog reads a task's workload identity
// may make in its own namespace without a policy, as in Nomad: what a
// template's nomadService watches. The list of all services
// (nomadServices) filters by read-job in its handler and so still needs
// a policy.
var workloadServiceRoutes = map[string]bool{"GET /v1/service/{name}": true}

// workloadRoute reports whether id, a workload identity, may use the
// route registered as pattern in namespace ns.
func workloadRoute(id *identity, pattern, ns string) bool {
	return id != nil && id.workload != nil && workloadServiceRoutes[pattern] && ns == id.workload.Namespace
}
