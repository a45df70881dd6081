#!/usr/bin/env bash
# Stop the emulator that emulator/start.sh started on PORT, by its recorded pid only.
# Usage: emulator/stop.sh [PORT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-${EMULATOR_PORT:-4566}}
state=${EMULATOR_STATE_DIR:-$here/../.cache/emulator}
pidfile=$state/$port.pid
if [[ ! -f $pidfile ]]; then
  echo "no emulator recorded for port $port"
  exit 0
fi
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  echo "emulator on port $port stopped (pid $pid)"
else
  echo "emulator on port $port was not running (stale pid $pid)"
fi
rm -f "$pidfile"
