//go:build !linux

package exec

import (
	"context"

	"github.com/droverhq/drover/drivers"
)

func runExec(context.Context, *execSpec) (drivers.ExecResult, error) {
	return drivers.ExecResult{}, errNotLinux
}
