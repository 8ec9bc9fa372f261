#!/usr/bin/env bash
# Demo: run the canary against a local moto (IAM enforced) with a least-privilege user.
# canary-demo may DescribeTable/GetItem orders (us-east-1, eu-west-1) and customers
# (us-east-1) only; payroll exists but must be denied (expect: deny).
# Usage: scripts/demo.sh   (or: make demo)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/localaws/localaws.sh   # exports AWS_EC2_METADATA_DISABLED=true; stop_all on EXIT
PY=.venv/bin/python

start_moto
admin="$($PY scripts/localaws/localaws.py bootstrap --endpoint "$MOTO_URL")"
account="$(jget "$admin" arn | cut -d: -f5)"
tbl() { echo "arn:aws:dynamodb:$1:$account:table/$2"; }

spec="$("$PY" -c 'import json, sys
o1, o2, c = sys.argv[1:4]
print(json.dumps({
  "users": [{"name": "canary-demo", "policy": {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem"], "Resource": [o1, o2, c]}]}}],
  "tables": [
    {"name": "orders", "regions": ["us-east-1", "eu-west-1"], "key": [{"name": "pk", "type": "S"}]},
    {"name": "customers", "regions": ["us-east-1"], "key": [{"name": "pk", "type": "S"}]},
    {"name": "payroll", "regions": ["us-east-1"], "key": [{"name": "pk", "type": "S"}]}]}))' \
  "$(tbl us-east-1 orders)" "$(tbl eu-west-1 orders)" "$(tbl us-east-1 customers)")"
created="$($PY scripts/localaws/localaws.py apply --endpoint "$MOTO_URL" \
  --admin-key "$(jget "$admin" access_key_id)" --admin-secret "$(jget "$admin" secret_access_key)" \
  --spec - <<<"$spec")"

tmp="$(mktemp -d -t canary-demo.XXXXXX)"
trap 'stop_all; rm -rf "$tmp"' EXIT
# payroll has no describe probe, so its read probe needs an explicit sentinel key.
cat >"$tmp/config.json" <<'EOF'
{"defaults":{"regions":["us-east-1"],"probes":["describe","read"],"timeout_ms":2000},
 "targets":[{"table":"orders","regions":["us-east-1","eu-west-1"]},{"table":"customers"},
            {"table":"payroll","probes":["read"],"expect":"deny","key":{"pk":{"S":"__canary__"}}}],
 "metrics":{"sink":"emf"}}
EOF

# Only canary-demo's keys: no profile, no session token, no ~/.aws (HOME is a temp dir;
# cargo/rustup keep their real homes).
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
canary() {
  env -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL \
    -u AWS_ENDPOINT_URL_DYNAMODB -u AWS_REGION -u AWS_DEFAULT_REGION \
    HOME="$tmp" AWS_CONFIG_FILE="$tmp/no-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/no-credentials" \
    AWS_ACCESS_KEY_ID="$(jget "$created" users canary-demo access_key_id)" \
    AWS_SECRET_ACCESS_KEY="$(jget "$created" users canary-demo secret_access_key)" \
    cargo run --quiet -- check --config "$tmp/config.json" --endpoint-url "$MOTO_URL" --region us-east-1 "$@"
}

rc=0
echo "== canary check (text): the least-privilege user, healthy"
canary || rc=$?
echo "== canary check --output json"
canary --output json || rc=$?
echo "== exit status: $rc (0: healthy)"

# What the canary is for: the failure users meet first. A proxy in front of
# DynamoDB (dynalite here) strips the Authorization header, and DynamoDB
# answers MissingAuthenticationTokenException. STS still goes to moto, so the
# identity is fine: only the table probe fails, with its class and hint.
start_dynalite
"$PY" scripts/localaws/proxy.py --upstream "$DYNALITE_URL" --listen-port 0 --mode strip-auth --exit-with-parent \
  >"$tmp/proxy.port" 2>"$tmp/proxy.log" &
LOCALAWS_PIDS+=("$!")
for _ in $(seq 100); do grep -q PORT "$tmp/proxy.port" 2>/dev/null && break; sleep 0.1; done
proxy_url="http://127.0.0.1:$(sed -n 's/^PORT //p' "$tmp/proxy.port")"
echo '{"targets":[{"table":"orders"}],"metrics":{"sink":"none"}}' >"$tmp/stripped.json"
echo
echo "== a proxy strips the Authorization header in front of DynamoDB (expect exit 1)"
frc=0
env -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL -u AWS_REGION \
  HOME="$tmp" AWS_CONFIG_FILE="$tmp/no-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/no-credentials" \
  AWS_ACCESS_KEY_ID="$(jget "$created" users canary-demo access_key_id)" \
  AWS_SECRET_ACCESS_KEY="$(jget "$created" users canary-demo secret_access_key)" \
  AWS_ENDPOINT_URL_STS="$MOTO_URL" AWS_ENDPOINT_URL_DYNAMODB="$proxy_url" \
  AWS_ENDPOINT_URL_CLOUDWATCH="$MOTO_URL" \
  cargo run --quiet -- check --config "$tmp/stripped.json" --region us-east-1 || frc=$?
echo "== exit status: $frc (1: unhealthy, as it should be)"
[ "$frc" -eq 1 ] || rc=1

# What changed: an administrator removes canary-demo's read policy. The setup makes the
# IAM call in moto and records it in a local CloudTrail (moto's does not record IAM calls);
# the canary, denied, finds that change and prints it under each denied probe.
"$PY" scripts/localaws/cloudtrail.py --port 0 --exit-with-parent >"$tmp/ct.port" 2>"$tmp/ct.log" &
LOCALAWS_PIDS+=("$!")
for _ in $(seq 100); do grep -q PORT "$tmp/ct.port" 2>/dev/null && break; sleep 0.1; done
ct_url="http://127.0.0.1:$(sed -n 's/^PORT //p' "$tmp/ct.port")"
"$PY" - "$MOTO_URL" "$ct_url" "$(jget "$admin" access_key_id)" "$(jget "$admin" secret_access_key)" \
  "$(jget "$admin" arn)" <<'PYEOF'
import datetime, json, sys, urllib.request, uuid
import boto3
moto, ct, key, secret, admin_arn = sys.argv[1:6]
iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1",
                   aws_access_key_id=key, aws_secret_access_key=secret)
iam.delete_user_policy(UserName="canary-demo", PolicyName="canary")
when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=7)
record = {"eventVersion": "1.09", "eventID": str(uuid.uuid4()), "eventName": "DeleteUserPolicy",
          "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "iam.amazonaws.com",
          "awsRegion": "us-east-1", "readOnly": False, "sourceIPAddress": "198.51.100.7",
          "userIdentity": {"type": "IAMUser", "arn": admin_arn},
          "requestParameters": {"userName": "canary-demo", "policyName": "canary"}}
req = urllib.request.Request(ct + "/_seed", data=json.dumps({"events": [record]}).encode(), method="POST")
urllib.request.urlopen(req).read()
PYEOF
echo
echo "== canary-demo lost its policy: each denied probe names the change (expect exit 1)"
crc=0
env -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL_DYNAMODB \
  -u AWS_REGION -u AWS_DEFAULT_REGION \
  HOME="$tmp" AWS_CONFIG_FILE="$tmp/no-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/no-credentials" \
  AWS_ACCESS_KEY_ID="$(jget "$created" users canary-demo access_key_id)" \
  AWS_SECRET_ACCESS_KEY="$(jget "$created" users canary-demo secret_access_key)" \
  AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_CLOUDTRAIL="$ct_url" \
  cargo run --quiet -- check --config "$tmp/stripped.json" --region us-east-1 || crc=$?
echo "== exit status: $crc (1: unhealthy, and the change is named above)"
[ "$crc" -eq 1 ] || rc=1
exit "$rc"
