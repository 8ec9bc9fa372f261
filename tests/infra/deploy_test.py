#!/usr/bin/env python3
"""Deploy template.yaml into a local moto (IAM enforced), with the parameters `deploy-params`
computes from a configuration, and prove with the canary binary that the deployed role is
sufficient for the configuration and no wider; that a configuration too large to inline
deploys through SSM; and that the template's permissions equal `policy`'s.

Usage: deploy_test.py [BINARY] [--template template.yaml] [--keep-logs] [--hand-params]
  BINARY         the canary binary (default: target/debug/dynamodb-auth-canary); it needs
                 `deploy-params`, `policy` and CANARY_CONFIG_PARAMETER support
  --hand-params  development only, for a binary without `deploy-params`/`policy`: compute the
                 parameters in Python and skip what needs those commands (the run then ends
                 PARTIAL, exit 3)

A. Small configuration (orders in two regions, customers in one with a configured key, write
   probes on an N-keyed and a B-keyed table, a must-deny read of payroll):
   `deploy-params` -> parameters (each within 4,096 bytes, and equal to an independent
   computation in this file) -> the stack in moto -> what moto created is what the template
   declares (inline policy, one managed policy per used table slot) -> assume the role ->
   `check` with the role's credentials and the function's environment as the template sets
   it: every allow probe passes (describe, read, write on N and B keys), the must-deny probe is
   denied; then tables outside the configuration (another table; a configured table in a
   region it is not configured in) are denied, and as a control the admin's access to them is
   reported as unexpected_access.
B. The README's 40 tables x 6 regions configuration, made larger than 4 KB (per-target
   regions, keys, write probes): put into SSM (Advanced tier), `deploy-params --ssm-parameter`
   -> every value within 4,096 bytes -> the stack deploys -> every managed policy under
   6,144 characters without whitespace -> all 240 tables created -> `check` with the role's
   credentials and CANARY_CONFIG_PARAMETER (no CANARY_CONFIG, no --config) loads the
   configuration from SSM and passes.
C. For both configurations: the permissions the template renders (resolved offline, and as
   moto stored them) equal `policy --config ... --account 123456789012 --region us-east-1`,
   as normalized (Effect, Action, Resource, Condition) triples, without the template-only
   statements (logs on its own log group, ssm:GetParameter of its parameter). `policy`'s
   output is never fed into the template.

moto limits, each worked around in the open: it creates no alarms, subscriptions, dashboards
or EventInvokeConfig (stripped, and listed); its Role ignores ManagedPolicyArns (the test
attaches the stack's managed policies exactly as the template lists them); it stores a
CloudFormation role's inline policy as a Python repr (re-stored unchanged as JSON); it
matches trust principals literally and fails on Service principals (the trust policy is
replaced so the test can assume the role); it authorizes SSM against "*" and leaves
AWS::NoValue in a list as null (this test's moto, see LAUNCHER, does both as AWS does). moto does NOT evaluate
IAM Condition keys (the LeadingKeys and namespace conditions): template_checks.py checks their
values statically against the parameters and the code's sentinels. Metrics use sink "none":
moto cannot parse the CBOR of PutMetricData.
Exit 0 when everything holds; 1 with the failing step and why; 3 when --hand-params left
steps out.
"""
import argparse
import ast
import base64
import copy
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "CANARY_CONFIG", "CANARY_CONFIG_PARAMETER",
             "CANARY_NAME", "CANARY_NAMESPACE", "CANARY_EXPECT_ROLE_ARN", "CANARY_LEADING_KEYS"):
    os.environ.pop(_var, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws")]  # the proofs; localaws, moto_server
import cfn_template  # noqa: E402  (translation, resolution)
import localaws  # noqa: E402  (admin bootstrap, tables, boto3 clients with explicit keys)
import stepped  # noqa: E402  (the harness: steps, moto launcher)
from stepped import Fail, need, start_moto as launch_moto  # noqa: E402

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's default account; checked against the admin's ARN
SENTINELS = ["__dynamodb_auth_canary__", "-271828182845904523536.0287",
             base64.b64encode(b"__dynamodb_auth_canary__").decode()]
MAX_PARAMETER_BYTES, MAX_MANAGED_POLICY_CHARS = 4096, 6144
SSM_STANDARD_BYTES, SSM_ADVANCED_BYTES = 4096, 8192
SLOTS = 8
TEMPLATE_ONLY = ("logs:", "ssm:getparameter")  # plumbing statements `policy` does not print

# A: two tables in two regions, a configured key, writes on N- and B-keyed tables, must-deny.
SMALL = {
    "defaults": {"regions": [REGION], "timeout_ms": 5000},
    "targets": [
        {"table": "orders", "regions": ["us-east-1", "eu-west-1"], "probes": ["describe", "read"]},
        {"table": "customers", "regions": ["eu-west-1"], "probes": ["describe", "read"],
         "key": {"pk": {"S": "canary-customer"}}},
        {"table": "counters", "probes": ["describe", "write"]},
        {"table": "blobs", "probes": ["describe", "write"]},
        # read, not describe: a must-deny read is a data event, not a CloudTrail management event
        {"table": "payroll", "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "__canary__"}}},
    ],
    "metrics": {"sink": "none"},
    "deadline_ms": 20000,
}
SMALL_TABLES = [  # (name, regions, hash key name, type)
    ("orders", ["us-east-1", "eu-west-1"], "pk", "S"),
    ("customers", ["eu-west-1", "us-east-1"], "pk", "S"),  # us-east-1: outside the configuration
    ("counters", ["us-east-1"], "n", "N"),
    ("blobs", ["us-east-1"], "id", "B"),
    ("payroll", ["us-east-1"], "pk", "S"),
    ("secrets", ["us-east-1"], "pk", "S"),  # outside the configuration
]
OUTSIDE = {  # probed as must-deny with the role: none of it may be allowed
    "defaults": {"regions": [REGION], "timeout_ms": 5000},
    "targets": [
        {"table": "secrets", "probes": ["describe", "read"], "expect": "deny", "key": {"pk": {"S": "__canary__"}}},
        {"table": "customers", "regions": ["us-east-1"], "probes": ["describe", "read"], "expect": "deny",
         "key": {"pk": {"S": "canary-customer"}}},
        {"table": "orders", "probes": ["write"], "expect": "deny", "key": {"pk": {"S": "__dynamodb_auth_canary__"}}},
    ],
    "metrics": {"sink": "none"},
    "deadline_ms": 20000,
}

# B: the README's 40 tables x 6 regions, larger than 4 KB.
BIG_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]
SSM_NAME = "/dynamodb-auth-canary/deploy-test/config"


def big_config():
    """40 tables in the same 6 regions (describe + read), two of them also written, four
    with a configured key: per-target regions, probes and keys make it larger than 4 KB."""
    targets = []
    for i in range(40):
        t = {"table": f"app{i:02d}-table", "regions": list(BIG_REGIONS), "probes": ["describe", "read"]}
        if i % 10 == 3:  # a configured partition key: LeadingKeyValues grows
            t["key"] = {"pk": {"S": f"canary-{i:02d}"}}
        if i in (0, 1):  # sentinel writes
            t["probes"].append("write")
        targets.append(t)
    return {"defaults": {"timeout_ms": 10000}, "targets": targets, "metrics": {"sink": "none"},
            "concurrency": 32, "deadline_ms": 120000}


class Partial(Exception):
    pass


def minified(doc):
    return json.dumps(doc, separators=(",", ":"))


# ------------------------------------------------------------------ parameters

def parse_overrides(line):
    """SAM CLI's --parameter-overrides "K=V K2='V 2' K3=\"\"" -> {K: V}."""
    out = {}
    for word in shlex.split(line.strip()):
        key, sep, value = word.partition("=")
        need(sep and key, f"deploy-params printed {word!r}, not Key=Value")
        need(key not in out, f"deploy-params printed {key} twice")
        out[key] = value
    return out


def python_params(config, region, account, ssm=None):
    """The template's parameters for a configuration, computed here independently of the
    binary: the table ARNs of the describe, read and write probes of allow targets (must-deny
    targets get nothing), one slot per region (deploy-params packs by size instead: compare
    with by_kind()); LeadingKeyValues = the sentinels + the configured keys of allow targets."""
    defaults = config.get("defaults", {})
    slots, keys = {}, list(SENTINELS)
    for t in config["targets"]:
        if t.get("expect", "allow") == "deny":
            continue
        for r in t.get("regions", defaults.get("regions", [region])):
            slot = slots.setdefault(r, {"describe": set(), "read": set(), "write": set()})
            for p in t.get("probes", defaults.get("probes", ["describe"])):
                slot[p].add(f"arn:aws:dynamodb:{r}:{account}:table/{t['table']}")
        for _, value in sorted(t.get("key", {}).items()):
            v = next(iter(value.values()))
            if v not in keys:
                keys.append(v)
    need(len(slots) <= SLOTS, f"{len(slots)} regions, {SLOTS} slots")
    p = {"CanaryConfig": "" if ssm else minified(config), "ConfigParameterName": ssm or "", "CanaryName": "",
         "MetricsNamespace": config.get("metrics", {}).get("namespace", "DynamoDBAuthCanary"),
         "LeadingKeyValues": ",".join(keys), "KmsKeyArns": "", "AssumeRoleArns": ""}
    for n, s in enumerate(list(slots.values()) + [None] * (SLOTS - len(slots)), 1):
        for kind in ("describe", "read", "write"):
            p[f"Slot{n}{kind.capitalize()}TableArns"] = ",".join(sorted(s[kind])) if s else ""
    return p


def slot_lists(params):
    """{(slot, kind): [table ARNs]} of the slot parameters."""
    return {(n, k): [x for x in params.get(f"Slot{n}{k.capitalize()}TableArns", "").split(",") if x]
            for n in range(1, SLOTS + 1) for k in ("describe", "read", "write")}


def by_kind(params):
    """{kind: set of table ARNs} over all slots."""
    out = {"describe": set(), "read": set(), "write": set()}
    for (_, kind), arns in slot_lists(params).items():
        out[kind] |= set(arns)
    return out


def regions_of(params):
    return sorted({a.split(":")[3] for arns in slot_lists(params).values() for a in arns})


def get_params(a, config_path, config, tmp, ssm=None, what=""):
    """deploy-params for the configuration (or the Python computation with --hand-params),
    checked against the limits and the independent computation."""
    want = python_params(config, REGION, ACCOUNT, ssm)
    if a.hand_params:
        print(f"   --hand-params: parameters computed in Python ({what}); deploy-params NOT run")
        a.partial.append(f"deploy-params not run ({what})")
        return want
    cmd = [a.binary, "deploy-params", "--config", config_path, "--account", ACCOUNT, "--region", REGION]
    if ssm:
        cmd += ["--ssm-parameter", ssm]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=cli_env(tmp))
    need(r.returncode == 0, f"`{' '.join(cmd[1:])}` exit {r.returncode}: {r.stderr.strip()[:800]}")
    print(f"   $ dynamodb-auth-canary {' '.join(shlex.quote(x) for x in cmd[1:])}  ({len(r.stdout)} bytes, one line:"
          f" {r.stdout.count(chr(10)) == 1})")
    got = parse_overrides(r.stdout)
    want_keys = set(want) | {"CanaryName"}
    missing = sorted(want_keys - set(got))
    need(not missing, f"deploy-params does not print {missing} (every managed parameter, empty ones as Key=\"\")")
    sam_params = set(cfn_template.load(a.template)["Parameters"])
    need(set(got) <= sam_params, f"deploy-params prints parameters the template does not have: {sorted(set(got) - sam_params)}")
    for k, v in got.items():
        need(len(v.encode()) <= MAX_PARAMETER_BYTES,
             f"deploy-params: {k} is {len(v.encode())} bytes; CloudFormation allows {MAX_PARAMETER_BYTES}")
    names = [x for arns in slot_lists(got).values() for x in arns if not x.startswith("arn:")]
    need(not names, f"deploy-params prints table names in the slot lists ({names[:3]}); the template needs exact ARNs")
    need(by_kind(got) == by_kind(want), "deploy-params' table ARNs differ from the independent computation:\n"
         + "\n".join(f"  {k}: only deploy-params {sorted(by_kind(got)[k] - by_kind(want)[k])[:4]}, only expected "
                     f"{sorted(by_kind(want)[k] - by_kind(got)[k])[:4]}" for k in ("describe", "read", "write")))
    for kind in ("describe", "read", "write"):
        counts = [len(slot_lists(got)[(n, kind)]) for n in range(1, SLOTS + 1)]
        need(sum(counts) == len(by_kind(got)[kind]), f"deploy-params lists a {kind} table in two slots")
    for k in ("CanaryConfig", "ConfigParameterName", "MetricsNamespace", "KmsKeyArns", "AssumeRoleArns"):
        if k == "CanaryConfig" and got[k]:
            need(json.loads(got[k]) == config, "CanaryConfig is not the configuration")
        else:
            need(got[k] == want[k], f"deploy-params: {k}={got[k]!r}, expected {want[k]!r}")
    need(sorted(got["LeadingKeyValues"].split(",")) == sorted(want["LeadingKeyValues"].split(",")),
         f"deploy-params: LeadingKeyValues={got['LeadingKeyValues']!r}, expected the sentinels and the configured "
         f"keys {want['LeadingKeyValues']!r}")
    used = [n for n in range(1, SLOTS + 1) if any(slot_lists(got)[(n, k)] for k in ("describe", "read", "write"))]
    print(f"   every parameter within {MAX_PARAMETER_BYTES} bytes (largest: "
          f"{max(got, key=lambda k: len(got[k].encode()))}, {max(len(v.encode()) for v in got.values())} bytes); "
          f"{len(used)} slot(s) used; table ARNs and LeadingKeyValues equal the independent computation")
    return got


# ------------------------------------------------------------------ moto

# moto_server.py (IAM enforced, per-table DynamoDB ARNs) plus two things this test needs, both
# making moto behave as AWS does: SSM GetParameter authorized against the parameter's ARN
# (moto authorizes it against "*", which no scoped policy matches), and AWS::NoValue removing
# its element from a list (moto's CloudFormation leaves a null there, which its IAM then
# refuses as "Syntax errors in policy" in a managed policy's Statement list).
LAUNCHER = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import moto_server  # noqa: E402  (sets up IAM enforcement and the DynamoDB patch on import)
import moto.cloudformation.parsing as parsing
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.utilities.utils import get_partition

_clean_json = parsing.clean_json

def clean_json(resource_json, resources_map):
    if isinstance(resource_json, list):
        values = [parsing.clean_json(v, resources_map) for v in resource_json]
        return [v for v in values if v is not None]  # AWS::NoValue in a list: no element
    return _clean_json(resource_json, resources_map)

parsing.clean_json = clean_json

def _ssm_resource(self):
    try:
        body = json.loads(self.raw_body or b"{}") if not isinstance(getattr(self, "body", None), dict) else self.body
    except (ValueError, TypeError):
        body = {}
    name = body.get("Name") if isinstance(body, dict) else None
    if not name:
        return "*"
    name = name if name.startswith("/") else "/" + name
    return f"arn:{get_partition(self.region)}:ssm:{self.region}:{self.current_account}:parameter{name}"

SimpleSystemManagerResponse._determine_resource = _ssm_resource
moto_server._exit_with_parent()
moto_server.moto_main(["--host", "127.0.0.1", "--port", sys.argv[2]])
'''


def start_moto(logdir):
    return launch_moto([sys.executable, "-c", LAUNCHER, os.path.join(ROOT, "scripts", "localaws")], logdir)


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
    need(not [lid for lid in stripped if res[lid]["Type"].startswith("AWS::IAM::")],
         "an IAM resource would have to be stripped")
    for lid in stripped:
        del res[lid]
    for name in [o for o, v in cfn.get("Outputs", {}).items() if cfn_template.references(v) & set(stripped)]:
        del cfn["Outputs"][name]
        stripped[f"Outputs.{name}"] = "stripped: output (references a stripped resource)"
    return cfn, {**changes, **stripped}


def moto_policy(doc):
    """A policy document as moto serves it -> (document, what had to be undone). moto 5.2 keeps
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


class Moto:
    def __init__(self, url, admin):
        self.url, self.admin = url, admin

    def client(self, svc, region=REGION):
        return localaws.client(svc, self.url, self.admin["access_key_id"], self.admin["secret_access_key"], region=region)

    def tables(self, tables):
        """tables: [(name, regions, hash key, type)] -> {(name, region): arn}. One client per
        region (creating a boto3 client costs more than moto creating a table)."""
        clients, arns = {}, {}
        for name, regions, key, kind in tables:
            for region in regions:
                if region not in clients:
                    clients[region] = self.client("dynamodb", region=region)
                ddb = clients[region]
                arn = ddb.create_table(
                    TableName=name, AttributeDefinitions=[{"AttributeName": key, "AttributeType": kind}],
                    KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
                need(arn == f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}", f"table {name} in {region}: ARN {arn}")
                arns[(name, region)] = arn
        return arns


# ------------------------------------------------------------------ the canary

def cli_env(tmp, creds=None, extra=None):
    """Only these variables: no inherited AWS_* or CANARY_*, no profile, no ~/.aws."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
           "AWS_CONFIG_FILE": os.path.join(tmp, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    if creds:
        env.update(AWS_ACCESS_KEY_ID=creds["access_key_id"], AWS_SECRET_ACCESS_KEY=creds["secret_access_key"])
        if creds.get("session_token"):
            env["AWS_SESSION_TOKEN"] = creds["session_token"]
    env.update(extra or {})
    return env


def run_canary(a, creds, url, tmp, name, config=None, env_extra=None, quiet=False):
    """`check` with exactly these credentials; config None: from the environment."""
    cmd = [a.binary, "check", "--output", "json", "--endpoint-url", url, "--region", REGION]
    if config is not None:
        path = os.path.join(tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump(config, f)
        cmd += ["--config", path]
    try:
        r = subprocess.run(cmd, env=cli_env(tmp, creds, env_extra), capture_output=True, text=True, timeout=300)
        report = json.loads(r.stdout)
    except subprocess.TimeoutExpired:
        raise Fail(f"{name}: the canary did not finish within 300 s")
    except ValueError:
        raise Fail(f"{name}: exit {r.returncode}, stdout is not a JSON report:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    if not quiet:
        for p in report.get("probes", []):
            print(f"    {p['table']:<10} {p['region']:<10} {p['probe']:<9} expect={p['expect']:<5} "
                  f"{p['outcome']:<7} {p['class']:<18} {p.get('message') or ''}"[:160])
    return r.returncode, report


# ------------------------------------------------------------------ policies

def norm_condition(cond):
    """A condition with its value lists sorted (IAM treats them as sets), as canonical JSON."""
    if not cond:
        return None
    out = {op: {k: sorted(cfn_template.as_list(v)) for k, v in keys.items()} for op, keys in cond.items()}
    return json.dumps(out, sort_keys=True)


def triples(statements, skip_template_only=False):
    out = set()
    for st in statements:
        for action in cfn_template.as_list(st.get("Action", [])):
            if skip_template_only and action.lower().startswith(TEMPLATE_ONLY):
                continue
            for r in cfn_template.as_list(st.get("Resource", [])):
                out.add((st.get("Effect"), action.lower(), r, norm_condition(st.get("Condition"))))
    return out


def rendered_statements(stack):
    """Every statement the template gives the function's role: its inline policies and the
    managed policies its ManagedPolicyArns lists (resolved offline)."""
    role = stack.resources("AWS::IAM::Role")["CanaryRole"]["Properties"]
    managed = stack.resources("AWS::IAM::ManagedPolicy")
    out = [st for pol in role.get("Policies", []) for st in cfn_template.as_list(pol["PolicyDocument"]["Statement"])]
    for ref in role.get("ManagedPolicyArns", []):
        need(ref.startswith("<") and ref[1:-1] in managed, f"the role attaches {ref}, not one of the stack's policies")
        out += cfn_template.as_list(managed[ref[1:-1]]["Properties"]["PolicyDocument"]["Statement"])
    return out


def compare_with_policy(a, tmp, config_path, label, template_statements, moto_statements, summary):
    """C: the template's permissions (resolved offline and as moto stored them) == `policy`."""
    if a.hand_params:
        print(f"   --hand-params: `policy` NOT run ({label})")
        a.partial.append(f"policy comparison not run ({label})")
        return
    cmd = [a.binary, "policy", "--config", config_path, "--account", ACCOUNT, "--region", REGION]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=cli_env(tmp))
    need(r.returncode == 0, f"`{' '.join(cmd[1:])}` exit {r.returncode}: {r.stderr.strip()[:800]}")
    generated = triples(cfn_template.as_list(json.loads(r.stdout)["Statement"]))
    for what, statements in (("the template (resolved offline)", template_statements),
                             ("the stack as moto stored it", moto_statements)):
        got = triples(statements, skip_template_only=True)
        need(got == generated, f"{label}: {what} differs from `policy`:\n"
             f"  only in the template: {sorted(got - generated)[:6]}\n  only in `policy`:    {sorted(generated - got)[:6]}")
    actions = sorted({t[1] for t in generated})
    print(f"   {label}: `policy` == the template (offline) == the stack in moto: {len(generated)} (Effect, Action, "
          f"Resource, Condition) triples; actions {', '.join(actions)}")
    summary.append(f"C {label}: template permissions == `policy` ({len(generated)} triples; logs and "
                   "ssm:GetParameter are template-only)")


# ------------------------------------------------------------------ deploy

def deploy(a, m, tmp, stack_name, params, label):
    """Translate, adapt, create the stack; check and fix up (moto) what was created.
    Returns (stack resolved offline, physical ids, role ARN, statements as moto stored them)."""
    sam = cfn_template.load(a.template)
    try:
        stack = cfn_template.resolve(params, sam, account=ACCOUNT, region=REGION, stack_name=stack_name)
    except Exception as e:
        raise Fail(f"translation failed: {type(e).__name__}: {e}")
    failed = [d for _, d, ok in stack.rules() if not ok]
    need(not failed, f"the template's Rules refuse these parameters (CloudFormation would too): {failed}")
    cfn, changes = adapt_for_moto(stack.cfn)
    if a.verbose_adapt:
        for lid, why in changes.items():
            print(f"   {lid}: {why}")
    active = stack.resources()  # Condition true
    kept = {lid: r["Type"] for lid, r in cfn["Resources"].items() if lid in active}
    print(f"   {len(active)} active CloudFormation resources after translation; moto cannot create "
          f"{len([c for c in changes.values() if c.startswith('stripped')])} (alarms, subscriptions, dashboard, "
          f"EventInvokeConfig): stripped; kept {len(kept)} ({', '.join(sorted(set(kept.values())))})")
    a.verbose_adapt = False
    cf = m.client("cloudformation")
    try:
        cf.create_stack(StackName=stack_name, TemplateBody=json.dumps(cfn), Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    except Exception as e:
        raise Fail(f"create_stack: {type(e).__name__}: {e}")
    desc = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    need(desc["StackStatus"] == "CREATE_COMPLETE", f"stack status {desc['StackStatus']}: {desc.get('StackStatusReason')}")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]}
    need(set(kept) <= set(physical), f"moto did not create {sorted(set(kept) - set(physical))}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    print(f"   {stack_name}: {desc['StackStatus']}, {len(physical)} resources; outputs {sorted(outputs)}")

    iam, role_name = m.client("iam"), physical["CanaryRole"]
    role = iam.get_role(RoleName=role_name)["Role"]
    need(outputs.get("CanaryRoleArn") == role["Arn"], "output CanaryRoleArn is not the role's ARN")
    need(outputs.get("CanaryName") == (params.get("CanaryName") or stack_name), f"output CanaryName {outputs.get('CanaryName')}")
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    need(any(st.get("Principal", {}).get("Service") == "lambda.amazonaws.com" for st in trust["Statement"]),
         f"the role does not trust lambda.amazonaws.com: {trust}")
    # Inline policy: exactly the template's (the log group ARN as moto names it).
    expected_role = stack.resources("AWS::IAM::Role")["CanaryRole"]["Properties"]
    expected_inline = {p["PolicyName"]: p["PolicyDocument"] for p in expected_role.get("Policies", [])}
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    need(sorted(names) == sorted(expected_inline), f"role policies {names}, template declares {sorted(expected_inline)}")
    groups = m.client("logs").describe_log_groups(logGroupNamePrefix=physical["CanaryLogGroup"])["logGroups"]
    log_group_arn = next((g["arn"] for g in groups), None)
    stored = []
    for name in names:
        got, fixes = moto_policy(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        seen = json.dumps(got)
        for form in (log_group_arn, (log_group_arn or "").removesuffix(":*")) if log_group_arn else ():
            seen = seen.replace(json.dumps(form), '"<CanaryLogGroup.Arn>"')
        need(json.loads(seen) == expected_inline[name], f"policy {name} in moto differs from the template's:\n"
             f"  moto:     {json.dumps(got)}\n  template: {json.dumps(expected_inline[name])}")
        stored += got["Statement"]
        if fixes:  # the same document, stored the way moto's own authorizer can read it
            iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(got))
        print(f"   inline policy {name} = the template's ({', '.join(st.get('Sid', '?') for st in got['Statement'])})"
              + (f"; re-stored unchanged as JSON ({'; '.join(fixes)})" if fixes else ""))
    # Managed policies: one per used slot, each as the template declares it, attached the
    # way the template attaches it (moto's Role ignores ManagedPolicyArns).
    expected_managed = stack.resources("AWS::IAM::ManagedPolicy")
    refs = expected_role.get("ManagedPolicyArns", [])
    need(sorted(refs) == sorted(f"<{lid}>" for lid in expected_managed),
         f"the role's ManagedPolicyArns {refs} are not the stack's managed policies {sorted(expected_managed)}")
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]}
    sizes = {}
    for lid, res in expected_managed.items():
        arn = physical[lid]
        need(arn.startswith(f"arn:aws:iam::{ACCOUNT}:policy/"), f"{lid}: physical id {arn} is not a policy ARN")
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc, _ = moto_policy(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        need(doc == res["Properties"]["PolicyDocument"], f"managed policy {lid} in moto differs from the template's:\n"
             f"  moto:     {minified(doc)[:600]}\n  template: {minified(res['Properties']['PolicyDocument'])[:600]}")
        sizes[lid] = len(minified(doc))
        need(sizes[lid] < MAX_MANAGED_POLICY_CHARS, f"{lid} is {sizes[lid]} characters without whitespace; IAM allows "
             f"{MAX_MANAGED_POLICY_CHARS} for a managed policy")
        if arn not in attached:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
        stored += doc["Statement"]
    print(f"   {len(expected_managed)} managed policies = the template's, sizes without whitespace "
          f"{', '.join(f'{k} {v}' for k, v in sizes.items())} (< {MAX_MANAGED_POLICY_CHARS}); attached to the role by "
          "the test as its ManagedPolicyArns lists them (moto's Role ignores ManagedPolicyArns)")
    need(len(iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]) == len(expected_managed),
         "the role has other managed policies attached")
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical['CanaryFunction']}"
    need(outputs.get("CanaryFunctionArn") == fn_arn, f"output CanaryFunctionArn {outputs.get('CanaryFunctionArn')}")
    # Replaced, not extended: moto matches principals literally, and its AssumeRole crashes
    # (HTTP 500, TypeError in _check_principal) on any statement whose Principal is a Service.
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "DeployTestOnly", "Effect": "Allow",
                                                "Principal": {"AWS": m.admin["arn"]}, "Action": "sts:AssumeRole"}]}))
    c = m.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="canary")["Credentials"]
    creds = {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"], "session_token": c["SessionToken"]}
    print(f"   trust policy REPLACED by one trusting the test's admin (moto matches principals literally and fails on "
          f"Service principals); permission policies untouched; assumed {role['Arn']}")
    fn = stack.resources("AWS::Lambda::Function")["CanaryFunction"]["Properties"]
    env = {k: (role["Arn"] if v == "<CanaryRole.Arn>" else v) for k, v in fn["Environment"]["Variables"].items()}
    need(not [v for v in env.values() if v.startswith("<")], f"unresolved function environment {env}")
    return stack, creds, role, env, stored


# ------------------------------------------------------------------ A, B

def part_a(a, m, tmp, step, summary):
    step("A params", "A. small configuration: deploy-params")
    path = os.path.join(tmp, "small.json")
    with open(path, "w") as f:
        json.dump(SMALL, f, indent=2)
    params = get_params(a, path, SMALL, tmp, what="small")
    step("A deploy", "A. deploy the stack with those parameters")
    m.tables(SMALL_TABLES)
    print(f"   tables: {', '.join(f'{n} ({k} {t}; {len(rs)} region(s))' for n, rs, k, t in SMALL_TABLES)}")
    stack, creds, role, env, stored = deploy(a, m, tmp, "canary-small", params, "small")
    used = regions_of(params)
    print(f"   function environment as the template sets it: {', '.join(sorted(env))}")

    step("A allow", "A. check as the role, with the function's environment: every allow probe passes")
    fn_env = {k: v for k, v in env.items() if k.startswith("CANARY_") and k != "CANARY_CONFIG"}
    rc, rep = run_canary(a, creds, m.url, tmp, "small", config=SMALL, env_extra=fn_env)
    ident = rep.get("identity", {})
    need(ident.get("outcome") == "ok" and ident.get("role") == role["RoleName"],
         f"identity {ident.get('outcome')}/{ident.get('class')}: {ident.get('arn')} (expected role {role['RoleName']})")
    allow = [p for p in rep["probes"] if p["expect"] == "allow"]
    deny = [p for p in rep["probes"] if p["expect"] == "deny"]
    want = {(t["table"], r, p) for t in SMALL["targets"] if t.get("expect") != "deny"
            for r in t.get("regions", [REGION]) for p in t["probes"]}
    need({(p["table"], p["region"], p["probe"]) for p in allow} == want,
         f"allow probes {sorted((p['table'], p['region'], p['probe']) for p in allow)}, configured {sorted(want)}")
    bad = [p for p in rep["probes"] if p["outcome"] != "ok"]
    need(rc == 0 and rep.get("healthy") is True and not bad,
         f"exit {rc}, healthy={rep.get('healthy')}: the deployed role is not sufficient: "
         f"{[(p['table'], p['region'], p['probe'], p['class'], p.get('message')) for p in bad]}")
    need(deny and all(p["message"] == "denied as expected" for p in deny), f"must-deny probes {deny}")
    writes = sorted({p["table"] for p in allow if p["probe"] == "write"})
    summary.append(f"A allow: {len(allow)} allow probes pass as the deployed role in {len(used)} regions "
                   f"(describe, read, write on N-keyed counters and B-keyed blobs: {', '.join(writes)}); "
                   f"must-deny read of payroll denied")

    step("A deny", "A. check as the role: tables and regions outside the configuration are denied")
    rc, rep = run_canary(a, creds, m.url, tmp, "outside", config=OUTSIDE, env_extra=fn_env)
    need(rc == 0 and rep.get("healthy") is True and rep["probes"]
         and all(p["outcome"] == "ok" and p["message"] == "denied as expected" for p in rep["probes"]),
         f"exit {rc}: the deployed role reaches beyond the configuration: "
         f"{[(p['table'], p['region'], p['probe'], p['class']) for p in rep['probes'] if p['outcome'] != 'ok']}")
    rc, ctl = run_canary(a, m.admin, m.url, tmp, "control", config=OUTSIDE, quiet=True)
    need(rc == 1 and ctl["probes"] and all(p["class"] == "unexpected_access" for p in ctl["probes"]),
         f"control: exit {rc}: with admin rights the same must-deny probes were not all unexpected_access, so the "
         "deny check proves nothing")
    print(f"   control: the admin's {len(ctl['probes'])} probes of the same are all unexpected_access")
    summary.append(f"A deny: {len(rep['probes'])} probes outside the configuration denied (secrets; customers in a "
                   "region it is not configured in; a write to a read-only table); control as admin: unexpected_access")
    summary.append("A moto does not evaluate IAM Conditions: the LeadingKeys values (sentinels S, N, B and the "
                   "configured key) and the namespace condition are checked statically by template_checks.py")

    step("A policy", "C. small configuration: the template's permissions == `policy`")
    compare_with_policy(a, tmp, path, "small", rendered_statements(stack), stored, summary)


def part_b(a, m, tmp, step, summary):
    step("B ssm", "B. 40 tables x 6 regions, larger than 4 KB, into SSM")
    config = big_config()
    text = minified(config)
    path = os.path.join(tmp, "big.json")
    with open(path, "w") as f:
        f.write(text)
    need(SSM_STANDARD_BYTES < len(text.encode()) <= SSM_ADVANCED_BYTES,
         f"the configuration is {len(text.encode())} bytes; the test wants one above 4 KB (SSM standard) and within "
         "8 KB (SSM advanced)")
    m.client("ssm").put_parameter(Name=SSM_NAME, Type="String", Tier="Advanced", Value=text, Overwrite=True)
    tables = sorted({t["table"] for t in config["targets"]})
    print(f"   {len(tables)} tables x {len(BIG_REGIONS)} regions, {len(config['targets'])} targets, "
          f"{len(text.encode())} bytes minified: ssm put-parameter --name {SSM_NAME} --type String --tier Advanced")

    step("B params", "B. deploy-params --ssm-parameter")
    params = get_params(a, path, config, tmp, ssm=SSM_NAME, what="40 x 6")
    need(params["CanaryConfig"] == "" and params["ConfigParameterName"] == SSM_NAME,
         "with --ssm-parameter, CanaryConfig must be empty and ConfigParameterName the parameter")

    step("B deploy", "B. deploy the 40 x 6 stack")
    t0 = time.monotonic()
    m.tables([(t, BIG_REGIONS, "pk", "S") for t in tables])
    print(f"   created all {len(tables) * len(BIG_REGIONS)} tables in moto in {time.monotonic() - t0:.1f}s")
    stack, creds, role, env, stored = deploy(a, m, tmp, "canary-big", params, "40 x 6")
    need(env.get("CANARY_CONFIG_PARAMETER") == SSM_NAME and "CANARY_CONFIG" not in env,
         f"the function's environment must name the SSM parameter and carry no CANARY_CONFIG: {sorted(env)}")
    role_ssm = localaws.client("ssm", m.url, creds["access_key_id"], creds["secret_access_key"], token=creds["session_token"])
    need(role_ssm.get_parameter(Name=SSM_NAME)["Parameter"]["Value"] == text, "the role cannot read its parameter")
    m.client("ssm").put_parameter(Name=SSM_NAME + "-other", Type="String", Value="{}", Overwrite=True)
    try:
        role_ssm.get_parameter(Name=SSM_NAME + "-other")
        raise Fail("the role may read another SSM parameter than its configuration's")
    except Fail:
        raise
    except Exception as e:
        need("AccessDenied" in str(e), f"reading another parameter failed, but not with AccessDenied: {e}")
    print(f"   as the role: GetParameter {SSM_NAME} allowed, {SSM_NAME}-other denied")
    slots = len(stack.resources("AWS::IAM::ManagedPolicy"))
    summary.append(f"B 40 x 6: {len(text.encode())}-byte configuration in SSM (Advanced); every parameter within "
                   f"{MAX_PARAMETER_BYTES} bytes; stack deployed with {slots} managed policies, each under "
                   f"{MAX_MANAGED_POLICY_CHARS} characters")

    step("B check", "B. check as the role with CANARY_CONFIG_PARAMETER only: the configuration comes from SSM")
    if a.hand_params:
        # A binary without CANARY_CONFIG_PARAMETER: run the same configuration from the file.
        print("   --hand-params: the binary may not read SSM: configuration passed with --config instead")
        a.partial.append("B check not run from SSM")
        rc, rep = run_canary(a, creds, m.url, tmp, "big", config=config, quiet=True)
    else:
        fn_env = {k: v for k, v in env.items() if k.startswith("CANARY_")}
        rc, rep = run_canary(a, creds, m.url, tmp, "big", config=None, env_extra=fn_env, quiet=True)
    want = {(t["table"], r, p) for t in config["targets"] for r in t["regions"] for p in t["probes"]}
    got = {(p["table"], p["region"], p["probe"]) for p in rep.get("probes", [])}
    bad = [p for p in rep.get("probes", []) if p["outcome"] != "ok"]
    need(got == want, f"exit {rc}: the run did not probe the configuration in SSM ({len(got)} probes, {len(want)} "
         f"configured); stderr/identity: {rep.get('identity', {}).get('message') or rep.get('error')}")
    need(rc == 0 and rep.get("healthy") is True and not bad,
         f"exit {rc}: {len(bad)} of {len(got)} probes failed as the deployed role: "
         f"{[(p['table'], p['region'], p['probe'], p['class']) for p in bad[:5]]}")
    print(f"   {len(got)} probes ({len(tables)} tables x {len(BIG_REGIONS)} regions, describe + read, writes in 2 "
          f"regions) all pass; duration {rep.get('duration_ms', 0) / 1000:.1f}s")
    source = ("--config (--hand-params)" if a.hand_params else
              "SSM, read by the binary (CANARY_CONFIG_PARAMETER, no CANARY_CONFIG, no --config)")
    summary.append(f"B check: configuration from {source}; all {len(got)} probes pass as the deployed role; the role "
                   "reads its own SSM parameter and no other")

    step("B policy", "C. 40 x 6: the template's permissions == `policy`")
    compare_with_policy(a, tmp, path, "40 x 6", rendered_statements(stack), stored, summary)


def deploy_and_probe(a, tmp, step, summary):
    step("moto", "start moto (IAM enforced), bootstrap an admin")
    moto, url = start_moto(tmp)
    a.moto = moto
    admin = localaws.bootstrap(argparse.Namespace(endpoint=url))
    need(admin["arn"].split(":")[4] == ACCOUNT, f"moto's account is {admin['arn'].split(':')[4]}, expected {ACCOUNT}")
    m = Moto(url, admin)
    print(f"   {url}")
    part_a(a, m, tmp, step, summary)
    part_b(a, m, tmp, step, summary)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--template", default=cfn_template.TEMPLATE)
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with moto's log")
    ap.add_argument("--hand-params", action="store_true",
                    help="development only: parameters computed in Python, `deploy-params`/`policy` not run")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"deploy_test: no canary binary at {a.binary} (cargo build)", file=sys.stderr)
        sys.exit(2)
    a.partial, a.verbose_adapt = [], True
    tmp = tempfile.mkdtemp(prefix="canary-deploy-test.")
    a.moto = None
    ok = stepped.run("deploy_test", a, tmp, lambda step, summary: deploy_and_probe(a, tmp, step, summary))
    if ok and a.partial:
        print(f"deploy_test: PARTIAL (--hand-params): {'; '.join(a.partial)}")
        sys.exit(3)
    print(f"deploy_test: {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
