//go:build race

package jobspec

// The race detector slows parsing several times over.
const slowdown = 8
