// Package api is Drover's HTTP API as Go: the wire types that the server's
// handlers and every client share, and the client that the CLI and the
// agents use. Everything is JSON under /v1/.
//
// Reads accept blocking-query parameters like Nomad and Consul: with
// ?index=N&wait=30s the server answers once its index for the data passes
// N, or when the wait is over. Every response carries X-Drover-Index.
package api
