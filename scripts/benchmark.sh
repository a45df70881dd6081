#!/usr/bin/env bash
# The site's speed beside two yardsticks, on freshly seeded emulators (never the one on 4566):
# - the floor: the same AWS API calls the site made, made again in one boto3 process
#   (scripts/bench/floor.py, from a recording by scripts/bench/recorder);
# - the guide: its manual steps as AWS CLI calls (../shared/bench/guide-cli.sh, when present and
#   the `aws` CLI is on PATH), a first deploy only.
# Prints each sample, then the medians and ratios, and the tasks a no-op rerun executes.
# Usage: scripts/benchmark.sh [RUNS]   (default 3). TAG=<role tag> picks the one-role rerun (route53).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
tag=${TAG:-route53}
bin=$PWD/.venv/bin
guide=${GUIDE_CLI:-$PWD/../shared/bench/guide-cli.sh}
work=$PWD/.cache/benchmark
rm -rf "$work" && mkdir -p "$work"
export ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$PWD/.collections PYTHON=$bin/python
ports=()
stop_all() {
  for p in "${ports[@]}"; do EMULATOR_STATE_DIR=$work/$p emulator/stop.sh "$p" >/dev/null 2>&1 || true; done
  scripts/local_docker.sh stop "$work/docker" >/dev/null 2>&1 || true
}
trap stop_all EXIT

# A first deploy names its image: the small local image, built and pushed by the image role (as
# make deploy-local does) to a local registry that every fresh emulator's ECR answers from.
scripts/local_docker.sh start "$work/docker" >/dev/null
set -a && . "$work/docker/env" && set +a

fresh() {  # start a seeded emulator on a free port, in $port
  port=$("$bin"/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ports+=("$port")
  EMULATOR_STATE_DIR=$work/$port EMULATOR_ECR_REGISTRY=http://$ASSET_MANAGER_REGISTRY \
    emulator/start.sh "$port" >/dev/null
  ASSET_MANAGER_ENDPOINT_URL=http://127.0.0.1:$port "$bin"/ansible-playbook -i inventories/local \
    playbooks/emulator_prerequisites.yml >/dev/null
  ASSET_MANAGER_ENDPOINT_URL=http://127.0.0.1:$port "$bin"/ansible-playbook -i inventories/local \
    playbooks/release.yml --tags image -e release_tag=bench >/dev/null
}

seconds() {  # label port command...: run it against the port's emulator, seconds in $secs
  local label=$1 port=$2; shift 2
  local start end out
  start=$(date +%s%N)
  out=$(ASSET_MANAGER_ENDPOINT_URL=http://127.0.0.1:$port "$@" 2>&1) \
    || { echo "$out" | tail -20 >&2; echo "benchmark: $label failed" >&2; exit 1; }
  end=$(date +%s%N)
  if [[ $label == *rerun* || $label == check* ]] && ! grep -Eq 'changed=0 ' <<<"$out"; then
    echo "$out" | tail -5 >&2; echo "benchmark: $label changed something" >&2; exit 1
  fi
  secs=$(echo "scale=2; ($end - $start) / 1000000000" | bc)
}

site=("$bin/ansible-playbook" -i inventories/local site.yml)
first=(-e ecs_taskdefs_image_tag=bench)
declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }

for run in $(seq 1 "$runs"); do
  if [[ -x $guide ]] && command -v aws >/dev/null; then
    fresh
    AWS_ENDPOINT_URL=http://127.0.0.1:$port seconds "guide CLI" "$port" "$guide"
    add guide "$secs"
  fi
  fresh
  seconds "first deploy" "$port" "${site[@]}" "${first[@]}"; add deploy "$secs"
  seconds "no-op rerun" "$port" "${site[@]}"; add rerun "$secs"
  seconds "check plan" "$port" "${site[@]}" --check --diff; add check "$secs"
  seconds "tag rerun" "$port" "${site[@]}" --tags "$tag"; add tag "$secs"
  echo "sample $run:${samples[guide]:+ guide ${samples[guide]##* } s,} deploy ${samples[deploy]##* } s," \
    "rerun ${samples[rerun]##* } s, check ${samples[check]##* } s, --tags $tag ${samples[tag]##* } s"
done

# The floor: record each run's calls once (an untimed sample), replay them in one boto3 process on
# another fresh emulator, in the same order, so the replayed state matches the recorded one.
fresh
for step in deploy rerun check tag; do
  args=()
  [[ $step == check ]] && args=(--check --diff)
  [[ $step == tag ]] && args=(--tags "$tag")
  [[ $step == deploy ]] && args=("${first[@]}")
  BENCH_RECORD=$work/$step.jsonl PYTHONPATH=$PWD/scripts/bench/recorder \
    seconds "recorded $step" "$port" "${site[@]}" "${args[@]}"
done
tasks=$(ASSET_MANAGER_ENDPOINT_URL=http://127.0.0.1:$port ANSIBLE_STDOUT_CALLBACK=ansible.posix.json \
  "${site[@]}" 2>/dev/null | "$bin"/python scripts/bench/count_tasks.py)
fresh
for step in deploy rerun check tag; do
  read -r secs calls < <("$bin"/python scripts/bench/floor.py "$work/$step.jsonl" "http://127.0.0.1:$port")
  add "floor_$step" "$secs"
  add "calls_$step" "$calls"
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Rounded to two places (bc's scale alone truncates: 0.359 would print .35).
ratio() { [[ -n $2 ]] && LC_NUMERIC=C printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)" || echo "-"; }
g=""
[[ -n ${samples[guide]:-} ]] && g=$(median "${samples[guide]}")
echo
printf '%-22s %8s %8s %7s %9s %9s\n' "median of $runs" "site s" "floor s" "calls" "x floor" "x guide"
[[ -n $g ]] && printf '%-22s %8s\n' "guide CLI deploy" "$g"
for step in deploy rerun check tag; do
  label=$step
  [[ $step == deploy ]] && label="first deploy"
  [[ $step == rerun ]] && label="no-op rerun"
  [[ $step == check ]] && label="check plan (--diff)"
  [[ $step == tag ]] && label="--tags $tag rerun"
  m=$(median "${samples[$step]}")
  f=${samples[floor_$step]# }
  printf '%-22s %8s %8s %7s %9s %9s\n' "$label" "$m" "$f" "${samples[calls_$step]# }" "$(ratio "$m" "$f")" \
    "$( [[ -n $g ]] && ratio "$m" "$g" || echo -)"
done
read -r executed bookkeeping <<<"$tasks"
echo "no-op rerun executes $executed tasks, $bookkeeping of them bookkeeping (no AWS call)"
echo "strategy: ${ANSIBLE_STRATEGY:-$("$bin"/ansible-config dump 2>/dev/null | grep -E '^DEFAULT_STRATEGY\(' | sed 's/.*= //')}"
