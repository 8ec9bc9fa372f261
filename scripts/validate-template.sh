#!/usr/bin/env bash
# Checks template.yaml offline, then deploys it into a local moto.
#   1. sam validate --lint   (SAM CLI's cfn-lint run on the SAM template)
#   2. cfn-lint template.yaml
#   3. cfn-guard test: rules/tests/*.yaml against rules/canary.guard; every rule must have a
#      PASS and a FAIL case, so none can pass vacuously
#   4. cfn-guard validate: rules/canary.guard on the template translated and resolved by
#      tests/infra/cfn_template.py, once with every Condition false (defaults), once with every
#      Condition true, all 8 table slots used (runtime, environment, async retries, IAM
#      wildcards/actions/conditions, names, the alarms' Canary dimension and actions)
#   5. tests/infra/template_checks.py BINARY   (metrics contract, alarms, timing per schedule,
#                                               grants and environment equal to the parameters,
#                                               sentinels, account ids, events/)
#   6. tests/infra/template_checks.py --self-test BINARY   (broken copies must be reported)
#   7. tests/infra/deploy_test.py BINARY       (deploy-params -> the stack in moto: the role's
#                                               policy is sufficient and no wider; the 40 x 6
#                                               configuration from SSM; the template's policy
#                                               equals `policy`)
#   8. tests/infra/target_role_test.py BINARY  (target-role.yaml: cfn-lint, trust/conditions, policy =
#                                               `policy --target-account`, cross-account probes in moto)
#   9. tests/infra/policy_test.py BINARY       (`policy` of events/ and the README's configurations,
#                                               attached to a moto user: sufficient, and every
#                                               resource of every statement needed)
#  10. fleet/build.py --check                   (fleet/canary-stackset.yaml is the package of the
#                                               current template.yaml)
#  11. cfn-lint fleet/*.yaml
#  12. cfn-guard validate on the fleet's templates resolved by tests/infra/fleet_test.py:
#      rules/canary.guard and rules/fleet.guard on the stack-set package (every Condition false,
#      and true), rules/fleet.guard on the monitoring and code-bucket templates
#  13. tests/infra/fleet_test.py run BINARY     (static checks of the fleet; a service-managed stack
#                                               set in moto, 2 accounts x 2 regions, healthy canaries)
# The guard tests of step 3 pair rules/tests/<name>_tests.yaml with rules/<name>.guard.
# Usage: scripts/validate-template.sh [BINARY]   (default target/debug/dynamodb-auth-canary)
#        (or: make validate). Every step runs; exit 1 if any failed, 2 if the tools are missing.
# Offline: no AWS credentials are looked up (dummy keys, no profile), instance metadata is
# disabled, SAM telemetry is off and SAM CLI's weekly PyPI version check is pre-empted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/dynamodb-auth-canary}"
VENV=.venv
GUARD=.tools/bin/cfn-guard

if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  echo "validate-template: $VENV is missing sam/cfn-lint: run make setup" >&2
  exit 2
fi
if [ ! -x "$GUARD" ]; then
  echo "validate-template: no $GUARD: run make setup" >&2
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
guard_test() {  # the rule tests pass, and every rule has a PASS and a FAIL case
  "$VENV/bin/python" - rules <<'PY' || return 1
import glob, re, sys, yaml
rules = {m for f in glob.glob(f"{sys.argv[1]}/*.guard") for m in re.findall(r"^rule\s+(\w+)", open(f).read(), re.M)}
seen = {}
for f in glob.glob(f"{sys.argv[1]}/tests/*.yaml"):
    for case in yaml.safe_load(open(f)):
        for rule, want in case["expectations"]["rules"].items():
            seen.setdefault(rule, set()).add(want)
bad = sorted(r for r in rules if not {"PASS", "FAIL"} <= seen.get(r, set()))
if bad:
    sys.exit(f"guard rules without both a PASS and a FAIL test case: {bad}")
print(f"{len(rules)} rules, each with PASS and FAIL cases")
PY
  local t
  for t in rules/tests/*_tests.yaml; do
    local g
    g="rules/$(basename "$t" _tests.yaml).guard"
    [ -f "$g" ] || { echo "$t: no $g for it" >&2; return 1; }
    if ! "$GUARD" test -r "$g" -t "$t" >"$tmp/guard-test.out" 2>&1; then
      grep -B3 -A2 -E 'FAIL Rules|Error|panicked' "$tmp/guard-test.out" >&2 || cat "$tmp/guard-test.out" >&2
      return 1
    fi
    echo "$t: $(grep -c '^Test Case #' "$tmp/guard-test.out") cases as expected"
  done
}
guard_validate() {  # the rules on the translated template, resolved for two parameter sets
  local acct=111122223333 on=() n region
  local regions=(us-east-1 eu-west-1 us-west-2 ap-south-1 eu-central-1 ap-northeast-1 sa-east-1 ca-central-1)
  # Every Condition true: both configuration sources (the Rules would refuse that at deploy
  # time; guard does not evaluate Rules), a name, keys, roles, all 8 slots with all 3 lists.
  on+=(--param 'CanaryConfig={"targets":[]}' --param ConfigParameterName=/canary/config --param CanaryName=guard)
  on+=(--param KmsKeyArns=arn:aws:kms:us-east-1:$acct:key/1234abcd-12ab-34cd-56ef-1234567890ab)
  on+=(--param AssumeRoleArns=arn:aws:iam::210987654321:role/Reader)
  for n in 1 2 3 4 5 6 7 8; do
    region=${regions[$((n - 1))]}
    on+=(--param "Slot${n}DescribeTableArns=arn:aws:dynamodb:$region:$acct:table/orders,arn:aws:dynamodb:$region:$acct:table/customers")
    on+=(--param "Slot${n}ReadTableArns=arn:aws:dynamodb:$region:$acct:table/orders")
    on+=(--param "Slot${n}WriteTableArns=arn:aws:dynamodb:$region:$acct:table/events")
  done
  on+=(--param ScheduleMinutes=1 --param PagerEmail=page@example.invalid --param NotifyEmail=n@example.invalid)
  on+=(--param PagerHttpsEndpoint=https://pager.example.invalid --param EndpointUrl=http://127.0.0.1:1)
  on+=(--param Dashboard=true --param WatchAppErrors=true)
  "$VENV/bin/python" tests/infra/cfn_template.py >"$tmp/conditions-off.json" &&
    "$VENV/bin/python" tests/infra/cfn_template.py "${on[@]}" >"$tmp/conditions-on.json" || return 1
  "$GUARD" validate -r rules/canary.guard -d "$tmp/conditions-off.json" || return 1
  # With every Condition true every rule applies: a skipped rule would pass vacuously.
  "$GUARD" validate -r rules/canary.guard -d "$tmp/conditions-on.json" --show-summary skip >"$tmp/guard-on.out" || {
    cat "$tmp/guard-on.out"
    return 1
  }
  if grep -q SKIP "$tmp/guard-on.out"; then
    echo "rules skipped on the template with every Condition true:" >&2
    cat "$tmp/guard-on.out" >&2
    return 1
  fi
  echo "rules/canary.guard: $(grep -c '^rule ' rules/canary.guard) rules pass with every Condition false and with" \
    "every Condition true (none skipped)"
}
step "cfn-guard test (rules/tests)" guard_test
step "cfn-guard validate (rules/)" guard_validate
step "template_checks" "$VENV/bin/python" tests/infra/template_checks.py "$BIN"
step "template_checks --self-test" "$VENV/bin/python" tests/infra/template_checks.py --self-test "$BIN"
step "deploy_test (moto)" "$VENV/bin/python" tests/infra/deploy_test.py "$BIN"
step "target_role_test (target-role.yaml, moto)" "$VENV/bin/python" tests/infra/target_role_test.py "$BIN"
step "policy_test (policy is sufficient and minimal, moto)" "$VENV/bin/python" tests/infra/policy_test.py "$BIN"
fleet_guard() {  # the fleet's templates, resolved, against canary.guard and fleet.guard
  local acct=111122223333 on=() n
  local fleet=(--param CodeBucketPrefix=example-canary-code --param ConfigParameterName=/dynamodb-auth-canary/config
    --param CanaryName=fleet)
  on+=(--param 'CanaryConfig={"targets":[]}' --param KmsKeyArns=arn:aws:kms:us-east-1:$acct:key/1234abcd-12ab-34cd-56ef-1234567890ab)
  on+=(--param AssumeRoleArns=arn:aws:iam::210987654321:role/Reader --param CodeObjectVersion=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY)
  on+=(--param MonitoringSinkArn=arn:aws:oam:us-east-1:999988887777:sink/0a1b2c3d-4e5f-6789-abcd-ef0123456789)
  on+=(--param ScheduleMinutes=1 --param PagerEmail=page@example.invalid --param NotifyEmail=n@example.invalid)
  on+=(--param PagerHttpsEndpoint=https://pager.example.invalid --param EndpointUrl=http://127.0.0.1:1)
  on+=(--param Dashboard=true --param WatchAppErrors=true)
  for n in 1 2 3 4 5 6 7 8; do
    on+=(--param "Slot${n}DescribeTableArns=arn:aws:dynamodb:us-east-1:$acct:table/orders$n")
    on+=(--param "Slot${n}ReadTableArns=arn:aws:dynamodb:us-east-1:$acct:table/orders$n")
    on+=(--param "Slot${n}WriteTableArns=arn:aws:dynamodb:us-east-1:$acct:table/events$n")
  done
  local ft=tests/infra/fleet_test.py
  "$VENV/bin/python" $ft resolve fleet/canary-stackset.yaml "${fleet[@]}" >"$tmp/fleet-off.json" &&
    "$VENV/bin/python" $ft resolve fleet/canary-stackset.yaml "${fleet[@]}" "${on[@]}" >"$tmp/fleet-on.json" &&
    "$VENV/bin/python" $ft resolve fleet/monitoring.yaml --param OrganizationId=o-abcdefghij \
      --param AccountIds=222222222222,333333333333 --param PagerEmail=p@example.invalid \
      --param PagerHttpsEndpoint=https://pager.example.invalid --param NotifyEmail=n@example.invalid >"$tmp/mon.json" &&
    "$VENV/bin/python" $ft resolve fleet/monitoring.yaml --param OrganizationId=o-abcdefghij \
      --param AccountIds=222222222222 --param OrganizationPaths=o-abcdefghij/r-ab12/ou-ab12-11111111/* >"$tmp/mon-paths.json" &&
    "$VENV/bin/python" $ft resolve fleet/code-bucket.yaml --param BucketPrefix=example-canary-code \
      --param OrganizationId=o-abcdefghij >"$tmp/bucket.json" || return 1
  local d
  for d in fleet-off fleet-on; do  # the canary's role in every account is still minimal
    "$GUARD" validate -r rules/canary.guard -d "$tmp/$d.json" || return 1
  done
  "$GUARD" validate -r rules/canary.guard -d "$tmp/fleet-on.json" --show-summary skip >"$tmp/fg.out" || return 1
  if grep -q SKIP "$tmp/fg.out"; then
    echo "rules/canary.guard rules skipped on the package with every Condition true:" >&2
    cat "$tmp/fg.out" >&2
    return 1
  fi
  for d in fleet-off fleet-on mon mon-paths bucket; do
    "$GUARD" validate -r rules/fleet.guard -d "$tmp/$d.json" || return 1
  done
  # Each fleet rule applies to one of them: none may pass only by being skipped everywhere.
  local rule applied
  for rule in $(grep -oE '^rule +[a-z_]+' rules/fleet.guard | awk '{print $2}'); do
    applied=0
    for d in fleet-on mon bucket; do
      "$GUARD" validate -r rules/fleet.guard -d "$tmp/$d.json" --show-summary pass >"$tmp/fp.out" 2>&1 || true
      grep -q "$rule" "$tmp/fp.out" && applied=1
    done
    [ $applied -eq 1 ] || { echo "rules/fleet.guard: $rule passes nowhere (skipped on every fleet template)" >&2; return 1; }
  done
  echo "rules/canary.guard on the stack-set package (none skipped), rules/fleet.guard on the package, the monitoring" \
    "and code-bucket templates: every rule applied and passed"
}
step "fleet package = translation of template.yaml" "$VENV/bin/python" fleet/build.py --check
step "cfn-lint fleet/" "$VENV/bin/cfn-lint" fleet/canary-stackset.yaml fleet/monitoring.yaml fleet/code-bucket.yaml
step "cfn-guard validate (fleet/)" fleet_guard
step "fleet_test (stack set in moto, static fleet checks)" "$VENV/bin/python" tests/infra/fleet_test.py run "$BIN"

if [ ${#failed[@]} -gt 0 ]; then
  echo "validate-template: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "validate-template: ok"
