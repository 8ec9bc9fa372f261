#!/usr/bin/env python3
"""Prove target-role.yaml (the role a cross-account target's role_arn names): lint it,
check its trust and conditions statically, deploy it into a second moto "account", let the
canary assume it and probe, and compare its permissions with `policy --target-account`.

Usage: target_role_test.py [BINARY] [--template target-role.yaml] [--keep-logs]
                           [--without-policy-command]
  BINARY  the canary binary (default: target/debug/dynamodb-auth-canary). It runs `check`,
          and `policy --config C --account CANARY --target-account TARGET` for the
          comparison; --without-policy-command skips only that comparison (reported as
          skipped), for a binary that has no `policy` command yet.

Accounts: the canary runs as IAM user `canary` of account 123456789012 (moto's default; an
IAM user stands in for the canary's Lambda role, which moto cannot run), the target role
lives in account 210987654321. moto 5.2.5 serves several accounts from one server: a
request's account is the one owning its access key (or the x-moto-account-id header), and
sts:AssumeRole of a role ARN in another account returns keys of that account.

Steps (each timed):
 1. lint: cfn-lint target-role.yaml (`sam validate` does not apply: no SAM transform);
 2. static (offline, tests/infra/cfn_template.py resolves the template for given parameters;
    moto ignores every Condition, so these are proven here):
    - the trust policy trusts exactly CanaryRoleArn for sts:AssumeRole, with
      StringEquals sts:ExternalId when ExternalId is set and no Condition when it is empty;
      RoleName set -> that name, empty -> no RoleName (generated);
    - LeadingKeyValues defaults to the three sentinels, and every GetItem, PutItem and
      DeleteItem statement is conditioned ForAllValues:StringEquals dynamodb:LeadingKeys on
      exactly them;
    - the grants are exactly the parameters: only DescribeTable, GetItem, PutItem,
      DeleteItem on the slot ARNs and kms:Decrypt on KmsKeyArns, no wildcard; with every
      parameter empty the role has no permission at all;
    - parameter patterns refuse wildcard ARNs; a slot of 40 tables with describe + read
      (20-character names) fits a managed policy (6,144 characters) and each parameter
      (4,096 bytes);
 3. policy: the role's permission policy as the template renders it for the test's
    parameters, compared as normalized (Effect, Action, Resource, Condition) triples with
    (a) a hand-written expectation and (b) `policy --target-account` of the binary for the
    same canary config: independent computations, none fed from another;
 4. moto: start moto (IAM enforced, free loopback port) through this script's launcher,
    bootstrap an admin in each account, create the target account's tables
    (us-east-1: orders, ledger, payroll; eu-west-1: orders, ledger) and the canary user;
 5. deploy: create the stack in the target account with CloudFormation (RoleName and
    ExternalId set, slot 1 = us-east-1, slot 2 = eu-west-1, KmsKeyArns set); what moto
    stored (role name and ARN output, trust policy, inline and managed policies) must equal
    the template's rendering;
 6. probe: `check` as the canary user with targets carrying role_arn + external_id:
    allowed probes pass through AssumeRole (principal: the target role); must-deny probes
    outside the role's permissions are denied: another table (payroll), a write on a
    read-only table (orders), a table granted in one region probed in the other
    (ledger, eu-west-1); control: the same must-deny probes with the target account's
    admin report unexpected_access, so the denials are not vacuous;
 7. trust: moto evaluates a trust policy only when the role is in the caller's own account
    (see below), so the template is deployed a second time, in the canary's account (with
    a generated name): the right external id passes; a wrong external id, and another
    user of the account, get assume_role_denied.

What moto 5.2.5 cannot do, and what this test does instead:
 - Conditions in permission policies are not evaluated (LeadingKeys, ExternalId absent):
   checked statically in step 2.
 - Cross-account trust is not evaluated at all: AssumeRole checks the caller's own
   sts:AssumeRole permission, but the trust policy only when the role is found in the
   caller's account. Step 7 deploys the same template in the canary's account; step 6
   records that a wrong external id passes cross-account in moto (AWS refuses it).
 - A missing sts:ExternalId is not refused even in one account (moto only compares keys
   the request carries): checked statically.
 - AWS::NoValue in a list stays a null in moto's CloudFormation (AWS drops the element),
   and IAM then refuses the managed policy; an inline policy of a role is kept as a Python
   dict whose repr moto's own authorizer cannot parse. This script's moto launcher fixes
   both (moto's clean_json and Role.put_policy), so the template deploys unchanged.
 - A CommaDelimitedList parameter is split only when it is passed: LeadingKeyValues is
   passed with its default value.
Exit 0 when everything holds; 1 with the failing step and why; 2 on usage errors.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws")]  # the proofs; localaws, moto_server
import stepped  # noqa: E402  (the harness: steps, moto launcher)
from stepped import Fail, need  # noqa: E402

TEMPLATE = os.path.join(ROOT, "target-role.yaml")
CANARY_ACCOUNT, TARGET_ACCOUNT = "123456789012", "210987654321"
R1, R2 = "us-east-1", "eu-west-1"
ROLE_NAME, EXTERNAL_ID, SESSION = "DynamoDBAuthCanaryTarget", "canary-ext-5f3a9c", "target-role-test"
CANARY_USER = f"arn:aws:iam::{CANARY_ACCOUNT}:user/canary"
ROLE_ARN = f"arn:aws:iam::{TARGET_ACCOUNT}:role/{ROLE_NAME}"
KMS_KEY = f"arn:aws:kms:{R1}:{TARGET_ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
SENTINELS = ["__dynamodb_auth_canary__", "-271828182845904523536.0287", "X19keW5hbW9kYl9hdXRoX2NhbmFyeV9f"]
SENTINEL_KEY = {"pk": {"S": SENTINELS[0]}}
TABLES = {R1: ["orders", "ledger", "payroll"], R2: ["orders", "ledger"]}  # in the target account
PROBE_ACTIONS = {"dynamodb:describetable", "dynamodb:getitem", "dynamodb:putitem", "dynamodb:deleteitem",
                 "kms:decrypt"}


def tarn(region, table, account=TARGET_ACCOUNT):
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def role_target(**kw):
    return dict(kw, role_arn=ROLE_ARN, external_id=EXTERNAL_ID, session_name=SESSION)


# The canary config `check` runs: allowed probes through the role, and must-deny probes
# just outside its permissions.
ALLOWED = [role_target(table="orders", regions=[R1, R2], probes=["describe", "read"]),
           role_target(table="ledger", regions=[R1], probes=["describe", "read", "write"])]
MUST_DENY = [role_target(table="payroll", regions=[R1], probes=["describe", "read"], expect="deny", key=SENTINEL_KEY),
             role_target(table="orders", regions=[R1], probes=["write"], expect="deny", key=SENTINEL_KEY),
             role_target(table="ledger", regions=[R2], probes=["describe", "read"], expect="deny", key=SENTINEL_KEY)]
BASE = {"defaults": {"regions": [R1], "timeout_ms": 5000}, "metrics": {"sink": "none"}, "deadline_ms": 30000}
CHECK_CONFIG = dict(BASE, expect={"account": CANARY_ACCOUNT, "user": "canary"}, targets=ALLOWED + MUST_DENY)
# The config `policy` reads: the same targets, the ledger table's customer managed key, and a
# target in the canary's own account, which is not the target role's business.
POLICY_CONFIG = dict(BASE, targets=[dict(ALLOWED[0]), dict(ALLOWED[1], kms_key=KMS_KEY), *MUST_DENY,
                                    {"table": "local", "regions": [R1], "probes": ["describe", "read"]}])
# The stack's parameters for that config, written out by hand (not derived from either
# computation that step 3 compares).
PARAMS = {"CanaryRoleArn": CANARY_USER, "ExternalId": EXTERNAL_ID, "RoleName": ROLE_NAME,
          "Slot1DescribeTableArns": f"{tarn(R1, 'orders')},{tarn(R1, 'ledger')}",
          "Slot1ReadTableArns": f"{tarn(R1, 'orders')},{tarn(R1, 'ledger')}",
          "Slot1WriteTableArns": tarn(R1, "ledger"),
          "Slot2DescribeTableArns": tarn(R2, "orders"),
          "Slot2ReadTableArns": tarn(R2, "orders"),
          "KmsKeyArns": KMS_KEY,
          "LeadingKeyValues": ",".join(SENTINELS)}  # its default, passed for moto (see above)
LEADING = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": SENTINELS}}
# The role's permission policy for that config, written out by hand.
EXPECTED = [
    {"Effect": "Allow", "Action": "dynamodb:DescribeTable",
     "Resource": [tarn(R1, "orders"), tarn(R1, "ledger"), tarn(R2, "orders")]},
    {"Effect": "Allow", "Action": "dynamodb:GetItem",
     "Resource": [tarn(R1, "orders"), tarn(R1, "ledger"), tarn(R2, "orders")], "Condition": LEADING},
    {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"], "Resource": tarn(R1, "ledger"),
     "Condition": LEADING},
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KMS_KEY},
]


def as_list(x):
    return x if isinstance(x, list) else [x]


# ------------------------------------------------------------------ policies

def triples(statements):
    """Normalized (Effect, action, resource, condition) of identity-policy statements: one per
    action and resource, actions lower-cased (IAM compares them case-insensitively),
    condition values as sorted lists, Sids ignored."""
    out = set()
    for st in statements:
        need("NotAction" not in st and "NotResource" not in st and "Principal" not in st,
             f"unexpected statement form: {st}")
        cond = {op: {k: sorted(as_list(v)) for k, v in keys.items()} for op, keys in st.get("Condition", {}).items()}
        cond = json.dumps(cond, sort_keys=True)
        for action in as_list(st["Action"]):
            for res in as_list(st["Resource"]):
                out.add((st["Effect"], action.lower(), res, cond))
    return out


def diff(name_a, a, name_b, b):
    lines = [f"  only in {name_a}: {t}" for t in sorted(a - b)] + [f"  only in {name_b}: {t}" for t in sorted(b - a)]
    return "\n".join(lines)


def render(params, account=TARGET_ACCOUNT, template=TEMPLATE):
    """target-role.yaml resolved for params (plain CloudFormation: no translation)."""
    import cfn_template

    return cfn_template.Stack(cfn_template.load(template), params, account=account, region=R1, stack_name="target-role")


def permission_statements(stack):
    """The role's permission statements (inline and managed), without the trust policy."""
    return [st for _, st in stack.statements()]


def trust_statements(stack):
    return as_list(stack.resources("AWS::IAM::Role")["TargetRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"])


# ------------------------------------------------------------------ 1, 2: lint, static

def lint(a):
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    need(os.access(cfn_lint, os.X_OK), f"no cfn-lint next to {sys.executable} (make setup)")
    r = subprocess.run([cfn_lint, a.template], capture_output=True, text=True, timeout=300)
    need(r.returncode == 0, f"cfn-lint {a.template}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    import cfn_template

    need("Transform" not in cfn_template.load(a.template), "target-role.yaml must have no Transform (StackSets)")
    return "cfn-lint clean, no Transform"


def static(a):
    import cfn_template

    cfn = cfn_template.load(a.template)
    results = []
    # Trust: exactly the canary, with the external id condition iff one is given.
    for ext in (EXTERNAL_ID, ""):
        stack = render(dict(PARAMS, ExternalId=ext), template=a.template)
        want = {"Sid": "CanaryOnly", "Effect": "Allow", "Principal": {"AWS": CANARY_USER}, "Action": "sts:AssumeRole"}
        if ext:
            want["Condition"] = {"StringEquals": {"sts:ExternalId": ext}}
        got = trust_statements(stack)
        need(got == [want], f"trust policy with ExternalId={ext!r}:\n  got  {got}\n  want {[want]}")
    results.append("trust: only CanaryRoleArn; StringEquals sts:ExternalId when set, no Condition when empty")
    for name, want in ((ROLE_NAME, ROLE_NAME), ("", None)):
        props = render(dict(PARAMS, RoleName=name), template=a.template).resources("AWS::IAM::Role")["TargetRole"]["Properties"]
        need(props.get("RoleName") == want, f"RoleName={name!r} gives RoleName {props.get('RoleName')!r}")
    results.append("RoleName: fixed when set, generated when empty")
    # LeadingKeys: the default is the three sentinels, and it conditions every item call.
    default = cfn["Parameters"]["LeadingKeyValues"]["Default"].split(",")
    need(default == SENTINELS, f"LeadingKeyValues default {default} != the sentinels {SENTINELS}")
    stack = render({k: v for k, v in PARAMS.items() if k != "LeadingKeyValues"}, template=a.template)
    items = 0
    for st in permission_statements(stack):
        acts = {x.lower() for x in as_list(st["Action"])}
        if acts & {"dynamodb:getitem", "dynamodb:putitem", "dynamodb:deleteitem"}:
            items += 1
            need(st.get("Condition") == LEADING, f"{st.get('Sid')}: condition {st.get('Condition')} != {LEADING}")
    need(items == 3, f"expected 3 item statements (read slot 1, write slot 1, read slot 2), found {items}")
    results.append(f"LeadingKeys: default = {SENTINELS}; every GetItem/PutItem/DeleteItem statement limited to them")
    # Grants equal the parameters, nothing else, no wildcard.
    granted = set()
    for st in permission_statements(stack):
        need(st["Effect"] == "Allow", f"{st.get('Sid')}: Effect {st['Effect']}")
        for act in as_list(st["Action"]):
            need(act.lower() in PROBE_ACTIONS, f"{st.get('Sid')}: action {act} is not a probe's")
            for res in as_list(st["Resource"]):
                need("*" not in res and "?" not in res and "*" not in act, f"{st.get('Sid')}: wildcard in {act} {res}")
                granted.add((act.lower(), res))
    want = set()
    for n in range(1, 9):
        for kind, acts in (("Describe", ["dynamodb:describetable"]), ("Read", ["dynamodb:getitem"]),
                           ("Write", ["dynamodb:putitem", "dynamodb:deleteitem"])):
            for res in filter(None, PARAMS.get(f"Slot{n}{kind}TableArns", "").split(",")):
                want |= {(act, res) for act in acts}
    want.add(("kms:decrypt", KMS_KEY))
    need(granted == want, "grants differ from the parameters:\n" + diff("template", granted, "parameters", want))
    empty = render({"CanaryRoleArn": CANARY_USER}, template=a.template)
    need(not permission_statements(empty) and not empty.resources("AWS::IAM::ManagedPolicy"),
         f"with every list empty the role still has permissions: {permission_statements(empty)}")
    results.append(f"grants = the parameters ({len(granted)} action/ARN pairs), no wildcard; "
                   "no parameter, no permission")
    # Patterns refuse wildcards; size limits.
    for pname in ("Slot1ReadTableArns", "Slot8WriteTableArns", "KmsKeyArns"):
        pat = re.compile(cfn["Parameters"][pname]["AllowedPattern"])
        good = KMS_KEY if pname == "KmsKeyArns" else tarn(R1, "orders")
        for bad in (good.replace(TARGET_ACCOUNT, "*"), good.replace(R1, "*"), good[:-3] + "*"):
            need(not pat.match(bad), f"{pname} accepts the wildcard {bad}")
        need(pat.match(good) and pat.match(""), f"{pname} refuses {good!r} or the empty default")
    # IAM counts a managed policy's characters without whitespace: 6,144. The LeadingKeys
    # condition is repeated per statement, so a slot holds about 80 ARNs of 20-character
    # table names (40 tables with describe + read); larger sets take more slots.
    names = [f"t{i:02d}-{'x' * 16}" for i in range(40)]  # 20 characters each
    arns = ",".join(tarn(R1, t) for t in names)
    need(len(arns.encode()) <= 4096, f"a parameter of 40 table ARNs is {len(arns.encode())} bytes > 4,096")
    pol = render({"CanaryRoleArn": CANARY_USER, "Slot1DescribeTableArns": arns, "Slot1ReadTableArns": arns},
                 template=a.template).resources("AWS::IAM::ManagedPolicy")["Slot1Policy"]["Properties"]
    size = len(re.sub(r"\s", "", json.dumps(pol["PolicyDocument"], separators=(",", ":"))))
    need(size <= 6144, f"slot policy for 40 tables (describe + read, 20-character names) is {size} > 6,144 characters")
    results.append(f"wildcard ARNs refused by the parameter patterns; 40 tables (describe + read, 20-character "
                   f"names) in one slot: {size}/6,144 policy characters, {len(arns.encode())}/4,096 parameter bytes")
    return results


# ------------------------------------------------------------------ 3: compare with `policy`

def compare(a, tmp):
    results = []
    template = triples(permission_statements(render(PARAMS, template=a.template)))
    hand = triples(EXPECTED)
    need(template == hand, "template != hand-written expectation:\n" + diff("template", template, "expected", hand))
    results.append(f"template = hand-written expectation ({len(template)} triples)")
    if a.without_policy_command:
        results.append("SKIPPED (--without-policy-command): template = `policy --target-account`")
        return results
    cfg = os.path.join(tmp, "policy-config.json")
    with open(cfg, "w") as f:
        json.dump(POLICY_CONFIG, f)
    cmd = [a.binary, "policy", "--config", cfg, "--account", CANARY_ACCOUNT, "--region", R1,
           "--target-account", TARGET_ACCOUNT]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=canary_env(tmp))
    need(r.returncode == 0, f"{' '.join(cmd[1:])}: exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise Fail(f"`policy --target-account` did not print JSON:\n{r.stdout[-2000:]}")
    need(doc.get("Version") == "2012-10-17", f"policy document Version {doc.get('Version')!r}")
    generated = triples(as_list(doc["Statement"]))
    need(generated == template, "`policy --target-account` != the template's rendering:\n"
         + diff("policy", generated, "template", template))
    results.append(f"template = `policy --config C --account {CANARY_ACCOUNT} --region {R1} --target-account {TARGET_ACCOUNT}` "
                   f"({len(generated)} triples, {len(as_list(doc['Statement']))} statements)")
    return results


# ------------------------------------------------------------------ 4-7: moto

def serve_moto(port):
    """This script's moto launcher: scripts/localaws/moto_server.py's server (IAM enforced, per-table
    DynamoDB ARNs) plus two fixes of moto's CloudFormation, so that the template deploys
    unchanged and is stored as AWS stores it: AWS::NoValue in a list is dropped, and a
    role's inline policy is stored as JSON (moto keeps the resolved dict, whose repr its own
    authorizer cannot read)."""
    import moto_server  # noqa: F401  (patches DynamoDB ARNs; sets the env before moto loads)
    from moto.cloudformation import parsing
    from moto.iam.models import Role
    from moto.server import main as moto_main

    put_policy = Role.put_policy
    Role.put_policy = lambda self, name, document: put_policy(
        self, name, document if isinstance(document, str) else json.dumps(document))

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        out = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(out, list):
            return [x for x in out if x is not None]
        return out

    parsing.clean_json = clean_json
    moto_server._exit_with_parent()
    moto_main(["--host", "127.0.0.1", "--port", str(port)])


def start_moto(tmp):
    return stepped.start_moto([sys.executable, os.path.abspath(__file__), "--serve-moto"], tmp)


def bootstrap_accounts(url):
    """An admin user in each account: the canary's via localaws.bootstrap, the target's in a
    second unauthenticated allowance, addressed with moto's x-moto-account-id header."""
    import localaws

    admin = {CANARY_ACCOUNT: localaws.bootstrap(argparse.Namespace(endpoint=url))}
    need(admin[CANARY_ACCOUNT]["arn"].split(":")[4] == CANARY_ACCOUNT, f"moto's default account is not {CANARY_ACCOUNT}")
    localaws.http(url, "/moto-api/reset-auth", data=b"3")
    try:
        iam = localaws.client("iam", url, "bootstrap", "bootstrap")
        iam.meta.events.register("before-sign.*.*",
                                 lambda request, **_: request.headers.__setitem__("x-moto-account-id", TARGET_ACCOUNT))
        user = iam.create_user(UserName="target-admin")["User"]["Arn"]
        iam.put_user_policy(UserName="target-admin", PolicyName="admin", PolicyDocument=json.dumps(localaws.ALLOW_ALL))
        key = iam.create_access_key(UserName="target-admin")["AccessKey"]
    finally:
        localaws.http(url, "/moto-api/reset-auth", data=b"0")
    admin[TARGET_ACCOUNT] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "arn": user}
    for account, creds in admin.items():  # every later request is authenticated, by its key
        who = localaws.client("sts", url, creds["access_key_id"], creds["secret_access_key"]).get_caller_identity()
        need(who["Account"] == account, f"admin of {account} resolves to account {who['Account']}")
    return admin


def clients(url, creds):
    import localaws

    return lambda svc, region=R1: localaws.client(svc, url, creds["access_key_id"], creds["secret_access_key"],
                                                  region=region, token=creds.get("session_token"))


def create_user(client, name, policy):
    iam = client("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="canary", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "arn": arn}


def create_tables(client, tables):
    arns = []
    for region, names in tables.items():
        ddb = client("dynamodb", region)
        for name in names:
            arns.append(ddb.create_table(
                TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
            )["TableDescription"]["TableArn"])
    return arns


def deploy(client, template_path, stack_name, params):
    import cfn_template

    cf = client("cloudformation")
    body = json.dumps(cfn_template.load(template_path))
    try:
        cf.create_stack(StackName=stack_name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    except Exception as e:
        raise Fail(f"create_stack {stack_name}: {type(e).__name__}: {e}")
    desc = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    need(desc["StackStatus"] == "CREATE_COMPLETE", f"{stack_name}: {desc['StackStatus']} {desc.get('StackStatusReason')}")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"] if r["LogicalResourceId"]}
    return physical, {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}


def doc(d):
    return json.loads(d) if isinstance(d, str) else d


def inspect(client, physical, outputs, params, account):
    """What moto stored equals the template's rendering for the same parameters."""
    stack = render(params, account=account)
    iam = client("iam")
    role = iam.get_role(RoleName=physical["TargetRole"])["Role"]
    need(outputs.get("RoleArn") == role["Arn"], f"output RoleArn {outputs.get('RoleArn')} != the role's {role['Arn']}")
    want_trust = stack.resources("AWS::IAM::Role")["TargetRole"]["Properties"]["AssumeRolePolicyDocument"]
    need(doc(role["AssumeRolePolicyDocument"]) == want_trust,
         f"trust policy in moto:\n  {role['AssumeRolePolicyDocument']}\n  template: {want_trust}")
    inline = {p["PolicyName"]: p["PolicyDocument"]
              for p in stack.resources("AWS::IAM::Role")["TargetRole"]["Properties"].get("Policies", [])}
    names = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    need(sorted(names) == sorted(inline), f"inline policies {names}, template {sorted(inline)}")
    for name in names:
        got = doc(iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"])
        need(got == inline[name], f"inline policy {name} in moto: {got}\n  template: {inline[name]}")
    managed = {physical[lid]: r["Properties"]["PolicyDocument"]
               for lid, r in stack.resources("AWS::IAM::ManagedPolicy").items()}
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]}
    need(attached == set(managed), f"attached managed policies {sorted(attached)}, template {sorted(managed)}")
    for arn, want in managed.items():
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        got = doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        need(got == want, f"managed policy {arn} in moto: {got}\n  template: {want}")
    return role, f"role {role['Arn']}: trust, {len(names)} inline and {len(managed)} managed policies = the template's"


def canary_env(tmp, creds=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.path.join(tmp, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-credentials")}
    if creds:
        env.update(AWS_ACCESS_KEY_ID=creds["access_key_id"], AWS_SECRET_ACCESS_KEY=creds["secret_access_key"])
        if creds.get("session_token"):
            env["AWS_SESSION_TOKEN"] = creds["session_token"]
    return env


def run_canary(a, config, creds, url, tmp, name):
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    cmd = [a.binary, "check", "--config", path, "--output", "json", "--endpoint-url", url, "--region", R1]
    try:
        r = subprocess.run(cmd, env=canary_env(tmp, creds), capture_output=True, text=True, timeout=120)
        report = json.loads(r.stdout)
    except subprocess.TimeoutExpired:
        raise Fail(f"{name}: the canary did not finish within 120 s")
    except ValueError:
        raise Fail(f"{name}: exit {r.returncode}, stdout is not a JSON report:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    for p in report.get("probes", []):
        print(f"    {p['table']:<8} {p['region']:<10} {p['probe']:<9} expect={p['expect']:<5} {p['outcome']:<7} "
              f"{p['class']:<19} {p.get('principal') or ''}"[:170])
    return r.returncode, report


def probe(a, url, tmp, canary, target_admin, role):
    results = []
    rc, rep = run_canary(a, CHECK_CONFIG, canary, url, tmp, "check")
    ident = rep.get("identity", {})
    need(ident.get("outcome") == "ok" and ident.get("account") == CANARY_ACCOUNT,
         f"identity {ident.get('outcome')}/{ident.get('class')}: {ident.get('arn')}")
    allowed = [p for p in rep["probes"] if p["expect"] == "allow"]
    denied = [p for p in rep["probes"] if p["expect"] == "deny"]
    need(len(allowed) == 7 and len(denied) == 5, f"{len(allowed)} allow and {len(denied)} deny probes, want 7 and 5")
    bad = [p for p in allowed if p["outcome"] != "ok"]
    need(not bad, "allowed probes failed (the role is not sufficient):\n"
         + "\n".join(f"  {p['table']} {p['region']} {p['probe']}: {p['class']} {p.get('message')}" for p in bad))
    principal = f"arn:aws:sts::{TARGET_ACCOUNT}:assumed-role/{role['RoleName']}/{SESSION}"
    wrong = [p for p in allowed if p.get("principal") != principal]
    need(not wrong, f"probes not run as {principal}: {[(p['table'], p.get('principal')) for p in wrong]}")
    results.append(f"7 allowed probes (orders describe+read in {R1} and {R2}, ledger describe+read+write in {R1}) "
                   f"pass as {principal}")
    bad = [p for p in denied if p["outcome"] != "ok" or p["class"] != "ok"]
    need(not bad, "must-deny probes not denied (the role is too wide):\n"
         + "\n".join(f"  {p['table']} {p['region']} {p['probe']}: {p['class']} {p.get('message')}" for p in bad))
    need(rc == 0 and rep.get("healthy") is True, f"exit {rc}, healthy={rep.get('healthy')}")
    results.append(f"denied as expected: payroll describe+read ({R1}), orders write ({R1}, read-only), "
                   f"ledger describe+read ({R2}: granted in {R1} only); exit 0, healthy")
    # Control: the same must-deny probes with full rights in the target account.
    control = dict(BASE, targets=[{k: v for k, v in t.items() if k not in ("role_arn", "external_id", "session_name")}
                                  for t in MUST_DENY])
    rc, rep = run_canary(a, control, target_admin, url, tmp, "control")
    need(rc == 1 and len(rep["probes"]) == 5 and all(p["class"] == "unexpected_access" for p in rep["probes"]),
         f"exit {rc}: with the target account's admin the must-deny probes are not all unexpected_access, "
         "so the denials above prove nothing")
    results.append("control: the target account's admin gets unexpected_access on all 5 (the tables exist)")
    return results


def trust(a, url, tmp, admin, canary):
    """Same-account deployment, where moto evaluates the trust policy."""
    results = []
    cl = clients(url, admin[CANARY_ACCOUNT])
    create_tables(cl, {R1: ["local"]})
    params = {"CanaryRoleArn": CANARY_USER, "ExternalId": EXTERNAL_ID, "RoleName": "",
              "Slot1DescribeTableArns": tarn(R1, "local", CANARY_ACCOUNT), "LeadingKeyValues": ",".join(SENTINELS)}
    physical, outputs = deploy(cl, a.template, "target-role-same-account", params)
    role, line = inspect(cl, physical, outputs, params, CANARY_ACCOUNT)
    need(role["RoleName"] != ROLE_NAME and role["RoleName"] == physical["TargetRole"], f"role name {role['RoleName']}")
    results.append(f"same-account stack (generated name): {line}")
    cl("iam").put_user_policy(UserName="canary", PolicyName="canary", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [ROLE_ARN, role["Arn"]]}]}))
    intruder = create_user(cl, "intruder", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}]})

    def one(name, creds, **target):
        cfg = dict(BASE, targets=[dict({"table": "local", "regions": [R1], "probes": ["describe"],
                                        "role_arn": role["Arn"], "session_name": SESSION}, **target)])
        rc, rep = run_canary(a, cfg, creds, url, tmp, name)
        return rc, rep["probes"][0]

    rc, p = one("trust-ok", canary, external_id=EXTERNAL_ID)
    need(rc == 0 and p["outcome"] == "ok", f"canary with the right external id: {p['class']} {p.get('message')}")
    rc, p = one("trust-wrong-id", canary, external_id=EXTERNAL_ID + "-wrong")
    need(rc == 1 and p["class"] == "assume_role_denied", f"wrong external id: {p['class']}, want assume_role_denied")
    rc, p = one("trust-intruder", intruder, external_id=EXTERNAL_ID)
    need(rc == 1 and p["class"] == "assume_role_denied", f"untrusted user: {p['class']}, want assume_role_denied")
    results.append("trust enforced: right external id ok; wrong external id and an untrusted user of the account "
                   "(allowed sts:AssumeRole) are assume_role_denied")
    # moto's limits, recorded (not asserted): AWS refuses both.
    rc, p = one("moto-no-id", canary)
    results.append(f"moto limit: a missing external id (same account) is {p['class']} in moto; AWS refuses it "
                   "(checked statically)")
    cfg = dict(BASE, targets=[role_target(table="orders", regions=[R1], probes=["describe"])])
    cfg["targets"][0]["external_id"] = EXTERNAL_ID + "-wrong"
    rc, rep = run_canary(a, cfg, canary, url, tmp, "moto-cross-account-wrong-id")
    results.append(f"moto limit: cross-account, a wrong external id is {rep['probes'][0]['class']} in moto (trust of a "
                   "role in another account is not evaluated); AWS refuses it")
    return results


def moto_steps(a, tmp, step, summary):
    step("moto", "start moto, bootstrap both accounts, create the target's tables and the canary user")
    a.moto, url = start_moto(tmp)
    admin = bootstrap_accounts(url)
    target = clients(url, admin[TARGET_ACCOUNT])
    arns = create_tables(target, TABLES)
    need(all(x.split(":")[4] == TARGET_ACCOUNT for x in arns), f"tables not in {TARGET_ACCOUNT}: {arns}")
    # The canary's own permission: AssumeRole on the target roles, nothing else.
    canary = create_user(clients(url, admin[CANARY_ACCOUNT]), "canary", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}]})
    need(canary["arn"] == CANARY_USER, f"canary user {canary['arn']}")
    print(f"   {url}; admins in {CANARY_ACCOUNT} and {TARGET_ACCOUNT}; {len(arns)} tables in {TARGET_ACCOUNT}; "
          f"canary user {CANARY_USER} may only sts:AssumeRole")

    step("deploy", f"create the target-role stack in account {TARGET_ACCOUNT} with CloudFormation")
    physical, outputs = deploy(target, a.template, "canary-target-role", PARAMS)
    role, line = inspect(target, physical, outputs, PARAMS, TARGET_ACCOUNT)
    need(role["Arn"] == ROLE_ARN, f"role ARN {role['Arn']} != {ROLE_ARN} (RoleName)")
    summary.append(f"deployed in {TARGET_ACCOUNT}: {line}")
    print(f"   {line}")

    step("probe", "check as the canary, through AssumeRole: allowed probes pass, the others are denied")
    summary.extend(probe(a, url, tmp, canary, admin[TARGET_ACCOUNT], role))

    step("trust", "trust policy in moto (same-account deployment)")
    summary.extend(trust(a, url, tmp, admin, canary))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-moto":
        serve_moto(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with moto's log")
    ap.add_argument("--without-policy-command", action="store_true",
                    help="skip the comparison with `policy --target-account` (binary without `policy`)")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"target_role_test: no canary binary at {a.binary} (cargo build)", file=sys.stderr)
        sys.exit(2)
    a.template = os.path.abspath(a.template)
    tmp = tempfile.mkdtemp(prefix="canary-target-role-test.")
    a.moto = None

    def body(step, summary):
        step("lint", "cfn-lint target-role.yaml")
        summary.append(lint(a))
        step("static", "trust, conditions and grants of the rendered template (offline)")
        summary.extend(static(a))
        step("policy", "the role's permission policy: template vs hand-written vs `policy --target-account`")
        summary.extend(compare(a, tmp))
        moto_steps(a, tmp, step, summary)

    ok = stepped.run("target_role_test", a, tmp, body)
    print(f"target_role_test: {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
