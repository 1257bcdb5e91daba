package server

// workloadServiceRoutes are the catalog reads a task's workload identity
// may make in its own namespace without a policy, as in Nomad: what a
// template's nomadService and nomadServices watch. They stay read-job
// routes for ACL tokens (the route table, and the capabilities a token
// is told it holds, are unchanged); the list's handler lets the
// workload see its own namespace (services.go, mayReadServices).
var workloadServiceRoutes = map[string]bool{"GET /v1/service/{name}": true, "GET /v1/services": true}

// workloadRoute reports whether id, a workload identity, may use the
// route registered as pattern in namespace ns.
func workloadRoute(id *identity, pattern, ns string) bool {
	return id != nil && id.workload != nil && workloadServiceRoutes[pattern] && ns == id.workload.Namespace
}
