package repo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// errNotRegular is returned, wrapped, for a path that is not a regular
// file.
var errNotRegular = errors.New("not a regular file")

// readRegular reads a regular file whole, refusing one larger than
// MaxFileSize with an error wrapping ErrTooLarge. It bypasses os.File:
// each file is read once, whole, and the runtime poller's registration
// attempt, the descriptor mode changes and the finalizer cost a third of
// reading a small file where system calls are dear (a VM). O_NONBLOCK
// makes a FIFO put in the file's place fail the type check instead of
// blocking the open.
func readRegular(name string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		// A FIFO or device would block or never end.
		return nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	return readLimited(rawFile{fd, name}, st.Size, name)
}

// rawFile is an io.Reader over a descriptor that is not in the poller.
type rawFile struct {
	fd   int
	name string
}

func (f rawFile) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}
