#!/usr/bin/env python3
"""Set up IAM users/roles and DynamoDB tables on a local moto server.

Used by tests, the demo and benchmarks. Prints JSON to stdout; errors go to
stderr with a non-zero exit. Credentials are always explicit, never looked up.
moto notes: AssumeRole needs BOTH the role's trust policy (principal ARNs matched
literally) AND an identity policy of the caller allowing sts:AssumeRole on the role.

  localaws.py bootstrap --endpoint URL
  localaws.py apply     --endpoint URL --admin-key ID --admin-secret S --spec FILE|-
  localaws.py assume    --endpoint URL --key ID --secret S [--session-token T] --role-arn ARN
                        [--session-name N] [--duration S]
  localaws.py wait      --endpoint URL [--timeout S]
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import timezone

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)

IAM_REGION = "us-east-1"
ADMIN_USER = "canary-admin"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def client(service, endpoint, key, secret, region=IAM_REGION, token=None):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def http(endpoint, path, data=None, timeout=5):
    req = urllib.request.Request(endpoint.rstrip("/") + path, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "text/plain"})  # not form-encoded: moto reads request.data
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


def bootstrap(a):
    # Runs inside moto's unauthenticated allowance (INITIAL_NO_AUTH_ACTION_COUNT): 3 requests.
    iam = client("iam", a.endpoint, "bootstrap", "bootstrap")
    try:
        arn = iam.create_user(UserName=ADMIN_USER)["User"]["Arn"]
    except Exception as e:
        sys.exit(f"bootstrap: CreateUser failed ({e}); bootstrap must be the first call on a fresh server")
    iam.put_user_policy(UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    # Close the allowance so every later request is authenticated, whatever N was.
    http(a.endpoint, "/moto-api/reset-auth", data=b"0")
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "arn": arn}


def apply(a):
    spec = json.load(sys.stdin if a.spec == "-" else open(a.spec))
    admin = dict(endpoint=a.endpoint, key=a.admin_key, secret=a.admin_secret)
    iam = client("iam", **admin)
    out = {"users": {}, "roles": {}, "tables": {}}

    for u in spec.get("users", []):
        arn = iam.create_user(UserName=u["name"])["User"]["Arn"]
        if u.get("policy"):
            iam.put_user_policy(UserName=u["name"], PolicyName="canary", PolicyDocument=json.dumps(u["policy"]))
        key = iam.create_access_key(UserName=u["name"])["AccessKey"]
        out["users"][u["name"]] = {
            "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "arn": arn}

    for r in spec.get("roles", []):
        # moto matches trust principals literally: list the exact user/role ARNs.
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": list(r.get("trust", []))}, "Action": "sts:AssumeRole"}]}
        arn = iam.create_role(RoleName=r["name"], AssumeRolePolicyDocument=json.dumps(trust), Path=r.get("path", "/"),
                              MaxSessionDuration=int(r.get("max_session_seconds", 3600)))["Role"]["Arn"]
        if r.get("policy"):
            iam.put_role_policy(RoleName=r["name"], PolicyName="canary", PolicyDocument=json.dumps(r["policy"]))
        out["roles"][r["name"]] = {"arn": arn}

    for t in spec.get("tables", []):
        keys = t["key"]
        attrs = [{"AttributeName": k["name"], "AttributeType": k.get("type", "S")} for k in keys]
        schema = [{"AttributeName": k["name"], "KeyType": kt} for k, kt in zip(keys, ("HASH", "RANGE"))]
        arns = {}
        for region in t.get("regions", [IAM_REGION]):
            ddb = client("dynamodb", region=region, **admin)
            desc = ddb.create_table(TableName=t["name"], AttributeDefinitions=attrs, KeySchema=schema,
                                    BillingMode="PAY_PER_REQUEST")["TableDescription"]
            if t.get("ttl_attribute"):
                ddb.update_time_to_live(TableName=t["name"], TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": t["ttl_attribute"]})
            arns[region] = desc["TableArn"]
        out["tables"][t["name"]] = arns

    for p in spec.get("parameters", []):
        ssm = client("ssm", region=p.get("region", IAM_REGION), **admin)
        ssm.put_parameter(Name=p["name"], Value=p["value"], Type="String", Overwrite=True,
                          Tier=p.get("tier", "Standard"))
    return out


def assume(a):
    sts = client("sts", a.endpoint, a.key, a.secret, token=a.session_token)
    kw = {"RoleArn": a.role_arn, "RoleSessionName": a.session_name}
    if a.duration:
        kw["DurationSeconds"] = a.duration
    c = sts.assume_role(**kw)["Credentials"]
    return {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
            "session_token": c["SessionToken"], "expiration": c["Expiration"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def wait(a):
    # GET /moto-api/ answers on moto without using up the unauthenticated allowance
    # (a GET / would be routed to a service and count); any HTTP status counts as up.
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            status, _ = http(a.endpoint, "/moto-api/", timeout=2)
            return {"endpoint": a.endpoint, "status": status}
        except urllib.error.HTTPError as e:
            return {"endpoint": a.endpoint, "status": e.code}
        except OSError as e:
            if time.monotonic() > deadline:
                sys.exit(f"wait: {a.endpoint} not answering after {a.timeout}s: {e}")
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("bootstrap")
    p.add_argument("--endpoint", required=True)
    p = sub.add_parser("apply")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--admin-key", required=True)
    p.add_argument("--admin-secret", required=True)
    p.add_argument("--spec", required=True, help="JSON file, or - for stdin")
    p = sub.add_parser("assume")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--session-token", help="when the caller is itself an assumed role (chaining)")
    p.add_argument("--role-arn", required=True)
    p.add_argument("--session-name", default="canary")
    p.add_argument("--duration", type=int)
    p = sub.add_parser("wait")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    try:
        result = {"bootstrap": bootstrap, "apply": apply, "assume": assume, "wait": wait}[a.cmd](a)
    except SystemExit:
        raise
    except KeyError as e:
        sys.exit(f"{a.cmd}: spec is missing field {e}")
    except Exception as e:  # botocore ClientError, bad spec, I/O
        sys.exit(f"{a.cmd}: {type(e).__name__}: {e}")
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
