#!/usr/bin/env bash
# Builds the arm64 Lambda package (bootstrap in a zip) with cargo-lambda and
# zig from the project's venv, and prints its size. Used by `make build`.
# Honours CARGO_TARGET_DIR: the zip is $CARGO_TARGET_DIR/lambda/dynamodb-auth-canary/bootstrap.zip
# (default target/). Adds the rustup target aarch64-unknown-linux-gnu when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export AWS_EC2_METADATA_DISABLED=true
target_dir="${CARGO_TARGET_DIR:-target}"
started=$(date +%s)
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
cargo lambda build --release --arm64 --output-format zip --bin dynamodb-auth-canary \
  --lambda-dir "$target_dir/lambda"
zip="$target_dir/lambda/dynamodb-auth-canary/bootstrap.zip"
[ -f "$zip" ] || { echo "build-lambda: $zip was not produced" >&2; exit 1; }
# The size line, with Python's zipfile (no unzip needed); tests/infra/artifact_test.py checks the rest.
python3 - "$zip" "$started" <<'PY'
import os, sys, time, zipfile
path, started = sys.argv[1], int(sys.argv[2])
with zipfile.ZipFile(path) as z:
    names = z.namelist()
    if "bootstrap" not in names:
        sys.exit(f"build-lambda: {path} has no bootstrap at its root ({names})")
    size = z.getinfo("bootstrap").file_size
    head = z.open("bootstrap").read(20)
machine = {183: "aarch64", 62: "x86-64"}.get(int.from_bytes(head[18:20], "little"), "unknown machine")
print(f"built {path}: {os.path.getsize(path) // 1024} KiB zipped, {size // 1024} KiB bootstrap ({machine}), "
      f"in {int(time.time()) - started} s")
PY
