#!/usr/bin/env python3
"""Prove the fleet (fleet/): the stack-set package, the code bucket and the monitoring
account's template; statically where moto cannot go, in moto where it can.

Usage: fleet_test.py run [BINARY] [--keep-logs]
       fleet_test.py resolve TEMPLATE [--param NAME=VALUE]...   (JSON for cfn-guard)

`run`:
 1. static (offline):
    - fleet/canary-stackset.yaml is what fleet/build.py makes from template.yaml, and it
      keeps every parameter, resource and output of the translation;
    - fleet/monitoring.yaml: its ScheduleTable equals template.yaml's; each fleet alarm
      watches a metric of the contract (`BINARY metrics --contract`) under the Canary
      dimension set, grouped by AWS.AccountId, with the M of N, missing-data treatment
      and topic (paging or not) of template.yaml's alarm on the same metric; one heartbeat
      per account of AccountIds, watching that account's CanaryRuns, naming the account;
    - the sink policy admits exactly the organization (and the paths, when given);
 2. moto: an organization (management account 123456789012) with two member accounts in
    two OUs; in each of two regions a code bucket deployed from fleet/code-bucket.yaml in the
    management account, the code uploaded; each account's tables (they differ) and its
    configuration in its own SSM parameter;
 3. `BINARY fleet` for that organization: its stack-set parameters and each account's
    overrides are what the test deploys (nothing computed twice);
 4. a SERVICE_MANAGED stack set from the package, with stack instances for both OUs in both
    regions (4 canaries); in each account and region the function exists, reads its code
    from the organization's bucket, has the fleet's environment; `check` run with the
    function's role and environment passes against that account's own tables, and the
    role is denied a table of the account outside its configuration.

What moto 5.2.5 does not do, and what stands in:
 - AWS::Oam::Sink / AWS::Oam::Link: no moto support at all (no OAM service): the link is
   stripped before the stack set is created and both are checked statically (cfn-lint,
   rules/fleet.guard, step 1). Nothing here proves that AWS accepts the sink policy or that
   metrics cross the link.
 - Alarms (standard, Metrics Insights), dashboards, EventInvokeConfig: not created by moto's
   CloudFormation (stripped, as in deploy_test.py); the fleet alarms are checked statically.
 - AWS::LanguageExtensions (Fn::ForEach in fleet/monitoring.yaml): not expanded by moto;
   this script expands it for the static checks and cfn-guard.
 - Stack instances: moto deploys them into the member accounts, but a stack instance's
   ParameterOverrides replace the stack set's parameters instead of overriding some
   (the test passes the merged list), UpdateStackInstances changes nothing deployed
   (the test creates each account's instances with its overrides), and OU targets with
   Accounts + AccountFilterType are not filtered (the test gives each account its own OU).
   Auto-deployment to an account that joins later is not simulated.
 - fleet/code-bucket.yaml: moto's CloudFormation creates the bucket but ignores its public
   access block and versioning and has no AWS::S3::BucketPolicy: the test applies them with
   the S3 API from the template as resolved for the test's parameters. The bucket policy
   (aws:PrincipalOrgID) is not evaluated when Lambda reads the code, and IAM conditions are
   not evaluated: both checked statically (rules/*.guard).
 - moto's Role ignores ManagedPolicyArns and keeps CloudFormation inline policies as a
   Python repr; the Lambda trust (Service principal) cannot be assumed: fixed up as in
   deploy_test.py (the same documents, attached and re-stored; the trust replaced).
Exit 0 when everything holds; 1 with the failing step and why; 2 on usage errors.
"""
import argparse
import copy
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws"), os.path.join(ROOT, "fleet")]
import cfn_template  # noqa: E402
import stepped  # noqa: E402
from stepped import Fail, need  # noqa: E402

PACKAGE = os.path.join(ROOT, "fleet", "canary-stackset.yaml")
MONITORING = os.path.join(ROOT, "fleet", "monitoring.yaml")
CODE_BUCKET = os.path.join(ROOT, "fleet", "code-bucket.yaml")
MGMT = "123456789012"
R1, R2 = "us-east-1", "eu-west-1"
PREFIX, KEY, SSM, NAME, SET = "fleet-test-code", "dynamodb-auth-canary/bootstrap.zip", "/dynamodb-auth-canary/config", "fleet", "canary-fleet"
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")


# ------------------------------------------------------------------ resolution

def expand_foreach(node, params):
    """Fn::ForEach::<name>: [Var, list, {key-with-${Var}: body}] expanded for params."""
    def subst(x, var, value):
        if isinstance(x, dict):
            if x == {"Ref": var}:
                return value
            out = {}
            for k, v in x.items():
                if k == "Fn::Sub":
                    if isinstance(v, str):
                        out[k] = v.replace("${" + var + "}", value)
                    else:
                        out[k] = [v[0].replace("${" + var + "}", value), subst(v[1], var, value)]
                else:
                    out[k] = subst(v, var, value)
            return out
        if isinstance(x, list):
            return [subst(v, var, value) for v in x]
        return x

    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k.startswith("Fn::ForEach::"):
                var, values, body = v
                if isinstance(values, dict) and "Ref" in values:
                    values = str(params.get(values["Ref"], "")).split(",")
                for value in values:
                    for key, tmpl in body.items():
                        out[key.replace("${" + var + "}", value).replace("&{" + var + "}", value)] = subst(tmpl, var, value)
            else:
                out[k] = expand_foreach(v, params)
        return out
    if isinstance(node, list):
        return [expand_foreach(v, params) for v in node]
    return node


def resolve(path, params, account=MGMT, region=R1, stack_name="fleet"):
    """A plain (or LanguageExtensions) template resolved for params: (Stack, JSON for guard)."""
    raw = cfn_template.load(path)
    cfn = expand_foreach(raw, params)
    cfn.pop("Transform", None)
    stack = cfn_template.Stack(cfn, params, account=account, region=region, stack_name=stack_name)
    doc = {"Parameters": raw.get("Parameters", {}), "Resources": stack.resources(),
           "Outputs": {k: stack.ev(v) for k, v in cfn.get("Outputs", {}).items()
                       if "Condition" not in v or stack.condition(v["Condition"])}}
    if "Transform" in raw and raw["Transform"] != "AWS::LanguageExtensions":
        doc["Transform"] = raw["Transform"]
    return stack, doc


# ------------------------------------------------------------------ 1: static

def static_checks(a, summary):
    import build

    with open(PACKAGE, encoding="utf-8") as f:
        need(f.read() == build.render(build.package()), "fleet/canary-stackset.yaml is not fleet/build.py's output "
             "for the current template.yaml: run .venv/bin/python fleet/build.py")
    sam = cfn_template.load()
    translated = build.translate(cfn_template.TEMPLATE)
    pkg = cfn_template.load(PACKAGE)
    need("Transform" not in pkg, "the package has a Transform (service-managed stack sets refuse macros)")
    for section in ("Parameters", "Resources", "Outputs", "Conditions", "Rules", "Mappings"):
        missing = sorted(set(translated.get(section, {})) - set(pkg.get(section, {})))
        need(not missing, f"the package lacks {section} {missing} of the translation")
    changed = sorted(lid for lid, r in translated["Resources"].items()
                     if lid != "CanaryFunction" and pkg["Resources"][lid] != r)
    need(not changed, f"the package changes resources of the translation other than CanaryFunction: {changed}")
    fn_t, fn_p = dict(translated["Resources"]["CanaryFunction"]), dict(pkg["Resources"]["CanaryFunction"])
    pt, pp = dict(fn_t["Properties"]), dict(fn_p["Properties"])
    pt.pop("Code"), pp.pop("Code")
    need(pt == pp, "the package's function differs from the translation beyond its Code")
    need(set(sam["Parameters"]) <= set(pkg["Parameters"]), "a template.yaml parameter is missing from the package")
    summary.append(f"package = translation of template.yaml + code from S3 + OAM link ({len(pkg['Resources'])} resources)")

    contract = json.loads(subprocess.run([a.binary, "metrics", "--contract"], capture_output=True, text=True,
                                         timeout=60, check=True).stdout)
    metrics = {m["name"]: m for m in contract["metrics"]}
    mon_raw = cfn_template.load(MONITORING)
    need(mon_raw["Mappings"]["ScheduleTable"] == sam["Mappings"]["ScheduleTable"],
         "fleet/monitoring.yaml's ScheduleTable differs from template.yaml's")
    accounts = ["222222222222", "333333333333"]
    params = {"OrganizationId": "o-abcdefghij", "AccountIds": ",".join(accounts), "ScheduleMinutes": "5"}
    mon, doc = resolve(MONITORING, params)
    local = {al["metric"]: al for al in cfn_template.alarms()}
    alarms = mon.resources("AWS::CloudWatch::Alarm")
    queries = {lid: r["Properties"] for lid, r in alarms.items() if "Expression" in r["Properties"]["Metrics"][0]}
    need(len(queries) == 6, f"{len(queries)} Metrics Insights alarms, expected 6")
    for lid, p in queries.items():
        q = " ".join(p["Metrics"][0]["Expression"].split())
        m = re.fullmatch(r'SELECT SUM\((\w+)\) FROM SCHEMA\("DynamoDBAuthCanary", Canary\) WHERE Canary = \'fleet\' '
                         r'GROUP BY AWS\.AccountId ORDER BY SUM\(\) DESC LIMIT 500', q)
        need(m, f"{lid}: unexpected query {q}")
        name = m.group(1)
        need(name in metrics and ["Canary"] in metrics[name]["dimension_sets"],
             f"{lid}: {name} with only Canary is not in the contract")
        want = local[name]
        need(p["Metrics"][0]["Period"] == want["period"], f"{lid}: period {p['Metrics'][0]['Period']} != {want['period']}")
        for key, wkey in (("EvaluationPeriods", "evaluation_periods"), ("DatapointsToAlarm", "datapoints_to_alarm")):
            need(int(p[key]) == want[wkey], f"{lid}: {key} {p[key]} != template.yaml's {want[wkey]}")
        need(p["TreatMissingData"] == want["treat_missing_data"], f"{lid}: TreatMissingData differs from template.yaml's")
        want_topic = "<PagingTopic>" if want["alarm_actions"] == ["<PagingTopic>"] else "<NotifyTopic>"
        need(p["AlarmActions"] == [want_topic] and p["OKActions"] == [want_topic], f"{lid}: topic is not {want_topic}")
    paging = {m for m, al in local.items() if al["alarm_actions"] == ["<PagingTopic>"] and m != "CanaryRuns"
              and al["namespace"] != "AWS/Lambda"}
    covered = {re.search(r"SUM\((\w+)\)", p["Metrics"][0]["Expression"]).group(1) for p in queries.values()}
    need(paging <= covered, f"paging metrics of template.yaml without a fleet alarm: {sorted(paging - covered)}")
    beats = {lid: p["Properties"] for lid, p in alarms.items() if lid.startswith("Heartbeat")}
    need(sorted(beats) == [f"Heartbeat{x}" for x in accounts], f"heartbeats {sorted(beats)} for accounts {accounts}")
    hb = local["CanaryRuns"]
    for acct in accounts:
        p = beats[f"Heartbeat{acct}"]
        q = p["Metrics"][0]
        need(q["AccountId"] == acct and q["MetricStat"]["Metric"]["MetricName"] == "CanaryRuns"
             and q["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "Canary", "Value": NAME}]
             and q["MetricStat"]["Stat"] == hb["statistic"] and q["MetricStat"]["Period"] == hb["period"],
             f"heartbeat of {acct} does not watch its CanaryRuns as template.yaml's heartbeat does: {q}")
        need(int(p["EvaluationPeriods"]) == hb["evaluation_periods"] and p["TreatMissingData"] == "breaching",
             f"heartbeat of {acct}: timing or missing data differs from template.yaml's")
        need(acct in p["AlarmName"] and acct in p["AlarmDescription"], f"heartbeat of {acct} does not name it")
    sink = mon.resources("AWS::Oam::Sink")["Sink"]["Properties"]["Policy"]["Statement"]
    need(len(sink) == 1 and sink[0]["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-abcdefghij"}
         and "ForAnyValue:StringLike" not in sink[0]["Condition"], f"sink policy: {sink}")
    paths = "o-abcdefghij/r-ab12/ou-ab12-11111111/*"
    mon2, _ = resolve(MONITORING, dict(params, OrganizationPaths=paths))
    st = mon2.resources("AWS::Oam::Sink")["Sink"]["Properties"]["Policy"]["Statement"][0]
    need(st["Condition"]["ForAnyValue:StringLike"] == {"aws:PrincipalOrgPaths": [paths]}, f"sink with paths: {st}")
    mon3, _ = resolve(MONITORING, dict(params, FleetAlarms="false", ExistingSinkArn="arn:aws:oam:us-east-1:111111111111:sink/x"))
    left = sorted(mon3.resources("AWS::CloudWatch::Alarm"))
    need(left == [f"Heartbeat{x}" for x in accounts] and not mon3.resources("AWS::Oam::Sink"),
         f"FleetAlarms=false with an existing sink leaves {left}")
    summary.append("monitoring.yaml: 6 fleet alarms = template.yaml's paging/notify timing by account; "
                   f"{len(accounts)} heartbeats naming their accounts; sink scoped to the organization")


# ------------------------------------------------------------------ 2-4: moto

def bootstrap_admin(url, account):
    import localaws

    localaws.http(url, "/moto-api/reset-auth", data=b"3")
    try:
        iam = localaws.client("iam", url, "bootstrap", "bootstrap")
        iam.meta.events.register("before-sign.*.*",
                                 lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        user = iam.create_user(UserName="member-admin")["User"]["Arn"]
        iam.put_user_policy(UserName="member-admin", PolicyName="admin", PolicyDocument=json.dumps(localaws.ALLOW_ALL))
        key = iam.create_access_key(UserName="member-admin")["AccessKey"]
    finally:
        localaws.http(url, "/moto-api/reset-auth", data=b"0")
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "arn": user}


def client(url, creds, svc, region=R1):
    import localaws

    return localaws.client(svc, url, creds["access_key_id"], creds["secret_access_key"], region=region,
                           token=creds.get("session_token"))


def lambda_function(url, account, region):
    """The one function of account/region (GetFunction). moto 5.2.5 refuses the signature of
    every Lambda API request when IAM is enforced (SignatureDoesNotMatch), so these two calls
    use moto's unauthenticated allowance (as the admin bootstrap does), addressed to the
    account with moto's x-moto-account-id header; the allowance is closed again at once."""
    import localaws

    localaws.http(url, "/moto-api/reset-auth", data=b"2")
    try:
        lam = localaws.client("lambda", url, "bootstrap", "bootstrap", region=region)
        lam.meta.events.register("before-sign.*.*",
                                 lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        fns = lam.list_functions()["Functions"]
        need(len(fns) == 1, f"{account} {region}: {len(fns)} functions")
        fn = lam.get_function(FunctionName=fns[0]["FunctionName"])
    finally:
        localaws.http(url, "/moto-api/reset-auth", data=b"0")
    conf = fn["Configuration"]
    need(conf["FunctionArn"].split(":")[4] == account, f"function {conf['FunctionArn']} is not in {account}")
    return conf, fn.get("Code", {})


def heredocs(text):
    """{file name: content} of the `cat > NAME <<'EOF' ... EOF` blocks of `fleet`'s output."""
    return {m.group(1): m.group(2) for m in
            re.finditer(r"cat > (\S+) <<'?(?:DYNAMODB_AUTH_CANARY_EOF)'?\n(.*?)\nDYNAMODB_AUTH_CANARY_EOF", text, re.S)}


def moto_deploy(a, tmp, step, summary):
    import deploy_test
    import localaws

    step("moto", "start moto (IAM enforced); an organization with two member accounts in two OUs")
    a.moto, url = deploy_test.start_moto(tmp)
    admin = {MGMT: localaws.bootstrap(argparse.Namespace(endpoint=url))}
    org = client(url, admin[MGMT], "organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    need(ORG_RE.match(org_id), f"organization id {org_id}")
    root = org.list_roots()["Roots"][0]["Id"]
    members = {}
    for label, ou_name in (("a", "payments"), ("b", "ledger")):
        ou = org.create_organizational_unit(ParentId=root, Name=ou_name)["OrganizationalUnit"]["Id"]
        st = org.create_account(Email=f"{label}@example.invalid", AccountName=f"team-{label}")["CreateAccountStatus"]
        acct = st.get("AccountId") or org.describe_create_account_status(
            CreateAccountRequestId=st["Id"])["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ou)
        admin[acct] = bootstrap_admin(url, acct)
        who = client(url, admin[acct], "sts").get_caller_identity()["Account"]
        need(who == acct, f"the admin of {acct} is in {who}")
        members[label] = {"account": acct, "ou": ou}
    where = ", ".join(f"{m['account']} in {m['ou']}" for m in members.values())
    print(f"   organization {org_id}; accounts {where}")

    step("code", "code buckets from fleet/code-bucket.yaml (management account), the code uploaded, per region")
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as z:
        z.writestr("bootstrap", b"placeholder: moto does not run the function")
    versions = {}
    bucket_tmpl = json.dumps(cfn_template.load(CODE_BUCKET))
    for region in (R1, R2):
        cf = client(url, admin[MGMT], "cloudformation", region)
        cf.create_stack(StackName=f"{SET}-code", TemplateBody=bucket_tmpl,
                        Parameters=[{"ParameterKey": "BucketPrefix", "ParameterValue": PREFIX},
                                    {"ParameterKey": "OrganizationId", "ParameterValue": org_id}])
        d = cf.describe_stacks(StackName=f"{SET}-code")["Stacks"][0]
        need(d["StackStatus"] == "CREATE_COMPLETE", f"code bucket stack in {region}: {d['StackStatus']}")
        bucket = f"{PREFIX}-{region}"
        s3 = client(url, admin[MGMT], "s3", region)
        s3.head_bucket(Bucket=bucket)
        # moto's CloudFormation creates the bucket but neither applies its public access block
        # nor supports AWS::S3::BucketPolicy: both are applied here from the template as
        # resolved for these parameters (not written by hand), and checked by rules/fleet.guard.
        tmpl, _ = resolve(CODE_BUCKET, {"BucketPrefix": PREFIX, "OrganizationId": org_id}, region=region)
        props = tmpl.resources()["CodeBucket"]["Properties"]
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
        # Uploaded before the policy: its TlsOnly statement denies every request over plain
        # HTTP, and moto is plain HTTP (moto evaluates that Deny; in AWS the upload is HTTPS).
        versions[region] = s3.put_object(Bucket=bucket, Key=KEY, Body=body.getvalue())["VersionId"]
        doc = json.loads(json.dumps(tmpl.resources()["CodeBucketPolicy"]["Properties"]["PolicyDocument"])
                         .replace(f"<CodeBucket.Arn>", f"arn:aws:s3:::{bucket}"))
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc))
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        need(all(pab.values()) and len(pab) == 4, f"{bucket}: public access block {pab}")
        pol = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        allow = [s for s in pol["Statement"] if s["Effect"] == "Allow"]
        need(len(allow) == 1 and allow[0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}},
             f"{bucket}: policy {pol}")
        need(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", f"{bucket} is not versioned")
    print(f"   buckets {PREFIX}-{R1}, {PREFIX}-{R2} created by the stack; versioning, public access block and "
          f"policy (read by {org_id} only) applied from the resolved template (moto's CloudFormation does not)")

    step("accounts", "each account's tables (they differ) and its configuration in its own SSM parameter")
    tables = {"a": ["orders", "ledger"], "b": ["ledger", "payments"]}
    configs = {"a": {"targets": [{"table": "orders", "probes": ["describe", "read"]}]},
               "b": {"targets": [{"table": "ledger", "probes": ["describe", "read"]},
                                 {"table": "payments", "probes": ["describe"]}]}}
    for label, m in members.items():
        for region in (R1, R2):
            ddb = client(url, admin[m["account"]], "dynamodb", region)
            for t in tables[label]:
                ddb.create_table(TableName=t, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
            client(url, admin[m["account"]], "ssm", region).put_parameter(
                Name=SSM, Value=json.dumps(dict(configs[label], metrics={"sink": "none"})), Type="String")
        m["config_path"] = os.path.join(tmp, f"{label}.json")
        with open(m["config_path"], "w") as f:
            json.dump(dict(configs[label], metrics={"sink": "none"}), f)

    step("fleet", "`fleet` for the organization: the stack set's parameters and each account's overrides")
    cmd = [a.binary, "fleet", "--config", members["a"]["config_path"], "--organization-id", org_id,
           "--code-bucket-prefix", PREFIX, "--code-key", KEY, "--stack-set-name", SET, "--canary-name", NAME,
           "--ssm-parameter", SSM, "--region", R1, "--region", R2]
    for m in members.values():
        cmd += ["--ou", m["ou"], "--account-config", f"{m['account']}={m['config_path']}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env={"PATH": os.environ.get("PATH", ""), "HOME": tmp, "AWS_EC2_METADATA_DISABLED": "true"})
    need(r.returncode == 0, f"fleet exited {r.returncode}: {r.stderr}")
    files = heredocs(r.stdout)
    need(f"{SET}-parameters.json" in files, f"no parameter file in fleet's output: {sorted(files)}")
    defaults = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(files[f"{SET}-parameters.json"])}
    pkg_params = set(cfn_template.load(PACKAGE)["Parameters"])
    # fleet sets what deploy-params sets, plus the schedule, the code and the sink; the rest
    # (logs, subscriptions, operator options) keep the package's defaults.
    dp = subprocess.run([a.binary, "deploy-params", "--config", members["a"]["config_path"], "--account", MGMT,
                         "--region", R1, "--ssm-parameter", SSM], capture_output=True, text=True, timeout=60,
                        env={"PATH": os.environ.get("PATH", ""), "HOME": tmp, "AWS_EC2_METADATA_DISABLED": "true"})
    need(dp.returncode == 0, f"deploy-params: {dp.stderr}")
    dp_keys = {kv.split("=", 1)[0] for kv in re.findall(r"(?:^| )([A-Za-z0-9]+=)", dp.stdout)}
    dp_keys = {k.rstrip("=") for k in dp_keys}
    want = dp_keys | {"ScheduleMinutes", "CodeBucketPrefix", "CodeKey", "CodeObjectVersion", "MonitoringSinkArn"}
    need(set(defaults) == want and want <= pkg_params,
         f"fleet's parameters differ from deploy-params' + the fleet's: {sorted(set(defaults) ^ want)}; "
         f"not in the package: {sorted(want - pkg_params)}")
    need("create-stack-set" in r.stdout and "--permission-model SERVICE_MANAGED" in r.stdout
         and "Enabled=true" in r.stdout and r.stdout.count("create-stack-instances") == 2,
         "fleet's output lacks the stack set or its instances")
    overrides = {}
    for m in members.values():
        for region in (R1, R2):
            name = f"{SET}-{m['account']}-{region}.json"
            need(name in files, f"no overrides {name} in fleet's output")
            entries = json.loads(files[name])
            keep = sorted(e["ParameterKey"] for e in entries if e.get("UsePreviousValue"))
            need(keep == ["CodeObjectVersion", "MonitoringSinkArn"], f"{name}: keeps {keep}")
            overrides[(m["account"], region)] = {e["ParameterKey"]: e["ParameterValue"] for e in entries
                                                 if "ParameterValue" in e}
    print(f"   {len(defaults)} stack-set parameters; overrides for {len(overrides)} account-regions")

    step("stack set", "a SERVICE_MANAGED stack set from the package, instances for both OUs in both regions")
    pkg = cfn_template.load(PACKAGE)
    stripped = sorted(lid for lid, res in pkg["Resources"].items()
                      if res["Type"] in ("AWS::Oam::Link", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
                                         "AWS::Lambda::EventInvokeConfig", "AWS::SNS::Subscription"))
    body_cfn = copy.deepcopy(pkg)
    for lid in stripped:
        del body_cfn["Resources"][lid]
    body_cfn["Outputs"] = {k: v for k, v in body_cfn["Outputs"].items()
                           if not (cfn_template.references(v) & set(stripped))}
    cf = client(url, admin[MGMT], "cloudformation", R1)
    cf.create_stack_set(StackSetName=SET, TemplateBody=json.dumps(body_cfn), PermissionModel="SERVICE_MANAGED",
                        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                        Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in defaults.items()])
    for m in members.values():
        for region in (R1, R2):
            merged = dict(defaults, CodeObjectVersion=versions[region], **overrides[(m["account"], region)])
            cf.create_stack_instances(StackSetName=SET, Regions=[region],
                                      DeploymentTargets={"OrganizationalUnitIds": [m["ou"]]},
                                      ParameterOverrides=[{"ParameterKey": k, "ParameterValue": v} for k, v in merged.items()])
    inst = cf.list_stack_instances(StackSetName=SET)["Summaries"]
    got = sorted((i["Account"], i["Region"]) for i in inst)
    want = sorted((m["account"], rg) for m in members.values() for rg in (R1, R2))
    need(got == want, f"stack instances {got}, expected {want}")
    print(f"   stripped for moto: {', '.join(stripped)}; instances: {len(got)} (2 accounts x 2 regions)")

    step("canaries", "in each account and region: the function, its code, its role; `check` passes on its own tables")
    for label, m in members.items():
        acct = m["account"]
        iam = client(url, admin[acct], "iam")
        policies = [p for p in iam.list_policies(Scope="Local")["Policies"]]
        for region in (R1, R2):
            conf, code = lambda_function(url, acct, region)
            env = conf["Environment"]["Variables"]
            need(env.get("CANARY_CONFIG_PARAMETER") == SSM and "CANARY_CONFIG" not in env and env.get("CANARY_NAME") == NAME,
                 f"{acct} {region}: environment {env}")
            # moto's CloudFormation drops Architectures (x86_64): arm64 is checked by rules/canary.guard.
            need(conf["Runtime"] == "provided.al2023" and conf["Handler"] == "bootstrap", f"{acct} {region}: {conf}")
            need(conf.get("CodeSize") == len(body.getvalue()), f"{acct} {region}: code size {conf.get('CodeSize')}, "
                 f"the uploaded zip is {len(body.getvalue())} bytes")
            role_name = conf["Role"].split("/")[-1]
            need(conf["Role"].split(":")[4] == acct, f"{acct} {region}: role {conf['Role']} is in another account")
            # The managed policies of this region's instance, attached as ManagedPolicyArns lists them.
            for p in policies:
                v = iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]
                doc, _ = deploy_test.moto_policy(v)
                res = [x for st in doc["Statement"] for x in cfn_template.as_list(st["Resource"])]
                if res and all(f":{region}:{acct}:table/" in x for x in res):
                    iam.attach_role_policy(RoleName=role_name, PolicyArn=p["Arn"])
            for pname in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
                doc, fixes = deploy_test.moto_policy(iam.get_role_policy(RoleName=role_name, PolicyName=pname)["PolicyDocument"])
                if fixes:
                    iam.put_role_policy(RoleName=role_name, PolicyName=pname, PolicyDocument=json.dumps(doc))
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": admin[acct]["arn"]},
                                                        "Action": "sts:AssumeRole"}]}))
            c = client(url, admin[acct], "sts").assume_role(RoleArn=conf["Role"], RoleSessionName="canary")["Credentials"]
            creds = {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
                     "session_token": c["SessionToken"]}
            extra = {k: v for k, v in env.items() if k.startswith("CANARY_")}
            a_ = argparse.Namespace(binary=a.binary)
            cmd = [a.binary, "check", "--output", "json", "--endpoint-url", url, "--region", region]
            r = subprocess.run(cmd, env=deploy_test.cli_env(tmp, creds, extra), capture_output=True, text=True, timeout=120)
            try:
                report = json.loads(r.stdout)
            except ValueError:
                raise Fail(f"{acct} {region}: exit {r.returncode}, no report: {r.stdout[-800:]} {r.stderr[-800:]}")
            probes = report.get("probes", [])
            need(r.returncode == 0 and report.get("healthy") and probes
                 and all(p["outcome"] == "ok" for p in probes), f"{acct} {region}: unhealthy:\n{json.dumps(report)[:1500]}")
            need(report["identity"].get("account") == acct, f"{acct} {region}: identity {report['identity']}")
            need({p["table"] for p in probes} == {t["table"] for t in configs[label]["targets"]}
                 and {p["region"] for p in probes} == {region}, f"{acct} {region}: probed {probes}")
            # Control: a table of the same account outside its configuration is denied.
            other = [t for t in tables[label] if t not in {x["table"] for x in configs[label]["targets"]}]
            if other:
                path = os.path.join(tmp, f"control-{acct}-{region}.json")
                with open(path, "w") as f:
                    json.dump({"targets": [{"table": other[0], "probes": ["describe"]}], "metrics": {"sink": "none"}}, f)
                extra2 = {k: v for k, v in extra.items() if k != "CANARY_CONFIG_PARAMETER"}
                r2 = subprocess.run(cmd + ["--config", path], env=deploy_test.cli_env(tmp, creds, extra2),
                                    capture_output=True, text=True, timeout=120)
                rep2 = json.loads(r2.stdout)
                need(r2.returncode == 1 and rep2["probes"][0]["class"] == "access_denied",
                     f"{acct} {region}: {other[0]} outside the configuration was not denied: {json.dumps(rep2)[:800]}")
            print(f"   {acct} {region}: code s3://{PREFIX}-{region}/{KEY}; check ok on "
                  f"{', '.join(sorted({p['table'] for p in probes}))}" + (f"; {other[0]} denied" if other else ""))
            del a_
    summary.append("moto: service-managed stack set, 2 accounts x 2 regions, 4 healthy canaries on their own tables")


def run(a):
    tmp = tempfile.mkdtemp(prefix="canary-fleet-test.")
    a.moto = None

    def body(step, summary):
        step("static", "static: the package, the monitoring template, the sink policy")
        static_checks(a, summary)
        moto_deploy(a, tmp, step, summary)

    ok = stepped.run("fleet_test", a, tmp, body)
    print(f"fleet_test: {'ok' if ok else 'FAILED'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    r.add_argument("--keep-logs", action="store_true")
    s = sub.add_parser("resolve")
    s.add_argument("template")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args()
    if a.cmd == "resolve":
        _, doc = resolve(a.template, dict(p.split("=", 1) for p in a.param))
        json.dump(doc, sys.stdout, indent=1)
        print()
        return
    if not os.access(a.binary, os.X_OK):
        print(f"fleet_test: no canary binary at {a.binary} (cargo build)", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if run(a) else 1)


if __name__ == "__main__":
    main()
