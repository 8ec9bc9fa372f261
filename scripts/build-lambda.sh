#!/usr/bin/env bash
# Builds the arm64 Lambda package (bootstrap in a zip) with cargo-lambda and
# zig from the project's venv, and prints its size. Used by `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export AWS_EC2_METADATA_DISABLED=true
started=$(date +%s)
cargo lambda build --release --arm64 --output-format zip --bin dynamodb-auth-canary
zip=target/lambda/dynamodb-auth-canary/bootstrap.zip
[ -f "$zip" ] || { echo "build-lambda: $zip was not produced" >&2; exit 1; }
unzip -l "$zip" | grep -q ' bootstrap$' || { echo "build-lambda: $zip has no bootstrap" >&2; exit 1; }
bytes=$(stat -c %s "$zip")
unzipped=$(unzip -l "$zip" | awk '/ bootstrap$/ {print $1}')
echo "built $zip: $((bytes / 1024)) KiB zipped, $((unzipped / 1024)) KiB bootstrap (aarch64), in $(( $(date +%s) - started )) s"
unzip -p "$zip" bootstrap | file -b - | cut -d, -f1-2
