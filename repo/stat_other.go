//go:build !linux

package repo

import (
	"io/fs"
	"os"
	"path/filepath"
)

// statKey is what must stay equal for a cached file hash to be reused.
type statKey struct {
	size  int64
	mtime int64 // ns
}

func statKeyOf(fi fs.FileInfo) statKey {
	return statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// lstatAt stats name in the open folder dir.
func lstatAt(dir *os.File, name string) (statKey, error) {
	fi, err := os.Lstat(filepath.Join(dir.Name(), name))
	if err != nil {
		return statKey{}, err
	}
	return statKeyOf(fi), nil
}
