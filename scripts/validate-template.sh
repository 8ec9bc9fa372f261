#!/usr/bin/env bash
# Checks template.yaml offline, then deploys it into a local moto.
#   1. sam validate --lint   (SAM CLI's cfn-lint run on the SAM template)
#   2. cfn-lint template.yaml
#   3. scripts/template_checks.py BINARY   (metrics contract, IAM conditions, heartbeat, events/)
#   4. scripts/deploy_test.py BINARY       (translate, create the stack in moto, prove the role's
#                                           policy is sufficient and no wider)
# Usage: scripts/validate-template.sh [BINARY]   (default target/debug/dynamodb-auth-canary)
#        (or: make validate). Every step runs; exit 1 if any failed, 2 if the tools are missing.
# Offline: no AWS credentials are looked up (dummy keys, no profile), instance metadata is
# disabled, SAM telemetry is off and SAM CLI's weekly PyPI version check is pre-empted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/dynamodb-auth-canary}"
VENV=.venv

if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  echo "validate-template: $VENV is missing sam/cfn-lint: run make setup" >&2
  exit 2
fi
if [ ! -x "$BIN" ]; then
  echo "validate-template: no canary binary at $BIN: run cargo build (or pass its path)" >&2
  exit 2
fi

tmp="$(mktemp -d -t validate-template.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_CONFIG_FILE="$tmp/no-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/no-credentials" \
  SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$tmp/sam"
# SAM CLI's global config: telemetry off, version check done "now" (it would ask PyPI weekly).
mkdir -p "$tmp/sam"
printf '{"telemetryEnabled": false, "lastVersionCheck": %s}\n' "$(date +%s)" >"$tmp/sam/metadata.json"

failed=()
step() {  # step NAME CMD...: run, time, remember failures
  local name="$1" start ms rc=0
  shift
  echo "== $name"
  start=$(date +%s%N)
  "$@" || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  printf -- "-- %s: %s in %d.%ds\n" "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" \
    $((ms / 1000)) $((ms % 1000 / 100))
  [ $rc -eq 0 ] || failed+=("$name")
}

step "sam validate --lint" "$VENV/bin/sam" validate --lint -t template.yaml
step "cfn-lint" "$VENV/bin/cfn-lint" template.yaml
step "template_checks" "$VENV/bin/python" scripts/template_checks.py "$BIN"
step "deploy_test (moto)" "$VENV/bin/python" scripts/deploy_test.py "$BIN"

if [ ${#failed[@]} -gt 0 ]; then
  echo "validate-template: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "validate-template: ok"
