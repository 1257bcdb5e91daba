#!/usr/bin/env bash
# `make run`: seed a Git repository from examples/jobs in .drover/repo
# (once), start `drover dev --repo` on it (a server and an agent in one
# process, deploying every commit of that repository) in the background,
# wait until the web service runs, and say where it is and what to try.
# It leaves the cluster running; `make stop` (or the kill command printed)
# stops it. A later `make run` shows only what is new since the last one:
# the commits and their plan, not the whole history.
set -euo pipefail
bin=${1:-bin/drover}
dir=.drover/dev
log=.drover/dev.log
pidfile=.drover/dev.pid
# The repository's HEAD when `make run` last finished.
lastrun=.drover/dev.last-run
addr=${DROVER_DEV_ADDR:-127.0.0.1:4747}
export DROVER_ADDR=http://$addr
unset DROVER_TOKEN

repo=.drover/repo
mkdir -p "$dir"

# The job repository the dev cluster follows. Seeded once; after that it
# is the newcomer's, and their commits are what deploys.
if [[ ! -d $repo/.git ]]; then
  echo "==> seeding $repo from examples/jobs"
  mkdir -p "$repo"
  cp -R examples/jobs/. "$repo"/
  # The docker and qemu examples need an image or a disk that a fresh
  # machine does not have (their headers say how to get one); the dev
  # cluster starts with the examples that run anywhere. (Periodic jobs,
  # which Drover does not launch yet, are not in examples/jobs at all.)
  rm -f "$repo"/*-docker.nomad.hcl "$repo"/*-qemu.nomad.hcl
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" -c user.name="Drover Dev" -c user.email=dev@localhost -c commit.gpgsign=false \
    commit -q -m "Seed from examples/jobs"
fi
head=$(git -C "$repo" rev-parse HEAD)

# The plan a reviewer would see. The first time: the seed commit, which
# creates every example job. Later: what the commits since the last
# `make run` change, or nothing when there are none.
last=$(cat "$lastrun" 2>/dev/null || true)
if [[ -n $last ]] && ! git -C "$repo" cat-file -e "$last^{commit}" 2>/dev/null; then
  last= # the repository was re-created or rewritten since
fi
if [[ -z $last ]]; then
  echo "==> $bin plan --repo $repo --head HEAD"
  "$bin" plan --repo "$repo" --head HEAD || [[ $? -eq 2 ]]
elif [[ $last == "$head" ]]; then
  echo "==> no new commits in $repo since the last make run (HEAD is ${head:0:7})"
else
  echo "==> new commits in $repo since the last make run:"
  git -C "$repo" log --oneline --no-decorate -n 10 "$last..$head" | sed 's/^/    /'
  base=$(git -C "$repo" rev-parse --short "$last")
  echo "==> $bin plan --repo $repo --base $base --head HEAD"
  "$bin" plan --repo "$repo" --base "$base" --head HEAD || [[ $? -eq 2 ]]
fi
echo

# A dev cluster this script started earlier is stopped first, so the new
# binary runs. Only the pid we recorded is signalled.
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "==> stopping the dev cluster started earlier (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi

echo "==> $bin dev -repo $repo -data-dir $dir -http-addr $addr   (logs: $log)"
nohup "$bin" dev -repo "$repo" -data-dir "$dir" -http-addr "$addr" >"$log" 2>&1 &
echo $! >"$pidfile"

# Readiness: poll health until the server leads and the agent registered.
for i in $(seq 300); do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "drover dev exited; its log:" >&2; tail -20 "$log" >&2; exit 1
  fi
  if "$bin" node status >/dev/null 2>&1 && [[ $("$bin" node status 2>/dev/null | grep -c ready) -ge 1 ]]; then
    break
  fi
  if [[ $i == 300 ]]; then echo "drover dev did not become ready in 30s; see $log" >&2; exit 1; fi
  sleep 0.1
done

# The api job's database password (README, "Services and secrets"). A
# sealed file opens only with the key of the cluster it was sealed for,
# and this dev cluster made its own key in $dir: a file committed in
# examples/ could not open here, and a plain-text password in the
# repository is what sealing exists to avoid. So the first `make run`
# (or one after the data directory was removed) seals a generated
# password to this cluster's key and commits the sealed file, as a user
# would: `drover var seal nomad/jobs/api DB_PASSWORD=-`. The password
# goes from the generator to drover's stdin and is written nowhere in
# the clear; `drover var get nomad/jobs/api` shows it.
sealed=nomad/jobs/api.sealed.hcl
if [[ -f $repo/api.nomad.hcl ]]; then
  why=
  if [[ ! -f $repo/$sealed ]]; then
    why="Seal a generated database password for api"
  else
    fp=$(grep -o 'age:[0-9a-f]*' "$repo/$sealed" | head -1 || true)
    if [[ -z $fp ]] || ! "$bin" operator seal recipients 2>/dev/null | grep -qF "$fp"; then
      why="Reseal api's database password for this cluster's key"
    fi
  fi
  if [[ -n $why ]]; then
    echo "==> $bin var seal -out $repo/$sealed nomad/jobs/api DB_PASSWORD=- < (a generated password)"
    head -c 18 /dev/urandom | base64 | tr -d '\n/+=' |
      "$bin" var seal -out "$repo/$sealed" nomad/jobs/api DB_PASSWORD=- | sed 's/^/    /'
    git -C "$repo" add "$sealed"
    git -C "$repo" -c user.name="Drover Dev" -c user.email=dev@localhost -c commit.gpgsign=false \
      commit -q -m "$why"
    echo "==> committed $repo/$sealed: \"$why\" (ciphertext only; the server decrypts it)"
    head=$(git -C "$repo" rev-parse HEAD)
    # The commit before it may show as rejected (a sealed file this
    # cluster cannot open) until the server has applied this one.
    for _ in $(seq 100); do
      "$bin" sync status 2>/dev/null | grep -q "Last Applied *= ${head:0:7}" && break
      sleep 0.1
    done
  fi
fi

# No `job run`: the server deploys the repository's commit by itself.
# Only the source's state is shown here, not its record of every commit
# and drift (sync status exits non-zero while it is behind, which is
# expected this early).
echo "==> $bin sync status"
status=$("$bin" sync status 2>&1) || true
sed -e '/^$/,$d' -e 's/^/    /' <<<"$status"
echo "    (every commit and drift: $bin sync status)"

# The count of web that the repository asks for, and the edit suggested at
# the end: one more, with a sed that leaves no backup file in the
# repository (GNU sed takes -i alone; BSD and macOS sed want -i '').
count=$(sed -n 's/^[[:space:]]*count[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$repo/web.nomad.hcl" 2>/dev/null | head -1 || true)
count=${count:-2}
if sed --version >/dev/null 2>&1; then sedi="sed -i"; else sedi="sed -i ''"; fi

# Wait until the web allocations run and the service answers.
echo "==> waiting for the web service ($count instances)"
ports=()
for i in $(seq 600); do
  mapfile -t ports < <("$bin" job status -json web 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in d.get("allocations") or []:
    if a.get("client_status") == "running" and a.get("desired_status") == "run":
        for p in a["resources"].get("ports") or []:
            print(p["value"])
' 2>/dev/null || true)
  if [[ ${#ports[@]} -ge 1 && ${#ports[@]} -ge $count ]] && curl -fsS "http://127.0.0.1:${ports[0]}/" >/dev/null 2>&1; then
    break
  fi
  if [[ $i == 600 ]]; then
    echo "the web service did not come up in 60s:" >&2
    "$bin" job status web >&2 || true
    exit 1
  fi
  sleep 0.1
done

alloc=$("$bin" job status -json web | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(a["id"] for a in d["allocations"] if a["client_status"] == "running"))')

echo
echo "==> the web service runs:"
for p in "${ports[@]}"; do
  echo "    http://127.0.0.1:$p/  says: $(curl -fsS "http://127.0.0.1:$p/" | sed -n 's:.*<h1>\(.*\)</h1>.*:\1:p')"
done
echo
# web reaches api through the service catalog once api runs, which
# takes the sealed password's commit to be applied first.
if [[ -f $repo/api.nomad.hcl ]]; then
  echo
  echo "==> waiting for web to reach api through the service catalog"
  page=
  for i in $(seq 600); do
    page=$(curl -fsS "http://127.0.0.1:${ports[0]}/" 2>/dev/null || true)
    grep -q "reached api via the catalog" <<<"$page" && break
    sleep 0.1
  done
  sed -n 's:^<p>\(.*api.*\)</p>$:    \1:p' <<<"$page"
  echo "==> $bin service info api"
  "$bin" service info api 2>&1 | sed 's/^/    /' || true
fi
echo
echo "==> $bin alloc logs -tail ${alloc:0:8}"
"$bin" alloc logs -tail "$alloc" | sed 's/^/    /'
echo
echo "$head" >"$lastrun"
next=$((count + 1))
cat <<EOT
==> Drover dev is running in the background (pid $(cat "$pidfile"), API $DROVER_ADDR, log $log).
    Web UI:  $DROVER_ADDR/ui/   (sources, the commit timeline live, jobs, nodes, deployments)
    It deploys every commit of $repo. Edit a job, commit, and watch it redeploy:
      $sedi 's/count = $count/count = $next/' $repo/web.nomad.hcl && git -C $repo commit -qam "Scale web to $next"
      $bin history web        # the commit, its author and the rollout; also: $bin sync status
    Also try:
      $bin job status web
      $bin alloc status ${alloc:0:8}
      $bin alloc logs -f ${alloc:0:8}
      $bin alloc logs -stderr ${alloc:0:8}
      $bin node status
      $bin service info api                  # the catalog web reads (README: Services and secrets)
      $bin var get nomad/jobs/api            # the password sealed in $repo/$sealed
    Stop it (and its tasks) with:  make stop    (or: kill $(cat "$pidfile"))
    The plan demo is:              make plan-demo
EOT
