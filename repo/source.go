package repo

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"strconv"
)

// MaxFileSize is the largest file a Source reads. Job files are a few
// kilobytes; anything near this size is a mistake (a build artefact or a
// dump named *.hcl), and reading it whole would only waste memory.
const MaxFileSize = 4 << 20

// ErrTooLarge is returned, wrapped, by Source.ReadFile for a file larger
// than MaxFileSize. The loader reports it as a diagnostic on that file.
var ErrTooLarge = errors.New("file is larger than the limit")

// File is one file of a Source.
type File struct {
	// Path is slash-separated and relative to the repository root.
	Path string
	// Hash is the file's Git blob hash in hex. Every Source computes the
	// same hash Git does, so a working tree and a commit with the same
	// content share parse-cache entries. Empty means the source does not
	// know it; the loader then hashes the bytes it reads.
	Hash string
}

// Source is a set of files: a working tree, explicit files or a commit.
// Implementations must be safe for concurrent use: the loader reads files
// from several goroutines.
type Source interface {
	// Files lists the source's regular files.
	Files(ctx context.Context) ([]File, error)
	// ReadFile returns a file's content. A file larger than MaxFileSize
	// yields an error wrapping ErrTooLarge, without reading it all.
	ReadFile(ctx context.Context, f File) ([]byte, error)
}

// BlobHash returns the Git blob hash of content in hex: the SHA-1 of
// "blob <len>\x00<content>".
func BlobHash(content []byte) string {
	h := newBlobHasher(int64(len(content)))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

func newBlobHasher(size int64) hash.Hash {
	h := sha1.New()
	h.Write([]byte("blob "))
	h.Write(strconv.AppendInt(nil, size, 10))
	h.Write([]byte{0})
	return h
}

// readLimited reads an open file of the given size, refusing files larger
// than MaxFileSize. size is only a hint: the file may grow while we read.
func readLimited(r io.Reader, size int64, name string) ([]byte, error) {
	if size > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes: %w", name, size, ErrTooLarge)
	}
	buf := make([]byte, 0, size+1)
	buf, err := readAllInto(buf, io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(buf) > MaxFileSize {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", name, MaxFileSize, ErrTooLarge)
	}
	return buf, nil
}

// readAllInto is io.ReadAll with a caller-sized buffer, which saves the
// growth copies when the size is known.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
	}
}

// FileSource is a Source of explicit files on disk, as named on a command
// line (drover validate a.hcl b.hcl). Each is a job file whatever its
// name, and no drover.hcl applies. A File's Path is the name as given, in
// slash form.
func FileSource(paths ...string) Source {
	return fileSource(append([]string(nil), paths...))
}

type fileSource []string

var _ Source = fileSource(nil)

func (s fileSource) Files(ctx context.Context) ([]File, error) {
	files := make([]File, 0, len(s))
	for _, p := range s {
		// Hash stays empty: the loader reads these few files anyway.
		files = append(files, File{Path: filepath.ToSlash(p)})
	}
	return files, nil
}

func (s fileSource) ReadFile(ctx context.Context, f File) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return readOSFile(filepath.FromSlash(f.Path))
}

// explicitJobFiles marks a source whose every file is a job file.
func (fileSource) explicitJobFiles() {}

type explicitSource interface{ explicitJobFiles() }

func readOSFile(name string) ([]byte, error) {
	return readRegular(name)
}
