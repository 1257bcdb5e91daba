// Package repo turns a job repository into a validated set of jobs.
//
// A job repository is a folder tree of job files plus an optional
// drover.hcl at its root. A Source lists the tree's files (a working-tree
// directory, explicit files, or a Git commit from package gitsource) and a
// Loader parses them into a Repo, caching each file's parse by its Git blob
// hash so that reloading a large repository where one file changed parses
// one file.
//
// Which files are job files:
//
//   - names ending in .hcl or .nomad (so also .nomad.hcl), in HCL's JSON
//     syntax .nomad.json or .hcl.json, or in Nomad's API job format
//     .job.json, .job.yaml or .job.yml (jobspec.IsJobFile);
//   - not drover.hcl (or drover.yaml, the same settings in YAML) at the root, not a variables file (*.vars.hcl, which
//     covers *.auto.vars.hcl, and every file listed in var_files): a
//     variables file holds name = value pairs and no job, so parsing it as
//     a job would only produce noise;
//   - not a sealed variable file (*.sealed.hcl, written by drover var
//     seal): those are parsed into Repo.Sealed (sealed.go), selected by
//     the same paths and exclude globs;
//   - no path element starts with a dot: hidden folders (.git, .github)
//     and editor files (.#web.hcl) are not jobs;
//   - matching one of drover.hcl's paths globs (all files when unset) and
//     none of its exclude globs.
//
// A FileSource is the exception: every file it names is a job file.
package repo
