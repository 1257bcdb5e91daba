# Settings of this job repository. Every *.hcl, *.nomad.hcl and *.nomad
# file below this folder is a job file; values of env keys listed here are
# masked in plans, as are keys that contain TOKEN, SECRET, PASSWORD or KEY.
sensitive = ["DATABASE_URL"]
