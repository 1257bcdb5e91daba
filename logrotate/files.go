package logrotate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File is one rotated file.
type File struct {
	Path  string
	Index int
	Size  int64
}

// Files lists <dir>/<name>.<index> oldest first. A missing dir is no files.
func Files(dir, name string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logrotate: %w", err)
	}
	prefix := name + "."
	var files []File
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		idx, err := strconv.Atoi(rest)
		// Only canonical decimal indexes: "01" or "+1" are someone else's.
		if err != nil || idx < 0 || strconv.Itoa(idx) != rest {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		files = append(files, File{Path: filepath.Join(dir, e.Name()), Index: idx, Size: info.Size()})
	}
	slices.SortFunc(files, func(a, b File) int { return a.Index - b.Index })
	return files, nil
}
