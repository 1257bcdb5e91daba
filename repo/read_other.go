//go:build !linux

package repo

import (
	"errors"
	"fmt"
	"os"
)

// errNotRegular is returned, wrapped, for a path that is not a regular
// file.
var errNotRegular = errors.New("not a regular file")

// readRegular reads a regular file whole, refusing one larger than
// MaxFileSize with an error wrapping ErrTooLarge.
func readRegular(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		// A FIFO or device would block or never end.
		return nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	return readLimited(fh, fi.Size(), name)
}
