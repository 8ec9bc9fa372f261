# Bash helpers to run a local AWS (moto, dynalite) for the demo, benchmarks and Makefile.
# Source it:  . scripts/localaws/localaws.sh; start_moto; start_dynalite   (stop_all runs on EXIT)
#   free_port        print a free loopback TCP port
#   jget JSON KEY... print a value of a JSON document (no jq on a fresh machine)
#   start_moto       moto_server.py in background -> MOTO_URL, MOTO_PID (IAM enforced; bootstrap next)
#   start_dynalite   dynalite in background       -> DYNALITE_URL, DYNALITE_PID
#   stop_all         kill what start_* started (install it as an EXIT trap)
# Logs go to $LOCALAWS_LOG_DIR (default: a temp dir).
set -euo pipefail

LOCALAWS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"  # the repository
LOCALAWS_PY="${LOCALAWS_PY:-$LOCALAWS_ROOT/.venv/bin/python}"
LOCALAWS_LOG_DIR="${LOCALAWS_LOG_DIR:-$(mktemp -d -t localaws.XXXXXX)}"
LOCALAWS_PIDS=()
export AWS_EC2_METADATA_DISABLED=true

# jget JSON KEY...: print the value at that key path (strings raw, like jq -r); no jq needed.
jget() {
  "$LOCALAWS_PY" -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

free_port() {
  "$LOCALAWS_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _wait_up URL PID NAME: poll until URL answers HTTP, failing early if PID died.
_wait_up() {
  local i
  for i in $(seq 1 300); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "localaws: $3 exited; log: $LOCALAWS_LOG_DIR/$3.log" >&2
      tail -n 20 "$LOCALAWS_LOG_DIR/$3.log" >&2 || true
      return 1
    fi
    if "$LOCALAWS_PY" "$LOCALAWS_ROOT/scripts/localaws/localaws.py" wait --endpoint "$1" --timeout 0.2 >/dev/null 2>&1; then
      return 0
    fi
  done
  echo "localaws: $3 not answering on $1" >&2
  return 1
}

start_moto() {
  local port
  port="$(free_port)"
  "$LOCALAWS_PY" "$LOCALAWS_ROOT/scripts/localaws/moto_server.py" --host 127.0.0.1 --port "$port" --exit-with-parent \
    >"$LOCALAWS_LOG_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  LOCALAWS_PIDS+=("$MOTO_PID")
  export MOTO_URL="http://127.0.0.1:$port" MOTO_PID
  _wait_up "$MOTO_URL" "$MOTO_PID" moto
}

start_dynalite() {
  local port
  port="$(free_port)"
  "$LOCALAWS_ROOT/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" --createTableMs 0 \
    --deleteTableMs 0 --updateTableMs 0 >"$LOCALAWS_LOG_DIR/dynalite.log" 2>&1 &
  DYNALITE_PID=$!
  LOCALAWS_PIDS+=("$DYNALITE_PID")
  export DYNALITE_URL="http://127.0.0.1:$port" DYNALITE_PID
  _wait_up "$DYNALITE_URL" "$DYNALITE_PID" dynalite
}

stop_all() {
  local pid
  for pid in "${LOCALAWS_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${LOCALAWS_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  LOCALAWS_PIDS=()
}
trap stop_all EXIT
