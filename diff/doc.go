// Package diff computes how two desired states of a set of jobs differ and
// what each difference forces the scheduler to do, in the shape of Nomad's
// `nomad job plan`: a tree of job, group, task, object and field diffs, each
// marked added, deleted or edited, plus per-group allocation counts (create,
// destroy, in-place update, create/destroy update, ignore) and the reasons
// that forced a destructive update.
//
// Compute is a pure function of its inputs. Values that look secret are
// masked while the plan is built, so no renderer can leak them.
package diff
