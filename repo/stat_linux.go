package repo

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// statKey is what must stay equal for a cached file hash to be reused.
// ctime and inode catch what mtime alone misses: a file replaced by
// rename, or an mtime set back by a tool.
type statKey struct {
	size  int64
	mtime int64 // ns
	ctime int64 // ns
	ino   uint64
}

func statKeyOf(fi fs.FileInfo) statKey {
	k := statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ctime = st.Ctim.Nano()
		k.ino = st.Ino
	}
	return k
}

// lstatAt stats name in the open folder dir. Statting relative to the
// folder's descriptor spares the kernel a walk of the whole path for
// each of thousands of files, which is most of a listing's cost.
func lstatAt(dir *os.File, name string) (statKey, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return statKey{}, err
		}
		break
	}
	return statKey{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}, nil
}
