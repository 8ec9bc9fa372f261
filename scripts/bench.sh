#!/usr/bin/env bash
# Benchmark: `check` against a local moto behind a proxy that delays every request by
# BENCH_DELAY_MS (default 50), for 1, 16 and 64 targets spread over 4 regions. Prints per
# row the median (of BENCH_REPEAT=3 runs) wall time, the slowest single chain (identity
# latency + slowest probe latency, from the JSON report), their ratio, and peak RSS.
# Goal: ratio < 1.5 at 64 targets, peak RSS < 30 MB (reported, not enforced).
# Exits non-zero if any run is unhealthy: the benchmark must not silently measure failures.
# Usage: scripts/bench.sh   (or: make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/localaws.sh   # exports AWS_EC2_METADATA_DISABLED=true; stop_all on EXIT
PY=.venv/bin/python
DELAY_MS="${BENCH_DELAY_MS:-50}"
REPEAT="${BENCH_REPEAT:-3}"


echo "== building release binary" >&2
cargo build --release --quiet
bin="$(pwd)/target/release/dynamodb-auth-canary"
[ -x "$bin" ] || { echo "bench: $bin not built" >&2; exit 1; }

tmp="$(mktemp -d -t canary-bench.XXXXXX)"
trap 'stop_all; rm -rf "$tmp"' EXIT

echo "== starting moto, creating 64 tables in 4 regions" >&2
start_moto
"$PY" scripts/localaws.py bootstrap --endpoint "$MOTO_URL" >"$tmp/admin.json"
"$PY" scripts/bench.py spec --tables 64 >"$tmp/spec.json"
admin="$(cat "$tmp/admin.json")"
"$PY" scripts/localaws.py apply --endpoint "$MOTO_URL" \
  --admin-key "$(jget "$admin" access_key_id)" --admin-secret "$(jget "$admin" secret_access_key)" \
  --spec "$tmp/spec.json" >"$tmp/created.json"

echo "== starting delay proxy (${DELAY_MS} ms per request)" >&2
"$PY" scripts/proxy.py --upstream "$MOTO_URL" --listen-port 0 --mode delay --delay-ms "$DELAY_MS" \
  --exit-with-parent >"$tmp/proxy.out" 2>"$LOCALAWS_LOG_DIR/proxy.log" &
PROXY_PID=$!
LOCALAWS_PIDS+=("$PROXY_PID")   # stop_all (EXIT trap) stops it too
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$tmp/proxy.out")"
  [ -n "$port" ] && break
  kill -0 "$PROXY_PID" 2>/dev/null || { echo "bench: proxy exited" >&2; cat "$LOCALAWS_LOG_DIR/proxy.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "bench: proxy did not print its port" >&2; exit 1; }
PROXY_URL="http://127.0.0.1:$port"

echo "== running check (release) via $PROXY_URL" >&2
"$PY" scripts/bench.py measure --binary "$bin" --endpoint "$PROXY_URL" --created "$tmp/created.json" \
  --delay-ms "$DELAY_MS" --counts 1,16,64 --repeat "$REPEAT" --workdir "$tmp" || rc=$?
if [ "${rc:-0}" -ne 0 ]; then
  keep="$(mktemp -d -t canary-bench-failed.XXXXXX)"
  cp "$tmp"/config-*.json "$tmp"/out-*.json* "$keep"/ 2>/dev/null || true
  echo "bench: some runs failed; configs and reports kept in $keep, server logs in $LOCALAWS_LOG_DIR" >&2
fi
exit "${rc:-0}"
