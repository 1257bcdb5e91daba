//go:build !linux

package fingerprint

func kernelRelease() string  { return "" }
func diskFree(string) uint64 { return 0 }
