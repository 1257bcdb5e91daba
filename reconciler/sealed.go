package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

// SealedStore is an optional ability of a Cluster: it opens a commit's
// sealed variable files (drover var seal) with the cluster's age
// identities and writes them as variables. Only the servers hold the
// identities, so only the server-side Cluster has it; a reconciler over
// the HTTP API skips sealed files (and says so in its log).
type SealedStore interface {
	// ApplySealed decrypts in.Vars and, in one Raft command, writes the
	// variables whose items differ from the stored ones and deletes the
	// variables of in.Managed that no file seals any more when in.Prune.
	// A file that does not open (another cluster's key, tampered, moved)
	// is a diagnostic at its position and nothing is written. It returns
	// what changed (never a value) and the variables the source now
	// manages.
	ApplySealed(ctx context.Context, in SealedInput) (SealedResult, hcl.Diagnostics, error)
}

// SealedInput is one commit's sealed variables.
type SealedInput struct {
	Source, Commit string
	Vars           []*repo.SealedVariable
	// Managed are the namespace/path of the variables the source's
	// sealed files wrote before (SyncStatus.SealedVariables).
	Managed []string
	Prune   bool
}

// SealedResult is what ApplySealed did.
type SealedResult struct {
	Notes   []render.SealedNote
	Managed []string
}

// applySealed is the sealed step, between decide and submit: variables
// are written first, in one Raft command, then jobs, so that a job of
// the same commit that reads a sealed variable finds its new value. It
// is not one transaction with the jobs: if submitting the jobs fails
// after it, the variables stay written and the next pass goes on.
//
// A commit whose sealed files do not open is rejected like a commit with
// an invalid job file, with each error at its position.
func (r *Reconciler) applySealed(ctx context.Context, desired *Desired, st *cluster.SyncStatus, sha string) ([]render.SealedNote, error) {
	if desired.Repo == nil || len(desired.Repo.Sealed) == 0 && len(st.SealedVariables) == 0 {
		return nil, nil
	}
	ss, ok := r.cluster.(SealedStore)
	if !ok {
		if len(desired.Repo.Sealed) > 0 {
			r.logger.Warn("sealed variable files ignored: only the servers can open them", "files", len(desired.Repo.Sealed))
		}
		return nil, nil
	}
	res, diags, err := ss.ApplySealed(ctx, SealedInput{
		Source: r.cfg.Name, Commit: sha, Vars: desired.Repo.Sealed,
		Managed: slices.Clone(st.SealedVariables), Prune: desired.Settings.Prune,
	})
	if errs := diagStrings(diags); len(errs) > 0 {
		for i := range errs {
			errs[i] = joinPath(r.cfg.Path, errs[i])
		}
		e := stepErr("sealed", Rejected, fmt.Errorf("the commit has %d sealed item(s) that do not open: %s", len(errs), errs[0]))
		e.Errors = errs
		return nil, e
	}
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, stepErr("sealed", Waiting, err)
		}
		return nil, stepErr("sealed", Failed, err)
	}
	st.SealedVariables = res.Managed
	for _, n := range res.Notes {
		// The note is the whole record: path and a count, never a value.
		r.logger.Info("sealed variable", "variable", n.Namespace+"/"+n.Path, "change", n.String(), "commit", shortSHA(sha))
	}
	return res.Notes, nil
}

// sealedStrings renders notes for a commit outcome (the history).
func sealedStrings(notes []render.SealedNote) []string {
	var out []string
	for _, n := range notes {
		out = append(out, n.String())
	}
	return out
}
