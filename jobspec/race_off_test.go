//go:build !race

package jobspec

const slowdown = 1
