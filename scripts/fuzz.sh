#!/usr/bin/env bash
# Fuzzing (cargo-fuzz / libFuzzer, nightly toolchain): runs every target of fuzz/ for
# SECONDS each, starting from the seeds in fuzz/corpus/<target> (kept read-only: new inputs
# go to target/fuzz-corpus/<target>, crashes to target/fuzz-artifacts/<target>/), and prints
# executions and crashes per target. Exit 1 if any target crashed.
# Usage: scripts/fuzz.sh [SECONDS]   (or: make fuzz, FUZZ_SECONDS=...; make fuzz-smoke in CI)
#        FUZZ_TARGETS="classify redact" scripts/fuzz.sh 900   (some targets only)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
CARGO_FUZZ=".tools/bin/cargo-fuzz"
# The nightly toolchain this was written and measured with (the machines ship it; nothing
# here downloads a toolchain). Another nightly is used with a warning.
PINNED_NIGHTLY="rustc 1.97.0-nightly (e50aa6fba 2026-05-19)"
have="$(rustup run nightly rustc -V 2>/dev/null || true)"
if [ -z "$have" ]; then
  echo "fuzz: no nightly toolchain (rustup toolchain list)" >&2
  exit 2
fi
[ "$have" = "$PINNED_NIGHTLY" ] || echo "fuzz: warning: nightly is '$have', pinned '$PINNED_NIGHTLY'" >&2
[ -x "$CARGO_FUZZ" ] || { echo "fuzz: $CARGO_FUZZ missing: run make setup-fuzz" >&2; exit 2; }
export AWS_EC2_METADATA_DISABLED=true CARGO_TARGET_DIR="$PWD/target/fuzz-build"
# FUZZ_TARGETS (space-separated) runs some of them only.
read -r -a targets <<<"${FUZZ_TARGETS:-config lambda_event classify redact render}"
printf '%-14s %12s %8s %s\n' target executions crashes seconds >&2
crashed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "target/fuzz-corpus/$t" "target/fuzz-artifacts/$t"
  log="target/fuzz-artifacts/$t.log"
  rc=0
  rustup run nightly "$CARGO_FUZZ" run --fuzz-dir fuzz "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="target/fuzz-artifacts/$t/" >"$log" 2>&1 || rc=$?
  runs="$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 | grep -o '[0-9]*' || echo '?')"
  n="$(find "target/fuzz-artifacts/$t" -type f | wc -l)"
  [ "$rc" -eq 0 ] && [ "$n" -eq 0 ] || { crashed=1; tail -n 30 "$log" >&2; }
  summary+=("$(printf '%-14s %12s %8s %s' "$t" "$runs" "$n" "$SECONDS_PER_TARGET")")
done
printf '%s\n' "${summary[@]}"
if [ "$crashed" -ne 0 ]; then
  echo "fuzz: FAILED: a target crashed (inputs in target/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: ok"
