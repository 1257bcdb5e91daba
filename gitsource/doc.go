// Package gitsource reads a Git repository's commits and trees straight
// from its object store, without a checkout, and offers a commit's tree as
// a repo.Source.
//
// go-git's reads are not safe for concurrent use (its pack scanner and
// caches are shared), so a Repository serializes commit and tree reads
// behind one mutex, and reads file contents, the bulk of the work, through
// a small pool of go-git instances of its own. Callers may use a
// Repository from many goroutines.
//
// go-git indexes the repository's pack files when it first needs them: a
// Repository sees objects packed after that (by a fetch, or by git gc
// packing loose objects) only once reopened. Open a Repository per
// reconcile pass, not once per process.
package gitsource
