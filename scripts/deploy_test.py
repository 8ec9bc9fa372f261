#!/usr/bin/env python3
"""Deploy template.yaml into a local moto (IAM enforced) and prove the canary's role is
sufficient for the configured probes and no wider.

Usage: deploy_test.py [BINARY] [--template template.yaml] [--keep-logs]
  BINARY  the canary binary (default: target/debug/dynamodb-auth-canary)

Steps (each timed):
 1. translate the SAM template offline with aws-sam-translator (no AWS calls: a stub
    managed-policy map; the local CodeUri becomes an S3 placeholder, as `sam package`
    would make it);
 2. adapt it to moto: the function's Code becomes an inline placeholder (the binary is
    not deployed), and resource types moto's CloudFormation cannot create are stripped,
    with whatever references them; all of it is printed. The IAM role and its policies
    are never stripped or rewritten;
 3. start moto (scripts/moto_server.py, IAM enforced, per-table DynamoDB ARNs) on a
    free loopback port, bootstrap an admin, create tables orders and customers (the
    configuration) and payroll (outside it), all in us-east-1;
 4. create the stack with TableArns = orders, customers;
 5. check what moto created: the role's policies are exactly the template's, the
    function runs as that role with CANARY_CONFIG from the parameter, the schedule;
 6. let the admin assume the role (moto matches trust principals literally: the trust
    policy gets the admin user's ARN added, next to the template's lambda.amazonaws.com);
 7. run `check` with the role's credentials: orders + customers [describe, read] must
    pass (sufficient), payroll [describe, read] as must-deny must be denied (no wider);
    and, as a control, the same must-deny check with the admin's credentials must fail,
    so the deny check cannot pass vacuously.
Metrics use sink "none": moto cannot parse the CBOR of PutMetricData. moto evaluates
Action and Resource but no Condition keys: the conditions are checked statically by
scripts/template_checks.py.
Exit 0 when everything holds; 1 with the failing step and why.
"""
import argparse
import ast
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import localaws  # noqa: E402  (admin bootstrap, tables, boto3 clients with explicit keys)
import template_checks  # noqa: E402  (offline translation, intrinsic evaluation)

REGION = "us-east-1"
STACK = "canary-deploy-test"
CONFIGURED = ["orders", "customers"]
OUTSIDE = "payroll"
KEY = {"pk": {"S": "__canary__"}}
CODE_PLACEHOLDER = "placeholder: the canary binary is not deployed to moto"
# Not created by moto 5.2's CloudFormation; stripped (see the printout).
LOG = logging.getLogger("deploy_test")


class Fail(Exception):
    pass


def need(cond, message):
    if not cond:
        raise Fail(message)


class Steps:
    def __init__(self):
        self.times = []
        self.current = None

    def __call__(self, key, title):
        self.current = title
        self.times.append([key, time.monotonic()])
        print(f"== {title}", flush=True)

    def finish(self):
        end = time.monotonic()
        rows = []
        for i, (name, start) in enumerate(self.times):
            stop = self.times[i + 1][1] if i + 1 < len(self.times) else end
            rows.append((name, stop - start))
        return rows


# ------------------------------------------------------------------ template

def refs_in(node):
    """Logical ids a template node references (Ref, GetAtt, Sub)."""
    import re

    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add((v.split(".")[0] if isinstance(v, str) else v[0]))
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                out.update(m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
                if not isinstance(v, str):
                    out.update(refs_in(v[1]))
            else:
                out.update(refs_in(v))
    elif isinstance(node, list):
        for v in node:
            out.update(refs_in(v))
    return out


def adapt_for_moto(cfn):
    """Make the translated template creatable by moto. Returns (template, notes)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    supported = set(get_model_map()) - set(NULL_MODELS)
    res = cfn["Resources"]
    notes = []
    for lid, r in res.items():
        if r["Type"] == "AWS::Lambda::Function":
            r["Properties"]["Code"] = {"ZipFile": CODE_PLACEHOLDER}
            notes.append(f"{lid}: Code replaced by an inline placeholder (moto does not run it)")
    stripped = {lid: f"{r['Type']} (no moto CloudFormation support)"
                for lid, r in res.items() if r["Type"] not in supported}
    changed = True
    while changed:  # whatever references a stripped resource goes too
        changed = False
        for lid, r in res.items():
            if lid in stripped:
                continue
            deps = (refs_in(r.get("Properties", {})) | set(template_checks.as_list(r.get("DependsOn", []))))
            gone = sorted(deps & set(stripped))
            if gone:
                stripped[lid] = f"{r['Type']} (references stripped {', '.join(gone)})"
                changed = True
    for keep in ("CanaryRole", "CanaryFunction"):
        need(keep not in stripped, f"{keep} would have to be stripped: {stripped.get(keep)}")
    for lid in stripped:
        del res[lid]
    for name in [o for o, v in cfn.get("Outputs", {}).items() if refs_in(v) & set(stripped)]:
        del cfn["Outputs"][name]
        stripped[f"Outputs.{name}"] = "output (references a stripped resource)"
    return cfn, notes, stripped


# ------------------------------------------------------------------ moto

def moto_policy(doc):
    """A role policy as moto serves it -> (document, what had to be undone).

    moto 5.2 keeps an inline policy of an AWS::IAM::Role created by CloudFormation as
    the Python dict it resolved: GetRolePolicy then answers its repr, and moto's own
    authorizer cannot read it (it expects JSON text). It also leaves AWS::NoValue inside
    a list as None instead of removing the element."""
    fixes = []
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = ast.literal_eval(doc)
            fixes.append("moto stored a Python dict, not JSON")
    statements = doc.get("Statement", [])
    if isinstance(statements, list) and None in statements:
        doc["Statement"] = [st for st in statements if st is not None]
        fixes.append(f"dropped {statements.count(None)} AWS::NoValue left as null")
    return doc, fixes


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_moto(logdir):
    port = free_port()
    log = open(os.path.join(logdir, "moto.log"), "wb")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "moto_server.py"), "--host", "127.0.0.1",
                             "--port", str(port), "--exit-with-parent"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise Fail(f"moto exited with {proc.returncode}; log: {log.name}")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2)
            return proc, url
        except urllib.error.HTTPError:
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                raise Fail(f"moto not answering on {url} after 60 s")
            time.sleep(0.1)


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
    except subprocess.TimeoutExpired:
        raise Fail(f"{name}: the canary did not finish within 120 s")
    try:
        report = json.loads(r.stdout)
    except ValueError:
        raise Fail(f"{name}: exit {r.returncode}, stdout is not a JSON report:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.returncode, report


def probe_lines(report):
    return [f"    {p['table']:<10} {p['region']:<10} {p['probe']:<9} expect={p['expect']:<5} "
            f"{p['outcome']:<7} {p['class']:<18} {p.get('message') or ''}"[:160]
            for p in report.get("probes", [])]


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--template", default=os.path.join(ROOT, "template.yaml"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with moto's log")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"deploy_test: no canary binary at {a.binary} (cargo build)", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

    tmp = tempfile.mkdtemp(prefix="canary-deploy-test.")
    step, moto, ok = Steps(), None, False
    summary = []
    try:
        # 1 ------------------------------------------------------------
        step("translate", "translate the SAM template (aws-sam-translator, offline)")
        sam = template_checks.load_sam(a.template)
        account = "123456789012"  # moto's default account; checked against the admin's ARN below
        arn = lambda name: f"arn:aws:dynamodb:{REGION}:{account}:table/{name}"  # noqa: E731
        base_config = {"defaults": {"regions": [REGION], "probes": ["describe", "read"], "timeout_ms": 5000},
                       "targets": [{"table": t} for t in CONFIGURED],
                       "metrics": {"sink": "none"}, "deadline_ms": 20000}
        params = {"CanaryConfig": json.dumps(base_config, separators=(",", ":")),
                  "TableArns": ",".join(arn(t) for t in CONFIGURED),
                  # Passed although it is the default: moto splits a CommaDelimitedList only
                  # when it is passed, and would grant the one action "A,B".
                  "ProbeActions": sam["Parameters"]["ProbeActions"]["Default"]}
        # ScheduleMinutes keeps its default: moto turns a passed Number into an int, which
        # then misses the string keys of the ScheduleTable mapping.
        try:
            cfn = template_checks.translate(sam, params)
        except Exception as e:
            raise Fail(f"translation failed: {e}")
        expected_policies = {}
        ev = template_checks.Evaluator(cfn, params, account=account, region=REGION)
        for pol in dict(ev.resources("AWS::IAM::Role"))["CanaryRole"]["Properties"]["Policies"]:
            expected_policies[pol["PolicyName"]] = pol["PolicyDocument"]
        print(f"   {len(cfn['Resources'])} CloudFormation resources")

        # 2 ------------------------------------------------------------
        step("adapt", "adapt the template to moto")
        cfn, notes, stripped = adapt_for_moto(cfn)
        for n in notes:
            print(f"   {n}")
        for lid, why in stripped.items():
            print(f"   stripped {lid}: {why}")
        kept = {lid: r["Type"] for lid, r in cfn["Resources"].items()}
        print(f"   kept: {', '.join(f'{k} ({v})' for k, v in kept.items())}")

        # 3 ------------------------------------------------------------
        step("moto+tables", "start moto, bootstrap an admin, create tables")
        moto, url = start_moto(tmp)
        admin = localaws.bootstrap(argparse.Namespace(endpoint=url))
        need(admin["arn"].split(":")[4] == account, f"moto's account is {admin['arn'].split(':')[4]}, expected {account}")
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump({"tables": [{"name": t, "regions": [REGION], "key": [{"name": "pk", "type": "S"}]}
                                  for t in CONFIGURED + [OUTSIDE]]}, f)
        tables = localaws.apply(argparse.Namespace(endpoint=url, admin_key=admin["access_key_id"],
                                                   admin_secret=admin["secret_access_key"], spec=spec_path))["tables"]
        for t in CONFIGURED + [OUTSIDE]:
            need(tables[t][REGION] == arn(t), f"table {t}: ARN {tables[t][REGION]} != {arn(t)}")
        print(f"   {url}; tables {', '.join(CONFIGURED)} (configured), {OUTSIDE} (outside the configuration)")
        client = lambda svc: localaws.client(svc, url, admin["access_key_id"], admin["secret_access_key"])  # noqa: E731

        # 4 ------------------------------------------------------------
        step("create_stack", "create the stack in moto's CloudFormation")
        cf = client("cloudformation")
        try:
            cf.create_stack(StackName=STACK, TemplateBody=json.dumps(cfn), Capabilities=["CAPABILITY_IAM"],
                            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        except Exception as e:
            raise Fail(f"create_stack: {type(e).__name__}: {e}")
        stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
        need(stack["StackStatus"] == "CREATE_COMPLETE", f"stack status {stack['StackStatus']}: "
             f"{stack.get('StackStatusReason')}")
        resources = {r["LogicalResourceId"]: r for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
        missing = sorted(set(kept) - set(resources))
        need(not missing, f"moto did not create {missing}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        print(f"   {stack['StackStatus']}: {len(resources)} resources; outputs {sorted(outputs)}")

        # 5 ------------------------------------------------------------
        step("inspect", "inspect what moto created")
        iam = client("iam")
        role_name = resources["CanaryRole"]["PhysicalResourceId"]
        role = iam.get_role(RoleName=role_name)["Role"]
        need(outputs.get("CanaryRoleArn") in (None, role["Arn"]), "output CanaryRoleArn is not the role's ARN")
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        need(any(st.get("Principal", {}).get("Service") == "lambda.amazonaws.com" for st in trust["Statement"]),
             f"the role does not trust lambda.amazonaws.com: {trust}")
        names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        need(sorted(names) == sorted(expected_policies), f"role policies {names}, template declares {sorted(expected_policies)}")
        attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        need(not attached, f"managed policies attached that the template does not declare: {attached}")
        log_group_arn = None
        if "CanaryLogGroup" in resources:
            logs = client("logs")
            groups = logs.describe_log_groups(logGroupNamePrefix=resources["CanaryLogGroup"]["PhysicalResourceId"])
            log_group_arn = next((g["arn"] for g in groups["logGroups"]), None)
        for name in names:
            got, fixes = moto_policy(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
            want = expected_policies[name]
            # GetAtt CanaryLogGroup.Arn: AWS answers ...:log-group:NAME:*, moto without ":*".
            seen = json.dumps(got)
            if log_group_arn:
                for form in (log_group_arn, log_group_arn.removesuffix(":*")):
                    seen = seen.replace(json.dumps(form), '"<CanaryLogGroup.Arn>"')
            need(json.loads(seen) == want, f"policy {name} in moto differs from the template's:\n  moto:     {json.dumps(got)}"
                 f"\n  template: {json.dumps(want)}")
            sids = [st.get("Sid") for st in got["Statement"]]
            print(f"   role {role_name}: policy {name} = the template's ({', '.join(sids)})")
            if fixes:
                # Same document, stored the way moto's own authorizer can read it.
                iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(got))
                print(f"   moto workaround: re-stored {name} unchanged as JSON ({'; '.join(fixes)})")
        fn_name = resources["CanaryFunction"]["PhysicalResourceId"]
        fn_arn = f"arn:aws:lambda:{REGION}:{account}:function:{fn_name}"
        need(outputs.get("CanaryFunctionArn") == fn_arn, f"output CanaryFunctionArn {outputs.get('CanaryFunctionArn')}")
        # Not read back: moto's Lambda REST API fails SigV4 verification under IAM
        # enforcement (it re-signs with the headers as the body), so GetFunctionConfiguration
        # answers SignatureDoesNotMatch. template_checks.py covers the function's properties.
        print(f"   function {fn_name} created (its configuration cannot be read back from moto's Lambda API)")
        rule_id = next((lid for lid, r in kept.items() if r == "AWS::Events::Rule"), None)
        if rule_id:
            events = client("events")
            rule = events.describe_rule(Name=resources[rule_id]["PhysicalResourceId"])
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            need(rule.get("ScheduleExpression") == "rate(5 minutes)", f"schedule {rule.get('ScheduleExpression')!r}")
            need([t["Arn"] for t in targets] == [fn_arn], f"rule targets {targets}")
            print(f"   rule {rule['Name']}: {rule['ScheduleExpression']} -> the function")

        # 6 ------------------------------------------------------------
        step("assume", "let the admin assume the role")
        # The template's trust policy (lambda.amazonaws.com, checked above) is replaced, not
        # extended: moto matches principals literally, and its AssumeRole crashes (HTTP 500,
        # TypeError in _check_principal) on any statement whose Principal is a Service.
        test_trust = {"Version": "2012-10-17", "Statement": [{
            "Sid": "DeployTestOnly", "Effect": "Allow", "Principal": {"AWS": admin["arn"]}, "Action": "sts:AssumeRole"}]}
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(test_trust))
        print(f"   trust policy of {role_name} REPLACED by one trusting {admin['arn']} (moto matches principals"
              " literally and fails on Service principals); permission policies untouched")
        c = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="canary")["Credentials"]
        creds = {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
                 "session_token": c["SessionToken"]}

        # 7 ------------------------------------------------------------
        step("check-allow", "check as the role: configured tables must pass (sufficient)")
        allow_cfg = dict(base_config, expect={"role": role_name})
        rc, rep = run_canary(a.binary, allow_cfg, creds, url, tmp, "allow")
        print("\n".join(probe_lines(rep)))
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
        print("\n".join(probe_lines(rep)))
        need(rc == 0 and rep.get("healthy") is True and len(rep["probes"]) == 2
             and all(p["outcome"] == "ok" and p["expect"] == "deny" for p in rep["probes"]),
             f"exit {rc}: the role can reach {OUTSIDE}, the template's policy is too wide")
        summary.append(f"role denied DescribeTable+GetItem on {OUTSIDE}: ok (denied as expected)")

        step("control", "control: the same must-deny check as the admin must fail")
        rc, rep = run_canary(a.binary, deny_cfg, admin, url, tmp, "control")
        print("\n".join(probe_lines(rep)))
        need(rc == 1 and all(p["class"] == "unexpected_access" for p in rep["probes"]),
             f"exit {rc}: with admin rights the must-deny check did not report unexpected_access, "
             "so the deny check above proves nothing")
        summary.append("control: admin's access to payroll is reported as unexpected_access: ok")
        ok = True
    except Fail as e:
        print(f"deploy_test: FAILED at '{step.current}': {e}", file=sys.stderr)
    except Exception as e:  # boto, moto, I/O: still a failure with the step named
        print(f"deploy_test: FAILED at '{step.current}': {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        if moto is not None:
            moto.terminate()
            try:
                moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                moto.kill()
        if not ok:
            try:
                with open(os.path.join(tmp, "moto.log"), errors="replace") as f:
                    tail = f.read().splitlines()[-25:]
                print("-- moto log (tail):\n" + "\n".join(tail), file=sys.stderr)
            except OSError:
                pass
        rows = step.finish()
        if a.keep_logs or not ok:
            print(f"deploy_test: logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("== summary")
    for line in summary:
        print(f"   {line}")
    print("   timings: " + ", ".join(f"{n} {t:.1f}s" for n, t in rows) + f"; total {sum(t for _, t in rows):.1f}s")
    print(f"deploy_test: {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
