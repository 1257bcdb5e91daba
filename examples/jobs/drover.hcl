# Settings of this job repository. Every *.hcl, *.nomad.hcl and *.nomad
# file below this folder is a job file; values of env keys listed here are
# masked in plans, as are keys that contain TOKEN, SECRET, PASSWORD or KEY.
sensitive = ["DATABASE_URL"]

# Rollout order across jobs: with this block, when one commit changes both
# greeter and web, web's rollout starts only once greeter's deployment
# succeeded (`drover plan` shows the waves). Uncomment to try it.
#
# job "web" {
#   depends_on = ["greeter"]
# }
