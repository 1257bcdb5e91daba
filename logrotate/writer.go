// Package logrotate writes a stream to size-rotated files named
// <name>.0, <name>.1, … in one directory, keeping at most a fixed number of
// them, and lists them in order for readers. It is the layout Nomad uses
// for alloc/logs, so `tail -F` users and tools that know it keep working.
package logrotate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Config says where and how much to keep.
type Config struct {
	Dir  string
	Name string // files are <Dir>/<Name>.<index>
	// MaxFiles is how many files to keep, counting the one being written.
	MaxFiles int
	// MaxFileSize is each file's size limit in bytes.
	MaxFileSize int64
}

func (c Config) validate() error {
	switch {
	case c.Dir == "" || c.Name == "":
		return errors.New("logrotate: Dir and Name are required")
	case c.MaxFiles < 1:
		return fmt.Errorf("logrotate: MaxFiles is %d; at least 1 is required", c.MaxFiles)
	case c.MaxFileSize < 1:
		return fmt.Errorf("logrotate: MaxFileSize is %d; at least 1 byte is required", c.MaxFileSize)
	}
	return nil
}

// Writer is an io.WriteCloser over the rotated files. Safe for concurrent
// use; each Write lands in order.
type Writer struct {
	cfg Config

	mu    sync.Mutex
	f     *os.File
	index int
	size  int64
}

// New opens the newest existing file to append to, so a restarted writer
// continues where the last one stopped, or creates <name>.0.
func New(cfg Config) (*Writer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	files, err := Files(cfg.Dir, cfg.Name)
	if err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg}
	if n := len(files); n > 0 {
		w.index, w.size = files[n-1].Index, files[n-1].Size
	}
	if err := w.open(os.O_APPEND); err != nil {
		return nil, err
	}
	return w, nil
}

// Write writes p, splitting it across files so none exceeds MaxFileSize.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, os.ErrClosed
	}
	written := 0
	for len(p) > 0 {
		if w.size >= w.cfg.MaxFileSize {
			if err := w.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p[:min(int64(len(p)), w.cfg.MaxFileSize-w.size)]
		n, err := w.f.Write(chunk)
		written += n
		w.size += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f = nil
	w.index++
	w.size = 0
	// O_TRUNC: a file with this index can only be a leftover of an
	// earlier generation of the directory.
	return w.open(os.O_TRUNC)
}

func (w *Writer) open(mode int) error {
	path := filepath.Join(w.cfg.Dir, fmt.Sprintf("%s.%d", w.cfg.Name, w.index))
	// O_NOFOLLOW: the directory is the task's too; a link planted in
	// place of a log file must not make the writer (root, in the
	// agent's shim) truncate or append to a host file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW|mode, 0o644)
	if err != nil {
		return fmt.Errorf("logrotate: %w", err)
	}
	w.f = f
	return w.purge()
}

// purge removes the files that fell out of the window [index-MaxFiles+1,
// index]. Listing the directory instead of deleting index-MaxFiles alone
// also cleans up after a lowered MaxFiles.
func (w *Writer) purge() error {
	files, err := Files(w.cfg.Dir, w.cfg.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if f.Index <= w.index-w.cfg.MaxFiles {
			if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
