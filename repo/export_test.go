package repo

// Exported for the benchmarks in package repo_test, which also use
// gitsource (a package that imports this one).
var (
	ServiceJobForTest = serviceJob
	WriteTreeForTest  = writeTree
	AgeFilesForTest   = ageFiles
)
