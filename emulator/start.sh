#!/usr/bin/env bash
# Start the local AWS emulator (moto + fidelity layer) in the background, once.
# Usage: emulator/start.sh [PORT]   (default 4566, LocalStack's port)
# Idempotent: if the pid file names a live emulator that answers, nothing happens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-${EMULATOR_PORT:-4566}}
python=${PYTHON:-$here/../.venv/bin/python}
state=${EMULATOR_STATE_DIR:-$here/../.cache/emulator}
pidfile=$state/$port.pid
url=http://127.0.0.1:$port/_asset_manager/health
mkdir -p "$state"

answers() { "$python" - "$url" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
PY
}

if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && answers; then
  echo "emulator already running on port $port (pid $(cat "$pidfile"))"
  exit 0
fi
if answers; then
  echo "emulator: port $port already answers, but not from a process this script started." >&2
  echo "Stop it, or choose another port: emulator/start.sh PORT" >&2
  exit 1
fi

# A session of its own: no signal sent to the caller's process group or session (a test run's,
# molecule's) reaches the emulator; only emulator/stop.sh, by its recorded pid, stops it.
setsid "$python" "$here/server.py" --port "$port" </dev/null >"$state/$port.log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 150); do
  if answers; then
    echo "emulator running on http://127.0.0.1:$port (pid $(cat "$pidfile"), log $state/$port.log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    rm -f "$pidfile"
    echo "emulator failed to start:" >&2
    cat "$state/$port.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "emulator did not answer on port $port within 15 s; see $state/$port.log" >&2
exit 1
