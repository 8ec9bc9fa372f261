#!/usr/bin/env bash
# Benchmark: `check` (release build, default concurrency) against bench/fake_aws.py, a fast
# fake AWS on loopback, next to bench/boto3_peer.py (threaded boto3, 32 threads) doing the
# same work: 64 and 1024 probes over 4 regions at 50 ms per request, 4096 probes with no
# delay, and a 1-probe check; 64 probes at 50 ms with sink none against one round trip; the
# Lambda's init (spawn to its first Runtime API `next`); bench/floor, the same calls with a
# bare SDK client. Prints a markdown table of wall time, peak RSS and CPU per probe, and the
# issue's goals (goal, before, after; reported, not enforced). Takes about 2 minutes after the
# builds (bench/floor's first build takes a few minutes more).
# Exits non-zero if any run is unhealthy: the benchmark must not silently measure failures.
# Knobs: BENCH_REPEAT (runs of each side per row, default 5), BENCH_ROWS (probes:delay_ms,...;
# default 64:50,1024:50,4096:0), BENCH_FLOOR=0 (leave bench/floor out), CARGO_TARGET_DIR
# (where the release binaries are built; bench/floor's under floor/ in it).
# Usage: bench/bench.sh   (or: make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
PY="$(pwd)/.venv/bin/python"

echo "== building release binary" >&2
cargo build --release --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
bin="$target_dir/release/dynamodb-auth-canary"
[ -x "$bin" ] || { echo "bench: $bin not built" >&2; exit 1; }
floor=()
if [ "${BENCH_FLOOR:-1}" != 0 ]; then
  echo "== building bench/floor (the bare SDK)" >&2
  cargo build --release --quiet --manifest-path bench/floor/Cargo.toml --target-dir "$target_dir/floor"
  floor=(--floor "$target_dir/floor/release/sdk-floor")
fi

exec "$PY" bench/bench.py --binary "$bin" --python "$PY" \
  --repeat "${BENCH_REPEAT:-5}" \
  --rows "${BENCH_ROWS:-64:50,1024:50,4096:0}" "${floor[@]}"
