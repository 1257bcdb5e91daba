//go:build !linux

package exec

import "syscall"

func signalProcess(int, uint64, syscall.Signal) (bool, error) { return false, errNotLinux }
