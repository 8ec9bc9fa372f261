#!/usr/bin/env python3
"""Deploy template.yaml into a local moto (IAM enforced) and prove the canary's role is
sufficient for the configured probes and no wider.

Usage: deploy_test.py [BINARY] [--template template.yaml] [--keep-logs]
  BINARY  the canary binary (default: target/debug/dynamodb-auth-canary)

Steps (each timed):
 1. translate and resolve the template with scripts/cfn_template.py (offline);
 2. adapt it to moto: the function's Code becomes an inline placeholder (the binary is not
    deployed); resource types moto's CloudFormation cannot create (alarms, subscriptions,
    dashboard, EventInvokeConfig) are stripped with whatever references them, and printed.
    The IAM role and its policies are never stripped or rewritten;
 3. start moto (scripts/moto_server.py, IAM enforced, per-table DynamoDB ARNs) on a free
    loopback port, bootstrap an admin, create tables orders and customers (the
    configuration) and payroll (outside it), in us-east-1;
 4. create the stack with TableArns = orders, customers;
 5. check what moto created: the role's policies are exactly the template's as the reader
    resolves them, no managed policy, the role trusts lambda.amazonaws.com, the function and
    its output ARN, the schedule rule and its target;
 6. replace the role's trust policy by one trusting the admin (moto matches principals
    literally and fails on Service principals) and assume the role;
 7. run `check` with the role's credentials: orders + customers [describe, read] must pass
    (sufficient), payroll [describe, read] as must-deny must be denied (no wider); as a
    control, the same must-deny check with the admin's credentials must fail, so the deny
    check cannot pass vacuously.
Metrics use sink "none": moto cannot parse the CBOR of PutMetricData. moto evaluates Action
and Resource but no Condition keys: conditions are checked by rules/canary.guard and
scripts/template_checks.py.
Exit 0 when everything holds; 1 with the failing step and why.
"""
import argparse
import ast
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cfn_template  # noqa: E402  (translation, resolution)
import localaws  # noqa: E402  (admin bootstrap, tables, boto3 clients with explicit keys)

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's default account; checked against the admin's ARN
STACK = "canary-deploy-test"
CONFIGURED, OUTSIDE = ["orders", "customers"], "payroll"
KEY = {"pk": {"S": "__canary__"}}


class Fail(Exception):
    pass


def need(cond, message):
    if not cond:
        raise Fail(message)


def arn(table):
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


# ------------------------------------------------------------------ moto

def adapt_for_moto(cfn):
    """Make the translated template creatable by moto: returns (template, what changed)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    supported = set(get_model_map()) - set(NULL_MODELS)
    cfn = copy.deepcopy(cfn)
    res, changes = cfn["Resources"], {}
    for lid, r in res.items():
        if r["Type"] == "AWS::Lambda::Function":
            r["Properties"]["Code"] = {"ZipFile": "placeholder: the canary binary is not deployed to moto"}
            changes[lid] = "Code replaced by an inline placeholder (moto does not run it)"
    stripped = {lid: f"stripped: {r['Type']} (no moto CloudFormation support)"
                for lid, r in res.items() if r["Type"] not in supported}
    changed = True
    while changed:  # whatever references a stripped resource goes too
        changed = False
        for lid, r in res.items():
            deps = cfn_template.references(r.get("Properties", {})) | set(cfn_template.as_list(r.get("DependsOn", [])))
            gone = sorted(deps & set(stripped))
            if lid not in stripped and gone:
                stripped[lid], changed = f"stripped: {r['Type']} (references stripped {', '.join(gone)})", True
    for keep in ("CanaryRole", "CanaryFunction"):
        need(keep not in stripped, f"{keep} would have to be {stripped.get(keep)}")
    for lid in stripped:
        del res[lid]
    for name in [o for o, v in cfn.get("Outputs", {}).items() if cfn_template.references(v) & set(stripped)]:
        del cfn["Outputs"][name]
        stripped[f"Outputs.{name}"] = "stripped: output (references a stripped resource)"
    return cfn, {**changes, **stripped}


def moto_policy(doc):
    """A role policy as moto serves it -> (document, what had to be undone). moto 5.2 keeps
    an inline policy of a CloudFormation-created role as the Python dict it resolved
    (GetRolePolicy answers its repr, its own authorizer cannot read it), and leaves
    AWS::NoValue in a list as None."""
    fixes = []
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc, fixes = ast.literal_eval(doc), ["moto stored a Python dict, not JSON"]
    if None in doc.get("Statement", []):
        fixes.append(f"dropped {doc['Statement'].count(None)} AWS::NoValue left as null")
        doc["Statement"] = [st for st in doc["Statement"] if st is not None]
    return doc, fixes


def start_moto(logdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(logdir, "moto.log"), "wb")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "moto_server.py"), "--host", "127.0.0.1",
                             "--port", str(port), "--exit-with-parent"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        need(proc.poll() is None, f"moto exited with {proc.returncode}; log: {log.name}")
        try:
            localaws.wait(argparse.Namespace(endpoint=url, timeout=0.1))
            return proc, url
        except SystemExit:
            need(time.monotonic() < deadline, f"moto not answering on {url} after 60 s")


# ------------------------------------------------------------------ the canary

def run_canary(binary, config, creds, url, tmp, name):
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    # Only these credentials: no inherited AWS_* variables, no profile, no ~/.aws.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
           "AWS_CONFIG_FILE": os.path.join(tmp, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ACCESS_KEY_ID": creds["access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"]}
    if creds.get("session_token"):
        env["AWS_SESSION_TOKEN"] = creds["session_token"]
    cmd = [binary, "check", "--config", path, "--output", "json", "--endpoint-url", url, "--region", REGION]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        report = json.loads(r.stdout)
    except subprocess.TimeoutExpired:
        raise Fail(f"{name}: the canary did not finish within 120 s")
    except ValueError:
        raise Fail(f"{name}: exit {r.returncode}, stdout is not a JSON report:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    for p in report.get("probes", []):
        print(f"    {p['table']:<10} {p['region']:<10} {p['probe']:<9} expect={p['expect']:<5} "
              f"{p['outcome']:<7} {p['class']:<18} {p.get('message') or ''}"[:160])
    return r.returncode, report


# ------------------------------------------------------------------ main

def deploy_and_probe(a, tmp, step, summary):
    step("translate", "translate and resolve the template (scripts/cfn_template.py, offline)")
    sam = cfn_template.load(a.template)
    base_config = {"defaults": {"regions": [REGION], "probes": ["describe", "read"], "timeout_ms": 5000},
                   "targets": [{"table": t} for t in CONFIGURED], "metrics": {"sink": "none"}, "deadline_ms": 20000}
    params = {"CanaryConfig": json.dumps(base_config, separators=(",", ":")),
              "TableArns": ",".join(arn(t) for t in CONFIGURED),
              # Passed although it is the default: moto splits a CommaDelimitedList only when
              # it is passed, and would grant the one action "A,B".
              "ProbeActions": sam["Parameters"]["ProbeActions"]["Default"]}
    # ScheduleMinutes keeps its default: moto turns a passed Number into an int, which then
    # misses the string keys of the ScheduleTable mapping.
    try:
        stack = cfn_template.resolve(params, sam, account=ACCOUNT, region=REGION)
    except Exception as e:
        raise Fail(f"translation failed: {e}")
    expected = {pol["PolicyName"]: pol["PolicyDocument"]
                for pol in stack.resources("AWS::IAM::Role")["CanaryRole"]["Properties"]["Policies"]}
    print(f"   {len(stack.cfn['Resources'])} CloudFormation resources")

    step("adapt", "adapt the template to moto")
    cfn, changes = adapt_for_moto(stack.cfn)
    for lid, why in changes.items():
        print(f"   {lid}: {why}")
    kept = {lid: r["Type"] for lid, r in cfn["Resources"].items()}
    print(f"   kept: {', '.join(f'{k} ({v})' for k, v in kept.items())}")

    step("moto+tables", "start moto, bootstrap an admin, create tables")
    moto, url = start_moto(tmp)
    a.moto = moto
    admin = localaws.bootstrap(argparse.Namespace(endpoint=url))
    need(admin["arn"].split(":")[4] == ACCOUNT, f"moto's account is {admin['arn'].split(':')[4]}, expected {ACCOUNT}")
    spec_path = os.path.join(tmp, "spec.json")
    with open(spec_path, "w") as f:
        json.dump({"tables": [{"name": t, "regions": [REGION], "key": [{"name": "pk", "type": "S"}]}
                              for t in CONFIGURED + [OUTSIDE]]}, f)
    tables = localaws.apply(argparse.Namespace(endpoint=url, admin_key=admin["access_key_id"],
                                               admin_secret=admin["secret_access_key"], spec=spec_path))["tables"]
    for t in CONFIGURED + [OUTSIDE]:
        need(tables[t][REGION] == arn(t), f"table {t}: ARN {tables[t][REGION]} != {arn(t)}")
    print(f"   {url}; tables {', '.join(CONFIGURED)} (configured), {OUTSIDE} (outside the configuration)")

    def client(svc):
        return localaws.client(svc, url, admin["access_key_id"], admin["secret_access_key"])

    step("create_stack", "create the stack in moto's CloudFormation")
    cf = client("cloudformation")
    try:
        cf.create_stack(StackName=STACK, TemplateBody=json.dumps(cfn), Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    except Exception as e:
        raise Fail(f"create_stack: {type(e).__name__}: {e}")
    desc = cf.describe_stacks(StackName=STACK)["Stacks"][0]
    need(desc["StackStatus"] == "CREATE_COMPLETE", f"stack status {desc['StackStatus']}: {desc.get('StackStatusReason')}")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
    need(set(kept) <= set(physical), f"moto did not create {sorted(set(kept) - set(physical))}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    print(f"   {desc['StackStatus']}: {len(physical)} resources; outputs {sorted(outputs)}")

    step("inspect", "inspect what moto created")
    iam, role_name = client("iam"), physical["CanaryRole"]
    role = iam.get_role(RoleName=role_name)["Role"]
    need(outputs.get("CanaryRoleArn") in (None, role["Arn"]), "output CanaryRoleArn is not the role's ARN")
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    need(any(st.get("Principal", {}).get("Service") == "lambda.amazonaws.com" for st in trust["Statement"]),
         f"the role does not trust lambda.amazonaws.com: {trust}")
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    need(sorted(names) == sorted(expected), f"role policies {names}, template declares {sorted(expected)}")
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    need(not attached, f"managed policies attached that the template does not declare: {attached}")
    log_group_arn = None
    if "CanaryLogGroup" in physical:
        groups = client("logs").describe_log_groups(logGroupNamePrefix=physical["CanaryLogGroup"])["logGroups"]
        log_group_arn = next((g["arn"] for g in groups), None)
    for name in names:
        got, fixes = moto_policy(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        # GetAtt CanaryLogGroup.Arn: AWS answers ...:log-group:NAME:*, moto without ":*".
        seen = json.dumps(got)
        for form in (log_group_arn, (log_group_arn or "").removesuffix(":*")) if log_group_arn else ():
            seen = seen.replace(json.dumps(form), '"<CanaryLogGroup.Arn>"')
        need(json.loads(seen) == expected[name], f"policy {name} in moto differs from the template's:\n"
             f"  moto:     {json.dumps(got)}\n  template: {json.dumps(expected[name])}")
        print(f"   role {role_name}: policy {name} = the template's ({', '.join(st.get('Sid', '?') for st in got['Statement'])})")
        if fixes:  # the same document, stored the way moto's own authorizer can read it
            iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(got))
            print(f"   moto workaround: re-stored {name} unchanged as JSON ({'; '.join(fixes)})")
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical['CanaryFunction']}"
    need(outputs.get("CanaryFunctionArn") == fn_arn, f"output CanaryFunctionArn {outputs.get('CanaryFunctionArn')}")
    # Not read back: moto's Lambda REST API fails SigV4 verification under IAM enforcement, so
    # GetFunctionConfiguration answers SignatureDoesNotMatch. rules/canary.guard and
    # template_checks.py cover the function's properties.
    print(f"   function {physical['CanaryFunction']} created (its configuration cannot be read back from moto)")
    for lid in [lid for lid, t in kept.items() if t == "AWS::Events::Rule"]:
        events = client("events")
        rule = events.describe_rule(Name=physical[lid])
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        need(rule.get("ScheduleExpression") == "rate(5 minutes)", f"schedule {rule.get('ScheduleExpression')!r}")
        need([t["Arn"] for t in targets] == [fn_arn], f"rule targets {targets}")
        print(f"   rule {rule['Name']}: {rule['ScheduleExpression']} -> the function")

    step("assume", "let the admin assume the role")
    # Replaced, not extended: moto matches principals literally, and its AssumeRole crashes
    # (HTTP 500, TypeError in _check_principal) on any statement whose Principal is a Service.
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "DeployTestOnly", "Effect": "Allow",
                                                "Principal": {"AWS": admin["arn"]}, "Action": "sts:AssumeRole"}]}))
    print(f"   trust policy of {role_name} REPLACED by one trusting {admin['arn']} (moto matches principals"
          " literally and fails on Service principals); permission policies untouched")
    c = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="canary")["Credentials"]
    creds = {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"], "session_token": c["SessionToken"]}

    step("check-allow", "check as the role: configured tables must pass (sufficient)")
    rc, rep = run_canary(a.binary, dict(base_config, expect={"role": role_name}), creds, url, tmp, "allow")
    ident = rep.get("identity", {})
    need(ident.get("outcome") == "ok" and ident.get("role") == role_name,
         f"identity {ident.get('outcome')}/{ident.get('class')}: {ident.get('arn')} (expected role {role_name})")
    want = {(t, p) for t in CONFIGURED for p in ("describe", "read")}
    got = {(p["table"], p["probe"]) for p in rep["probes"] if p["outcome"] == "ok"}
    need(rc == 0 and rep.get("healthy") is True and got == want and len(rep["probes"]) == len(want),
         f"exit {rc}, healthy={rep.get('healthy')}: the template's policy is not sufficient "
         f"(passed {sorted(got)}, want {sorted(want)})")
    summary.append(f"role may DescribeTable+GetItem {', '.join(CONFIGURED)}: ok ({len(want)} probes)")

    step("check-deny", f"check as the role: {OUTSIDE} must be denied (no wider)")
    deny_cfg = {"targets": [{"table": OUTSIDE, "probes": ["describe", "read"], "expect": "deny", "key": KEY}],
                "defaults": {"regions": [REGION], "timeout_ms": 5000}, "metrics": {"sink": "none"}}
    rc, rep = run_canary(a.binary, deny_cfg, creds, url, tmp, "deny")
    need(rc == 0 and rep.get("healthy") is True and len(rep["probes"]) == 2
         and all(p["outcome"] == "ok" and p["expect"] == "deny" for p in rep["probes"]),
         f"exit {rc}: the role can reach {OUTSIDE}, the template's policy is too wide")
    summary.append(f"role denied DescribeTable+GetItem on {OUTSIDE}: ok (denied as expected)")

    step("control", "control: the same must-deny check as the admin must fail")
    rc, rep = run_canary(a.binary, deny_cfg, admin, url, tmp, "control")
    need(rc == 1 and all(p["class"] == "unexpected_access" for p in rep["probes"]),
         f"exit {rc}: with admin rights the must-deny check did not report unexpected_access, "
         "so the deny check above proves nothing")
    summary.append(f"control: admin's access to {OUTSIDE} is reported as unexpected_access: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(cfn_template.ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--template", default=cfn_template.TEMPLATE)
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with moto's log")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"deploy_test: no canary binary at {a.binary} (cargo build)", file=sys.stderr)
        sys.exit(2)
    tmp = tempfile.mkdtemp(prefix="canary-deploy-test.")
    times, summary, ok, a.moto = [], [], False, None

    def step(key, title):
        times.append((key, title, time.monotonic()))
        print(f"== {title}", flush=True)

    try:
        deploy_and_probe(a, tmp, step, summary)
        ok = True
    except Exception as e:  # Fail, or boto, moto, I/O: a failure with the step named
        why = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
        print(f"deploy_test: FAILED at '{times[-1][1] if times else 'start'}': {why}", file=sys.stderr)
    finally:
        if a.moto is not None:
            a.moto.terminate()
            try:
                a.moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                a.moto.kill()
        if not ok:
            try:
                with open(os.path.join(tmp, "moto.log"), errors="replace") as f:
                    print("-- moto log (tail):\n" + "\n".join(f.read().splitlines()[-25:]), file=sys.stderr)
            except OSError:
                pass
        if a.keep_logs or not ok:
            print(f"deploy_test: logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ends = [t for _, _, t in times[1:]] + [time.monotonic()]
    print("== summary")
    for line in summary:
        print(f"   {line}")
    print("   timings: " + ", ".join(f"{k} {end - t:.1f}s" for (k, _, t), end in zip(times, ends))
          + f"; total {ends[-1] - (times[0][2] if times else ends[-1]):.1f}s")
    print(f"deploy_test: {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
