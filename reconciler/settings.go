package reconciler

import "github.com/droverhq/drover/repo"

// Settings are the reconciler's options from drover.hcl.
type Settings struct {
	// Prune stops jobs whose file was removed (default true).
	Prune bool
	// SelfHeal puts a job changed outside Git back (default true).
	SelfHeal bool
	// AllowMassPrune lets a commit stop more than half of the source's
	// managed jobs (default false): a wrong glob must not wipe a cluster.
	AllowMassPrune bool
}

// DefaultSettings are the settings of a repository that sets none.
func DefaultSettings() Settings {
	return SettingsFrom(repo.DefaultConfig())
}

// SettingsFrom picks the reconciler's settings out of a repository's
// drover.hcl.
func SettingsFrom(c *repo.Config) Settings {
	return Settings{Prune: c.Prune, SelfHeal: c.SelfHeal, AllowMassPrune: c.AllowMassPrune}
}
