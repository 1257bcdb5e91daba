#!/usr/bin/env bash
# `make plan-demo`: validate the example job repository, then put it in a Git
# repository of its own under .drover/, commit a change to it, and show the
# plan Drover computes for that commit, as a reviewer would see it.
set -euo pipefail
bin=${1:-bin/drover}
demo=.drover/demo-repo
git_() { git -C "$demo" -c user.name="Drover Demo" -c user.email=demo@drover.invalid "$@"; }

echo "==> $bin validate examples/jobs"
"$bin" validate examples/jobs
echo

rm -rf "$demo"
mkdir -p "$demo"
cp -R examples/jobs/. "$demo/"
git_ init -q -b main
git_ add -A
git_ commit -q -m "Add the example jobs"

# The change under review: scale the web service out and change what its
# task is given, which forces its allocations to be replaced.
sed -i 's/count = 2/count = 3/; s/hello from Drover/hello again from Drover/' "$demo/web.nomad.hcl"
git_ commit -q -am "web: scale to 3 and change the greeting"

echo "==> $bin plan --repo $demo --base HEAD~1 --head HEAD"
set +e
"$bin" plan --repo "$demo" --base HEAD~1 --head HEAD
code=$?
set -e
echo
case $code in
  2) echo "(exit code 2: the commit changes jobs. Try -markdown or -json, or edit $demo and run '$bin plan --repo $demo'.)" ;;
  0) echo "(exit code 0: no changes)" ;;
  *) exit "$code" ;;
esac
