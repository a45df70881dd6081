#!/usr/bin/env bash
# A Docker engine and a registry on loopback, standing in for the build host and ECR's registry
# endpoint (the emulator answers the ECR API). Everything lives in STATE_DIR; stop kills by pid.
# Usage:
#   scripts/local_docker.sh start STATE_DIR [REGISTRY_PORT]   (default port: a free one)
#   scripts/local_docker.sh stop STATE_DIR
#   scripts/local_docker.sh check                              (are the binaries installed?)
# start writes STATE_DIR/env (DOCKER_HOST=..., ASSET_MANAGER_REGISTRY=127.0.0.1:PORT), to source.
# Idempotent: a stack recorded in STATE_DIR that still answers is reused.
set -euo pipefail
action=${1:?usage: local_docker.sh start|stop|check [STATE_DIR] [REGISTRY_PORT]}
missing="needs a Docker engine and a registry: apt-get install docker.io docker-registry (Debian), then rerun"

check() {
  if ! { command -v dockerd && command -v docker && command -v docker-registry; } >/dev/null; then
    echo "local_docker: $missing" >&2
    exit 1
  fi
}

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # pidfile name
  local pid
  [[ -f $1 ]] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "local_docker: $2 stopped (pid $pid)"
  fi
  rm -f "$1"
}

case $action in
check)
  check
  ;;
start)
  check
  state=$(mkdir -p "${2:?STATE_DIR}" && cd "$2" && pwd)
  port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  sock=$state/docker.sock
  if alive "$state/dockerd.pid" && alive "$state/registry.pid" && [[ -f $state/env ]]; then
    cat "$state/env"
    exit 0
  fi
  # Builds here are FROM scratch: no container networking, so no bridge and no iptables rules.
  # A short exec-root: containerd's socket path must stay under the kernel's 108-byte limit.
  exec_root=$(mktemp -d /tmp/dockerd-exec.XXXXXX)
  echo "$exec_root" >"$state/exec-root"
  nohup dockerd --host "unix://$sock" --data-root "$state/data" --exec-root "$exec_root" \
    --pidfile "$state/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
    >"$state/dockerd.log" 2>&1 &
  mkdir -p "$state/registry"
  cat >"$state/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  nohup docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 &
  echo $! >"$state/registry.pid"
  for _ in $(seq 1 300); do
    if DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 \
      && python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/', timeout=1)" 2>/dev/null; then
      printf 'DOCKER_HOST=unix://%s\nASSET_MANAGER_REGISTRY=127.0.0.1:%s\n' "$sock" "$port" >"$state/env"
      cat "$state/env"
      exit 0
    fi
    sleep 0.1
  done
  echo "local_docker: the engine or the registry did not answer within 30 s; see $state/dockerd.log and $state/registry.log" >&2
  exit 1
  ;;
stop)
  state=${2:?STATE_DIR}
  stop_pid "$state/registry.pid" registry
  stop_pid "$state/dockerd.pid" dockerd
  [[ -f $state/exec-root ]] && rm -rf "$(cat "$state/exec-root")" "$state/exec-root"
  rm -f "$state/env"
  ;;
*)
  echo "usage: local_docker.sh start|stop|check [STATE_DIR] [REGISTRY_PORT]" >&2
  exit 2
  ;;
esac
