#!/usr/bin/env bash
# Times the site playbook on a fresh emulator: full deploy, no-op rerun, and a --check --diff plan;
# then the day-two playbooks: validate, a rolling update and its rerun, teardown and its rerun.
# Usage: scripts/benchmark.sh [RUNS]   (default 1). Prints one line per measurement, in seconds.
# Uses its own emulator on a free port; never touches one on 4566.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
bin=.venv/bin
port=$($bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$PWD/.collections
export ASSET_MANAGER_ENDPOINT_URL=http://127.0.0.1:$port EMULATOR_STATE_DIR=$PWD/.cache/benchmark PYTHON=$bin/python
trap 'emulator/stop.sh "$port" >/dev/null' EXIT

timed() {  # label, command...: run, check the recap, print seconds
  local label=$1; shift
  local start end out ms
  start=$(date +%s%N)
  out=$("$@" 2>&1) || { echo "$out" | tail -20; echo "benchmark: $label failed" >&2; exit 1; }
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf '%-28s %3d.%01d s   %s\n' "$label" $((ms / 1000)) $((ms % 1000 / 100)) \
    "$(echo "$out" | grep -Eo 'changed=[0-9]+' | tail -1)"
}

for run in $(seq 1 "$runs"); do
  emulator/stop.sh "$port" >/dev/null
  emulator/start.sh "$port" >/dev/null
  $bin/ansible-playbook -i inventories/local playbooks/emulator_prerequisites.yml >/dev/null
  echo "run $run (emulator on port $port)"
  timed "full deploy" $bin/ansible-playbook -i inventories/local site.yml
  timed "no-op rerun" $bin/ansible-playbook -i inventories/local site.yml
  timed "check-mode plan (--diff)" $bin/ansible-playbook -i inventories/local site.yml --check --diff
  timed "validate" $bin/ansible-playbook -i inventories/local playbooks/validate.yml
  timed "rolling update" $bin/ansible-playbook -i inventories/local playbooks/rolling_update.yml -e rolling_update_image_tag=bench-$run
  timed "rolling update rerun" $bin/ansible-playbook -i inventories/local playbooks/rolling_update.yml -e rolling_update_image_tag=bench-$run
  timed "teardown" $bin/ansible-playbook -i inventories/local playbooks/teardown.yml -e teardown_confirm=local
  timed "teardown rerun" $bin/ansible-playbook -i inventories/local playbooks/teardown.yml -e teardown_confirm=local
done
