// Package github talks to GitHub (and GitHub Enterprise Server) for
// Drover: it upserts the one pull-request comment that holds a plan,
// found again by a hidden marker, and sets commit statuses.
//
// Every call has its own timeout; primary and secondary rate limits are
// respected (X-RateLimit-Reset, Retry-After, exponential backoff for 5xx
// and network errors), and errors never carry the token. Callers that
// must not be blocked by GitHub (deploys) run these calls in the
// background and only log failures.
//
// Tests use the fake GitHub in package githubtest.
package github
