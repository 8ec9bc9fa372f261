#!/usr/bin/env python3
"""Checks of template.yaml that tie it to this project's code; generic rules are cfn-guard's.

Usage: template_checks.py [BINARY] [--contract FILE] [--template template.yaml] [--events DIR]
                          [--self-test]
  BINARY    the canary binary whose `metrics --contract` the alarms and the dashboard must
            match, and which must accept the configurations in events/ (default:
            target/debug/dynamodb-auth-canary)
  --contract  read the metrics contract from FILE (JSON, the shape of `metrics --contract`)
            instead of asking the binary

The template is read through tests/infra/cfn_template.py (translated with aws-sam-translator,
resolved) for three sample parameter sets (inline configuration with two table slots, KMS
keys and target roles; configuration in SSM with one slot; nothing optional), the first for
every allowed ScheduleMinutes. It checks:
  (a) metrics contract: every dimension set of the contract starts with Canary; every alarm
      and dashboard metric on the canary's namespace has a metric name and an (ordered)
      dimension set of the contract, with Canary = the deployment's name (CanaryName, else
      the stack name), SEARCH expressions included; the namespace is MetricsNamespace, whose
      default is the contract's; the dashboard shows the series it must and a Logs Insights
      widget with the query "failing probes" on the function's log group
  (b) alarm semantics (the shared design's alarm table, ALARMS below): one alarm per metric with its
      statistic, threshold, comparison, M of N, TreatMissingData and topic (paging or
      notify); descriptions of at most 1,024 characters that name the "failing probes" query
  (c) timing per ScheduleMinutes: the rate expression; alarm periods hold one interval;
      the heartbeat neither fires between runs nor misses a dead canary; the function's
      Timeout fits the run's deadline
  (d) grants equal the parameters: the DynamoDB grants are exactly the slots' table ARN lists
      (describe -> DescribeTable; read -> GetItem, write -> PutItem + DeleteItem, both with
      ForAllValues:StringEquals dynamodb:LeadingKeys = LeadingKeyValues), one managed policy
      per used table slot holding exactly that slot's grants, attached to the role; PutMetricData only
      in MetricsNamespace; sts:AssumeRole on exactly AssumeRoleArns; kms:Decrypt on exactly
      KmsKeyArns; ssm:GetParameter on exactly the configuration parameter's ARN; nothing
      else but logs on its own log group. The function's environment: CANARY_CONFIG or
      CANARY_CONFIG_PARAMETER, CANARY_NAME, CANARY_NAMESPACE, CANARY_EXPECT_ROLE_ARN (its own
      role), CANARY_LEADING_KEYS, no endpoint override by default. The Rules section accepts
      exactly one configuration source. LeadingKeyValues defaults to the code's sentinels
      (S, N as its decimal string, B as base64 of the S sentinel's UTF-8 bytes), which are
      also read from the source (src/, SENTINEL_S/N/B) and from the binary (`deploy-params` of a keyless
      configuration) when available
  (e) no account-id literal anywhere in the template
  (f) events/: scheduled.json is a Scheduled Event, the configs of on-demand.json and
      env.json are accepted by the binary, env.json only sets variables the template declares
rules/canary.guard (cfn-guard) checks the generic rules: runtime, architecture, handler,
async retries, IAM wildcards and conditions, physical names, TreatMissingData, alarm actions.

--self-test: runs the checks on the template and events as they are (must pass), then on
copies broken in memory one way at a time (must fail, with the expected message).
Exit 0 when all pass, 1 with one line per failure, 2 on usage errors.
"""
import argparse
import base64
import copy
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfn_template  # noqa: E402
from cfn_template import as_list  # noqa: E402

ROOT = cfn_template.ROOT
# The code's sentinels (src/, SENTINEL_S/N/B; README "Probes and the IAM they need"), as values of
# dynamodb:LeadingKeys: S as itself, N as its decimal string, B as base64 of its bytes.
SENTINEL_S = "__dynamodb_auth_canary__"
SENTINEL_N = "-271828182845904523536.0287"
SENTINEL_B64 = base64.b64encode(SENTINEL_S.encode("utf-8")).decode("ascii")
# The CloudWatch Logs Insights query "failing probes" (README, dashboard, alarm descriptions).
FAILING_PROBES = ("fields @timestamp, canary, table, region, probe, expect, class, code, request_id, hint, change, account"
                  ' | filter message = "probe failed" or message = "probe not run"'
                  ' or message = "identity check failed"'
                  " | sort @timestamp desc | limit 100")
SLOTS = 8
ACCOUNT = "111122223333"  # in sample parameters only; the template itself names no account


def table_arn(region, name, account=ACCOUNT):
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


# Sample values: distinctive, so a hard-coded literal cannot pass for the parameter.
SAMPLE_FULL = {
    "Dashboard": "true",
    "CanaryConfig": '{"targets":[{"table":"orders"}]}',
    "CanaryName": "checks-canary",
    "MetricsNamespace": "Checks/CanaryNS",
    # a slot may hold tables of several regions (deploy-params packs them by size)
    "Slot1DescribeTableArns": f"{table_arn('us-east-1', 'orders')},{table_arn('us-east-1', 'events')},"
                              f"{table_arn('eu-west-1', 'orders')}",
    "Slot1ReadTableArns": table_arn("us-east-1", "orders"),
    "Slot1WriteTableArns": table_arn("us-east-1", "events"),
    "Slot2ReadTableArns": f"{table_arn('eu-west-1', 'orders')},{table_arn('eu-west-1', 'ledger')}",
    "LeadingKeyValues": "__check_sentinel__,42,a2V5",
    "KmsKeyArns": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "AssumeRoleArns": "arn:aws:iam::210987654321:role/CanaryReader",
}
SAMPLE_SSM = {
    "ConfigParameterName": "/checks/canary/config",
    "Slot5WriteTableArns": table_arn("ap-south-1", "audit"),
}
SAMPLE_MINIMAL = {"CanaryConfig": '{"targets":[]}'}
STACK = "canary"  # cfn_template's stack name

DEADLINE_MS, MARGIN_MS = 25000, 1500  # README: deadline_ms default; src/lambda.rs SAFETY_MARGIN
PAGING, NOTIFY = "<PagingTopic>", "<NotifyTopic>"
# The alarms of the shared design: metric -> statistic, comparison, threshold,
# (DatapointsToAlarm, EvaluationPeriods) or "heartbeat" (from ScheduleTable), TreatMissingData, topic.
ALARMS = {
    "CanaryRuns": ("SampleCount", "LessThanThreshold", 1, "heartbeat", "breaching", PAGING),
    "AuthFailures": ("Sum", "GreaterThanOrEqualToThreshold", 1, (1, 2), "notBreaching", PAGING),
    "UnexpectedAccess": ("Sum", "GreaterThanOrEqualToThreshold", 1, (1, 2), "notBreaching", PAGING),
    "IdentityMismatch": ("Sum", "GreaterThanOrEqualToThreshold", 1, (1, 2), "notBreaching", PAGING),
    "ProbesNotRun": ("Sum", "GreaterThanOrEqualToThreshold", 1, (2, 3), "notBreaching", PAGING),
    "ConfigErrors": ("Sum", "GreaterThanOrEqualToThreshold", 1, (1, 2), "notBreaching", PAGING),
    "UnhealthyRuns": ("Sum", "GreaterThanOrEqualToThreshold", 1, (3, 5), "notBreaching", NOTIFY),
    "AWS/Lambda Errors": ("Sum", "GreaterThanOrEqualToThreshold", 1, (1, 2), "notBreaching", NOTIFY),
}
# What the dashboard must show: (metric, ordered dimension names).
DASHBOARD_SERIES = [
    ("CanaryRuns", ("Canary",)), ("UnhealthyRuns", ("Canary",)), ("AuthFailures", ("Canary",)),
    ("UnexpectedAccess", ("Canary",)), ("IdentityMismatch", ("Canary",)), ("ProbesNotRun", ("Canary",)),
    ("ConfigErrors", ("Canary",)), ("ProbeFailures", ("Canary",)), ("AuthFailures", ("Canary", "Class")),
    ("ProbeSuccess", ("Canary", "Table", "Region", "Probe")), ("ProbeLatency", ("Canary", "Table", "Region", "Probe")),
]
DDB_ACTIONS = {"describe": ["dynamodb:describetable"], "read": ["dynamodb:getitem"],
               "write": ["dynamodb:putitem", "dynamodb:deleteitem"]}
ALLOWED_ACTIONS = {a for v in DDB_ACTIONS.values() for a in v} | {
    "cloudwatch:putmetricdata", "sts:assumerole", "kms:decrypt", "ssm:getparameter",
    "logs:createlogstream", "logs:putlogevents", "cloudtrail:lookupevents", "cloudwatch:getmetricdata"}
SEARCH = re.compile(r"SEARCH\(\s*'\{([^}]*)\}([^']*)'")
EVENTS = ("scheduled.json", "on-demand.json", "env.json")


class Checks:
    def __init__(self):
        self.failures, self.passed = [], 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return ok


def contract_of(binary):
    try:
        out = subprocess.run([binary, "metrics", "--contract"], check=True, capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        sys.exit(f"template_checks: cannot run `{binary} metrics --contract`: {e}\n"
                 "  build it first (cargo build) or pass the binary path")
    return json.loads(out)


def code_sentinels(root=ROOT):
    """[S, N, base64(B)] as the source defines them (the file of src/ that declares
    `pub const SENTINEL_S`, wherever the modules keep it), or None without the source."""
    src_dir = os.path.join(root, "src")
    if not os.path.isdir(src_dir):
        return None
    for dirpath, dirs, files in os.walk(src_dir):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".rs")):
            with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                src = f.read()
            s = re.search(r'pub const SENTINEL_S: &str = "([^"]*)";', src)
            if not s:
                continue
            n = re.search(r'pub const SENTINEL_N: &str = "([^"]*)";', src)
            b = re.search(r"pub const SENTINEL_B: &\[u8\] = SENTINEL_S\.as_bytes\(\);", src)
            if not (n and b):
                return [f"<{os.path.relpath(os.path.join(dirpath, name), root)}: sentinels not found where expected>"]
            return [s.group(1), n.group(1), base64.b64encode(s.group(1).encode("utf-8")).decode("ascii")]
    return ["<src/: no `pub const SENTINEL_S` found>"]


def binary_sentinels(binary):
    """The LeadingKeyValues `deploy-params` prints for a configuration without keys: the
    binary's own sentinels as condition values; None when it has no deploy-params."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"targets": [{"table": "orders", "regions": ["us-east-1"], "probes": ["describe", "read"]}]}, f)
    try:
        r = subprocess.run([binary, "deploy-params", "--config", f.name, "--account", "111122223333",
                            "--region", "us-east-1"], capture_output=True, text=True, timeout=60,
                           env={"PATH": os.environ.get("PATH", ""), "AWS_EC2_METADATA_DISABLED": "true"})
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        return None
    pairs = dict(w.partition("=")[::2] for w in shlex.split(r.stdout))
    return pairs.get("LeadingKeyValues", "").split(",")


def config_valid(binary, config, origin):
    """None when the binary accepts the configuration, else its error message."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
    try:
        r = subprocess.run([binary, "metrics", "--config", f.name, "--output", "json"],
                           capture_output=True, text=True, timeout=60)
        return None if r.returncode == 0 else (r.stderr.strip() or f"exit {r.returncode}").replace(f.name, origin)
    finally:
        os.unlink(f.name)


# ------------------------------------------------------------------ (f) events/

def load_events(events_dir):
    """{name: parsed JSON, or an OSError/ValueError}."""
    out = {}
    for name in EVENTS:
        try:
            with open(os.path.join(events_dir, name), encoding="utf-8") as f:
                out[name] = json.load(f)
        except (OSError, ValueError) as e:
            out[name] = e
    return out


def check_events(c, events, sam, binary):
    """events/: a real Scheduled Event, an on-demand {"config"} event and sam local's env file."""
    for name, ev in events.items():
        c.check(not isinstance(ev, Exception), f"events/{name}: {ev}")
    ev = events.get("scheduled.json")
    if not isinstance(ev, Exception):
        c.check(isinstance(ev, dict) and set(ev) == {"version", "id", "detail-type", "source", "account", "time",
                                                     "region", "resources", "detail"}
                and ev.get("detail-type") == "Scheduled Event" and ev.get("source") == "aws.events"
                and ev.get("detail") == {} and re.fullmatch(r"\d{12}", str(ev.get("account")))
                and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(ev.get("time")))
                and len(ev.get("resources", [])) == 1
                and re.fullmatch(rf"arn:aws:events:{ev.get('region')}:{ev.get('account')}:rule/.+", ev["resources"][0]),
                "events/scheduled.json is not an EventBridge Scheduled Event")
    ev = events.get("on-demand.json")
    if not isinstance(ev, Exception) and c.check(isinstance(ev, dict) and isinstance(ev.get("config"), dict),
                                                 'events/on-demand.json must be {"config": {...}}'):
        err = config_valid(binary, ev["config"], "events/on-demand.json: config")
        c.check(err is None, f"events/on-demand.json: the canary rejects its config: {err}")
        c.check(ev["config"].get("metrics", {}).get("sink") == "emf", "events/on-demand.json: metrics.sink should be emf")
    env = events.get("env.json")
    fns = {lid: r for lid, r in sam.get("Resources", {}).items() if r.get("Type") == "AWS::Serverless::Function"}
    if not isinstance(env, Exception) and c.check(isinstance(env, dict) and set(env) <= set(fns) and env,
                                                  f"events/env.json must be keyed by the function's logical id {sorted(fns)}"):
        for lid, values in env.items():
            declared = fns[lid].get("Properties", {}).get("Environment", {}).get("Variables", {})
            # sam local invoke only overrides variables the template declares.
            c.check(set(values) <= set(declared),
                    f"events/env.json: {sorted(set(values) - set(declared))} not declared in {lid}'s "
                    "Environment, so sam local would ignore them")
            c.check(all(isinstance(v, str) for v in values.values()), "events/env.json: values must be strings")
            c.check(values.get("AWS_EC2_METADATA_DISABLED") == "true", "events/env.json: AWS_EC2_METADATA_DISABLED=true")
            c.check(re.match(r"^https?://.+", str(values.get("AWS_ENDPOINT_URL", ""))) is not None,
                    "events/env.json: AWS_ENDPOINT_URL must point at a local endpoint")
            try:
                err = config_valid(binary, json.loads(values.get("CANARY_CONFIG", "")), "events/env.json: CANARY_CONFIG")
            except ValueError as e:
                err = f"not JSON: {e}"
            c.check(err is None, f"events/env.json: CANARY_CONFIG is not a valid configuration: {err}")


# ------------------------------------------------------------------ the template

def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    else:
        yield str(node)


def sample_sets(allowed_schedules, schedules=None):
    """[(tag, params)]: the full sample for every schedule, the others at 5 minutes."""
    out = [(f"[full, ScheduleMinutes={m}]", dict(SAMPLE_FULL, ScheduleMinutes=m)) for m in (schedules or allowed_schedules)]
    out.append(("[ssm, ScheduleMinutes=5]", dict(SAMPLE_SSM, ScheduleMinutes="5")))
    out.append(("[minimal, ScheduleMinutes=5]", dict(SAMPLE_MINIMAL, ScheduleMinutes="5")))
    return out


def check_bill(c, sam, binary):
    """The bill prices what template.yaml deploys: its memory, log retention, alarms (default
    parameters) and whether the dashboard is on by default (`bill --output json`'s template)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"targets":[{"table":"orders"}]}')
    try:
        r = subprocess.run([binary, "bill", "--config", f.name, "--output", "json"], capture_output=True,
                           text=True, env=dict(os.environ, AWS_REGION="us-east-1"))
    finally:
        os.unlink(f.name)
    if not c.check(r.returncode == 0, f"bill failed: {r.stderr.strip()[:200]}"):
        return
    facts = json.loads(r.stdout)["template"]
    fn = sam["Resources"]["CanaryFunction"]["Properties"]
    params = sam.get("Parameters", {})
    c.check(facts["memory_mb"] == int(fn["MemorySize"]),
            f"bill prices {facts['memory_mb']} MB, the function has {fn['MemorySize']}")
    c.check(facts["log_retention_days"] == int(params["LogRetentionDays"]["Default"]),
            f"bill prices {facts['log_retention_days']} days of logs, LogRetentionDays defaults to "
            f"{params['LogRetentionDays']['Default']}")
    n = len(cfn_template.alarms({}, sam=sam))
    c.check(facts["alarms"] == n, f"bill prices {facts['alarms']} alarms, the template has {n} with default parameters")
    c.check(facts["dashboard_default"] == (str(params.get("Dashboard", {}).get("Default")).lower() == "true"),
            f"bill thinks the dashboard defaults to {facts['dashboard_default']}, the template says "
            f"{params.get('Dashboard', {}).get('Default')}")


def run_checks(sam, binary, events, contract, schedules=None, sentinels=None):
    c = Checks()
    metrics = {m["name"]: {tuple(d) for d in m["dimension_sets"]} for m in contract["metrics"]}
    params = sam.get("Parameters", {})
    if events is not None:
        check_events(c, events, sam, binary)
        check_bill(c, sam, binary)

    # (a) the contract itself: Canary first in every dimension set
    for name, sets in metrics.items():
        for dims in sets:
            c.check(dims[:1] == ("Canary",), f"metrics contract: {name} {list(dims)} does not start with Canary")
    # (e) account ids: nothing in the template may name an account
    accounts = sorted({m for s in strings(sam) for m in re.findall(r"(?<![\d.])\d{12}(?![\d.])", s)})
    c.check(not accounts, f"account-id-like literals in the template: {accounts}")
    # (a) the namespace; (d) the parameters of the shared design
    c.check(params.get("MetricsNamespace", {}).get("Default") == contract["default_namespace"],
            f"MetricsNamespace default must be the contract's {contract['default_namespace']!r}")
    want = [SENTINEL_S, SENTINEL_N, SENTINEL_B64]
    default = params.get("LeadingKeyValues", {}).get("Default")
    c.check(params.get("LeadingKeyValues", {}).get("Type") == "CommaDelimitedList"
            and isinstance(default, str) and default.split(",") == want,
            f"LeadingKeyValues must be a CommaDelimitedList defaulting to the sentinels {want} "
            f"(S, N as its decimal string, B as base64 of the S sentinel's bytes), got {default!r}")
    for origin, values in (sentinels or {}).items():
        c.check(values == want, f"the code's sentinels {values} ({origin}) differ from the checked {want}")
    for name in ("TableArns", "ProbeActions", "WriteTableArns"):
        c.check(name not in params, f"parameter {name} is replaced by the table slots")
    for n in range(1, SLOTS + 1):
        for kind in ("Describe", "Read", "Write"):
            p = params.get(f"Slot{n}{kind}TableArns", {})
            c.check(p.get("Type") == "CommaDelimitedList" and p.get("Default") == "",
                    f"Slot{n}{kind}TableArns: CommaDelimitedList defaulting to empty expected")
    for name in ("CanaryConfig", "ConfigParameterName", "CanaryName"):
        c.check(params.get(name, {}).get("Default") == "", f"{name}: String defaulting to empty expected")
    sched = params.get("ScheduleMinutes", {})
    allowed = [str(v) for v in sched.get("AllowedValues", [])]
    if not c.check(sched.get("Type") == "Number" and str(sched.get("Default")) == "5" and allowed,
                   "ScheduleMinutes: Number, default 5, with AllowedValues"):
        allowed = ["1", "5"]

    for tag, p in sample_sets(allowed, schedules):
        try:
            stack = cfn_template.resolve(p, sam)
        except Exception as e:  # invalid SAM or an unevaluable intrinsic
            c.check(False, f"{tag} cannot translate/evaluate the template: {type(e).__name__}: {e}")
            continue
        try:
            check_one(c, stack, p, int(p["ScheduleMinutes"]), metrics, tag)
        except Exception as e:  # a broken template shape: report, do not crash the checks
            c.check(False, f"{tag} checks crashed on the template: {type(e).__name__}: {e}")
    return c


def check_one(c, stack, p, minutes, metrics, tag):
    sp = stack.params  # every parameter's value, defaults included (lists as lists)
    ns, interval = sp["MetricsNamespace"], minutes * 60
    canary = sp["CanaryName"] or STACK
    leading = [v for v in sp["LeadingKeyValues"]]

    # Rules: this sample has exactly one configuration source and passes; both or neither fail.
    failed = [d for _, d, ok in stack.rules() if not ok]
    c.check(not failed, f"{tag} the template's Rules refuse a valid parameter set: {failed}")
    for what, extra in (("both", {"CanaryConfig": "{}", "ConfigParameterName": "/x/y"}),
                        ("neither", {"CanaryConfig": "", "ConfigParameterName": ""})):
        other = cfn_template.Stack(stack.cfn, dict(p, **extra))
        c.check(any(not ok for _, _, ok in other.rules()),
                f"{tag} the template's Rules accept {what} CanaryConfig and ConfigParameterName")

    # (c), (d) the function
    fns = stack.resources("AWS::Lambda::Function")
    if not c.check(len(fns) == 1, f"{tag} expected exactly one Lambda function, found {len(fns)}"):
        return
    (fn_id, fn), = fns.items()
    fp = fn["Properties"]
    timeout = int(fp.get("Timeout", 3))
    c.check((DEADLINE_MS + MARGIN_MS) / 1000 <= timeout <= 60,
            f"{fn_id}: Timeout {timeout}s must fit the default run deadline "
            f"({DEADLINE_MS} ms + {MARGIN_MS} ms margin) and stay short")
    env = fp.get("Environment", {}).get("Variables", {})
    roles = stack.resources("AWS::IAM::Role")
    role_id = fp.get("Role", "")[1:-1].split(".")[0]
    c.check(fp.get("Role") == f"<{role_id}.Arn>" and role_id in roles, f"{fn_id}: Role must be the stack's own role")
    check_environment(c, env, sp, canary, role_id, fn_id, tag)
    rules = [r["Properties"] for r in stack.resources("AWS::Events::Rule").values()
             if any(t.get("Arn") == f"<{fn_id}.Arn>" for t in r["Properties"].get("Targets", []))]
    want = "rate(1 minute)" if minutes == 1 else f"rate({minutes} minutes)"
    got = [r.get("ScheduleExpression") for r in rules]
    c.check(got == [want], f"{tag} schedule of {fn_id}: want [{want!r}], got {got}")

    check_grants(c, stack, sp, role_id, ns, leading, tag)
    by_metric = check_alarms(c, stack, sp, ns, canary, fn_id, metrics, interval, tag)
    check_dashboard(c, stack, ns, canary, fn_id, fp, metrics, by_metric, tag)


def check_environment(c, env, sp, canary, role_id, fn_id, tag):
    inline, ssm = sp["CanaryConfig"], sp["ConfigParameterName"]
    c.check(env.get("CANARY_CONFIG") == (inline or None),
            f"{tag} {fn_id}: CANARY_CONFIG must be the CanaryConfig parameter, and absent when it is empty; "
            f"got {env.get('CANARY_CONFIG')!r}")
    c.check(env.get("CANARY_CONFIG_PARAMETER") == (ssm or None),
            f"{tag} {fn_id}: CANARY_CONFIG_PARAMETER must be the ConfigParameterName parameter, and absent when it "
            f"is empty; got {env.get('CANARY_CONFIG_PARAMETER')!r}")
    c.check(env.get("CANARY_NAME") == canary,
            f"{tag} {fn_id}: CANARY_NAME must be CanaryName, or the stack name when empty ({canary!r}); "
            f"got {env.get('CANARY_NAME')!r}")
    c.check(env.get("CANARY_NAMESPACE") == sp["MetricsNamespace"],
            f"{tag} {fn_id}: CANARY_NAMESPACE must be the MetricsNamespace parameter ({sp['MetricsNamespace']!r}); "
            f"got {env.get('CANARY_NAMESPACE')!r}")
    c.check(env.get("CANARY_EXPECT_ROLE_ARN") == f"<{role_id}.Arn>",
            f"{tag} {fn_id}: CANARY_EXPECT_ROLE_ARN must be the function's own role (!GetAtt {role_id}.Arn); "
            f"got {env.get('CANARY_EXPECT_ROLE_ARN')!r}")
    c.check(env.get("CANARY_LEADING_KEYS") == ",".join(sp["LeadingKeyValues"]),
            f"{tag} {fn_id}: CANARY_LEADING_KEYS must be LeadingKeyValues joined with ','; "
            f"got {env.get('CANARY_LEADING_KEYS')!r}")
    c.check(env.get("AWS_EC2_METADATA_DISABLED") == "true", f"{fn_id}: AWS_EC2_METADATA_DISABLED=true")
    extra = sorted(k for k in env if k.startswith("AWS_ENDPOINT_URL") or k == "DYNAMODB_ENDPOINT")
    c.check(not extra or (sp["EndpointUrl"] and extra == ["AWS_ENDPOINT_URL"]),
            f"{tag} {fn_id}: no endpoint override may be set without EndpointUrl, got {extra}")


def condition_key(cond):
    return json.dumps(cond, sort_keys=True) if cond else None


def triples(statements):
    """{(effect, action, resource, condition)} of statements: one per action x resource."""
    out = set()
    for st in statements:
        for a in as_list(st.get("Action", [])):
            for r in as_list(st.get("Resource", [])):
                out.add((st.get("Effect"), a.lower(), r, condition_key(st.get("Condition"))))
    return out


def check_grants(c, stack, sp, role_id, ns, leading, tag):
    lk = condition_key({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": leading}})
    role = stack.resources("AWS::IAM::Role")[role_id]["Properties"]
    managed = stack.resources("AWS::IAM::ManagedPolicy")
    attached = set(role.get("ManagedPolicyArns", []))
    # The role's permissions: its inline policies and the managed policies attached to it.
    inline = [st for pol in role.get("Policies", []) for st in as_list(pol.get("PolicyDocument", {}).get("Statement", []))]
    docs = {"inline": inline}
    for lid, res in managed.items():
        props = res["Properties"]
        c.check(f"<{lid}>" in attached or f"<{role_id}>" in props.get("Roles", []),
                f"{tag} managed policy {lid} is not attached to the function's role")
        docs[lid] = as_list(props.get("PolicyDocument", {}).get("Statement", []))
    c.check(attached <= {f"<{lid}>" for lid in managed},
            f"{tag} the role attaches managed policies the stack does not define: {sorted(attached)}")
    every = [st for sts in docs.values() for st in sts]
    c.check(all(st.get("Effect") == "Allow" for st in every), f"{tag} only Allow statements expected")
    got = triples(every)
    actions = {a for _, a, _, _ in got}
    c.check(actions <= ALLOWED_ACTIONS, f"{tag} the role is granted actions beyond the probes' and its plumbing: "
                                        f"{sorted(actions - ALLOWED_ACTIONS)}")

    # DynamoDB: exactly the slots' lists; each managed policy holds exactly one slot's grants
    want_ddb, per_slot = set(), {}
    for n in range(1, SLOTS + 1):
        lists = {k: [x for x in sp[f"Slot{n}{k.capitalize()}TableArns"] if x] for k in DDB_ACTIONS}
        slot = {("Allow", a, arn, None if kind == "describe" else lk)
                for kind, arns in lists.items() for a in DDB_ACTIONS[kind] for arn in arns}
        if slot:
            per_slot[n] = slot
        want_ddb |= slot
    got_ddb = {t for t in got if t[1].startswith("dynamodb:")}
    c.check(got_ddb == want_ddb,
            f"{tag} DynamoDB grants must be exactly the slots' tables (describe: DescribeTable; read: GetItem, write: "
            f"PutItem+DeleteItem, both with ForAllValues:StringEquals dynamodb:LeadingKeys = LeadingKeyValues); "
            f"missing {sorted(want_ddb - got_ddb)[:4]}, extra {sorted(got_ddb - want_ddb)[:4]}")
    c.check(not any(t[1].startswith("dynamodb:") for t in triples(inline)),
            f"{tag} DynamoDB grants belong in the per-slot managed policies, not the inline policy")
    c.check(len(managed) == len(per_slot), f"{tag} expected one managed policy per used table slot "
                                           f"({len(per_slot)}), found {len(managed)}")
    for lid, sts in docs.items():
        if lid == "inline":
            continue
        got_slot = {t for t in triples(sts) if t[1].startswith("dynamodb:")}
        c.check(got_slot in per_slot.values(), f"{tag} managed policy {lid} must hold exactly the grants of one table slot")

    def on(action):
        return sorted({(r, cond) for _, a, r, cond in got if a == action})

    put = on("cloudwatch:putmetricdata")
    c.check(put == [("*", condition_key({"StringEquals": {"cloudwatch:namespace": ns}}))],
            f"{tag} PutMetricData must be allowed once, on \"*\" with Condition StringEquals cloudwatch:namespace = "
            f"MetricsNamespace ({ns!r}); got {put}")
    for action, param in (("sts:assumerole", "AssumeRoleArns"), ("kms:decrypt", "KmsKeyArns")):
        want = sorted((x, None) for x in sp[param] if x)
        c.check(on(action) == want, f"{tag} {action} must be allowed on exactly {param} {[w for w, _ in want]}, "
                                    f"got {on(action)}")
    name = sp["ConfigParameterName"]
    want = [(f"arn:aws:ssm:{cfn_template.REGION}:{cfn_template.ACCOUNT}:parameter{name}", None)] if name else []
    c.check(on("ssm:getparameter") == want,
            f"{tag} ssm:GetParameter must be allowed on exactly the configuration parameter {want}, "
            f"got {on('ssm:getparameter')}")
    # "What changed": LookupEvents takes no resource; granted only when the parameter says so.
    want = [("*", None)] if str(sp.get("WhatChanged", "true")).lower() == "true" else []
    c.check(on("cloudtrail:lookupevents") == want,
            f"{tag} cloudtrail:LookupEvents must be allowed on \"*\" exactly when WhatChanged is true, "
            f"got {on('cloudtrail:lookupevents')}")
    want = [("*", None)] if str(sp.get("AccountErrors", "true")).lower() == "true" else []
    c.check(on("cloudwatch:getmetricdata") == want,
            f"{tag} cloudwatch:GetMetricData must be allowed on \"*\" exactly when AccountErrors is true, "
            f"got {on('cloudwatch:getmetricdata')}")
    logs = {r for _, a, r, _ in got if a.startswith("logs:")}
    c.check(logs <= {"<CanaryLogGroup.Arn>"}, f"{tag} logs permissions only on the function's own log group, got {logs}")


def check_alarms(c, stack, sp, ns, canary, fn_id, metrics, interval, tag):
    by_metric = {}
    heartbeat = stack.cfn["Mappings"]["ScheduleTable"][str(interval // 60)]["HeartbeatPeriods"]
    for a in stack.alarms():
        lid, name, space = a["id"], a["metric"], a["namespace"]
        c.check(a["metrics"] is None, f"{lid}: metric-math alarms are not checked; use MetricName/Namespace")
        key = f"{space} {name}" if space and space.startswith("AWS/") else name
        by_metric.setdefault(key, []).append(a)
        c.check(a["period"] >= interval and a["period"] % 60 == 0,
                f"{tag} {lid}: Period {a['period']}s must be a multiple of 60 and >= the schedule interval {interval}s")
        c.check(a["period"] * a["evaluation_periods"] <= 86400, f"{tag} {lid}: Period x EvaluationPeriods exceeds one day")
        c.check(a["datapoints_to_alarm"] <= a["evaluation_periods"], f"{lid}: DatapointsToAlarm > EvaluationPeriods")
        desc = a["properties"].get("AlarmDescription", "")
        c.check(len(desc) <= 1024, f"{lid}: AlarmDescription is {len(desc)} characters, CloudWatch allows 1,024")
        c.check('"failing probes"' in desc, f'{lid}: AlarmDescription must name the Logs Insights query "failing probes"')
        if space and space.startswith("AWS/"):
            if space == "AWS/Lambda":
                c.check(a["dimensions"] == {"FunctionName": f"<{fn_id}>"},
                        f"{lid}: AWS/Lambda alarm must be on FunctionName = the canary function")
            continue
        dims = [(d.get("Name"), d.get("Value")) for d in a["properties"].get("Dimensions", [])]
        c.check(space == ns, f"{lid}: Namespace must be the MetricsNamespace parameter, got {space!r}")
        c.check(name in metrics, f"{lid}: metric {name!r} is not in the metrics contract")
        c.check(dims == [("Canary", canary)],
                f"{tag} {lid}: Dimensions must be exactly [Canary = {canary!r}] (CanaryName, else the stack name), "
                f"got {dims}")
        names = tuple(d for d, _ in dims)
        c.check(name not in metrics or names in metrics[name],
                f"{lid}: {name} dimension set {list(names)} is not in the contract "
                f"({sorted(list(d) for d in metrics.get(name, []))})")
    c.check(set(by_metric) == set(ALARMS), f"{tag} alarms on {sorted(by_metric)}, the design has {sorted(ALARMS)}")
    for metric, (stat, comparison, threshold, m_of_n, missing, topic) in ALARMS.items():
        found = by_metric.get(metric, [])
        if not c.check(len(found) == 1, f"{tag} expected one alarm on {metric}, found {len(found)}"):
            continue
        a = found[0]
        m, n = (heartbeat, heartbeat) if m_of_n == "heartbeat" else m_of_n
        c.check(a["statistic"] == stat and a["comparison"] == comparison and a["threshold"] == threshold,
                f"{a['id']}: {metric} {stat} {comparison} {threshold} expected, got {a['statistic']} "
                f"{a['comparison']} {a['threshold']}")
        c.check((a["datapoints_to_alarm"], a["evaluation_periods"]) == (m, n),
                f"{tag} {a['id']}: {m} of {n} expected, got {a['datapoints_to_alarm']} of {a['evaluation_periods']}")
        c.check(a["treat_missing_data"] == missing, f"{a['id']}: TreatMissingData {missing} expected, "
                                                    f"got {a['treat_missing_data']}")
        c.check(a["alarm_actions"] == [topic] and a["ok_actions"] == [topic],
                f"{a['id']}: AlarmActions and OKActions must be [{topic}] "
                f"({'paging' if topic == PAGING else 'non-paging'}), got {a['alarm_actions']} / {a['ok_actions']}")
        word = "PAGE" if topic == PAGING else "NOTIFY"
        c.check(a["properties"].get("AlarmDescription", "").startswith(word),
                f"{a['id']}: AlarmDescription should start with {word}, as its topic is")
    hb = (by_metric.get("CanaryRuns") or [None])[0]
    if hb:
        period, evals = hb["period"], hb["evaluation_periods"]
        # Fires only after silence longer than one interval, whatever the jitter.
        c.check(evals >= 2 or period >= 2 * interval,
                f"{tag} heartbeat fires between runs: Period {period}s x {evals} evaluation periods")
        c.check(hb["datapoints_to_alarm"] * period >= 2 * interval,
                f"{tag} heartbeat: DatapointsToAlarm x Period must cover at least two intervals")
    return by_metric


def metric_rows(body):
    """(widget, row) of every metrics row of the dashboard."""
    for w in body.get("widgets", []):
        for row in w.get("properties", {}).get("metrics", []):
            yield w, row


def check_dashboard(c, stack, ns, canary, fn_id, fp, metrics, by_metric, tag):
    dashes = stack.resources("AWS::CloudWatch::Dashboard")
    if str(stack.params.get("Dashboard", "false")).lower() != "true":
        c.check(not dashes, f"{tag} the dashboard is opt-in (Dashboard=true), yet it is created")
        return
    if not c.check(len(dashes) == 1, f"{tag} expected one dashboard"):
        return
    (lid, res), = dashes.items()
    try:
        body = json.loads(res["Properties"]["DashboardBody"])
    except (KeyError, ValueError) as e:
        c.check(False, f"{lid}: DashboardBody is not valid JSON after substitution: {e}")
        return
    seen = set()
    for w, row in metric_rows(body):
        if row and isinstance(row[0], dict) and "expression" in row[0]:
            for schema, term in SEARCH.findall(row[0]["expression"]):
                parts = [x.strip().strip('"') for x in schema.split(",")]
                name = re.search(r'MetricName="([^"]+)"', term)
                name = name.group(1) if name else None
                c.check(parts[0] == ns, f"{lid}: SEARCH namespace {parts[0]!r} is not MetricsNamespace")
                key = tuple(parts[1:])
                c.check(name in metrics and key in metrics[name],
                        f"{lid}: SEARCH {name} {{{','.join(key)}}} is not in the contract")
                c.check(re.findall(r'Canary="([^"]*)"', term) == [canary],
                        f"{tag} {lid}: SEARCH for {name} must be scoped to Canary=\"{canary}\" (exact), got {term.strip()!r}")
                seen.add((name, key))
        elif row and isinstance(row[0], str) and row[0] == ns:
            strs = [x for x in row[1:] if isinstance(x, str)]
            name, dims = strs[0], list(zip(strs[1::2], strs[2::2]))
            key = tuple(d for d, _ in dims)
            c.check(name in metrics and key in metrics[name], f"{lid}: metric {name} {list(key)} is not in the contract")
            c.check(dims[:1] == [("Canary", canary)],
                    f"{tag} {lid}: metric {name} must carry Canary = {canary!r} first, got {dims}")
            seen.add((name, key))
        elif row and isinstance(row[0], str) and row[0] == "AWS/Lambda":
            c.check(row[2:4] == ["FunctionName", f"<{fn_id}>"], f"{lid}: AWS/Lambda metrics must be the canary function's")
    for name, key in DASHBOARD_SERIES:
        c.check((name, key) in seen, f"{tag} dashboard does not show {name} {list(key)}")
    logs = [w["properties"] for w in body.get("widgets", []) if w.get("type") == "log"]
    group = fp.get("LoggingConfig", {}).get("LogGroup")
    want = f"SOURCE '{group}' | {FAILING_PROBES}"
    c.check(any(p.get("query") == want for p in logs),
            f"{lid}: a log widget must run the Logs Insights query \"failing probes\" on the function's log group "
            f"({want!r}); got {[p.get('query') for p in logs]}")
    listed = {a for w in body.get("widgets", []) if w.get("type") == "alarm" for a in w["properties"].get("alarms", [])}
    alarm_ids = {a["id"] for found in by_metric.values() for a in found}
    c.check(listed == {f"<{a}.Arn>" for a in alarm_ids}, f"{lid}: the alarm widget must list every alarm, got {sorted(listed)}")


# ------------------------------------------------------------------ --self-test

def _inline_statement(sam, sid):
    for st in sam["Resources"]["CanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        st = st["Fn::If"][1] if "Fn::If" in st else st
        if st.get("Sid") == sid:
            return st
    raise KeyError(sid)


def _slot_statement(sam, n, sid):
    for st in sam["Resources"][f"Slot{n}TablesPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        st = st["Fn::If"][1] if "Fn::If" in st else st
        if st.get("Sid") == sid:
            return st
    raise KeyError(sid)


def _set(path, value):
    """A mutation: set sam[path...] = value."""
    def mutate(sam, events):
        node = sam
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return mutate


def _dashboard(replace_from, replace_to):
    def mutate(sam, events):
        sub = sam["Resources"]["CanaryDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        assert replace_from in sub[0], replace_from
        sub[0] = sub[0].replace(replace_from, replace_to)
    return mutate


def _env(name, value):
    return _set(["Resources", "CanaryFunction", "Properties", "Environment", "Variables", name], value)


ALARM = ["Resources", "AuthFailuresAlarm", "Properties"]
# (what is broken, how, a substring the failures must contain)
MUTATIONS = [
    ("an alarm without the Canary dimension", lambda sam, ev: sam["Resources"]["UnexpectedAccessAlarm"]["Properties"]
     .pop("Dimensions"), "UnexpectedAccessAlarm: Dimensions must be exactly [Canary = "),
    ("an alarm's dimension renamed", _set(ALARM + ["Dimensions", 0, "Name"], "Deployment"),
     "AuthFailuresAlarm: Dimensions must be exactly [Canary = "),
    ("an alarm on a literal Canary value", _set(ALARM + ["Dimensions", 0, "Value"], "prod"),
     "AuthFailuresAlarm: Dimensions must be exactly [Canary = 'checks-canary']"),
    ("an alarm's metric renamed", _set(["Resources", "HeartbeatAlarm", "Properties", "MetricName"], "CanaryRun"),
     "'CanaryRun' is not in the metrics contract"),
    ("an alarm with a dimension set outside the contract",
     _set(["Resources", "ConfigErrorsAlarm", "Properties", "Dimensions"],
          [{"Name": "Canary", "Value": {"Ref": "CanaryName"}}, {"Name": "Class", "Value": "x"}]),
     "ConfigErrorsAlarm: Dimensions must be exactly [Canary"),
    ("an alarm on a literal namespace", _set(ALARM + ["Namespace"], "DynamoDBAuthCanary"),
     "Namespace must be the MetricsNamespace parameter"),
    ("auth failures at 1 of 1", _set(ALARM + ["EvaluationPeriods"], 1), "AuthFailuresAlarm: 1 of 2 expected, got 1 of 1"),
    ("probes not run at 1 of 3", _set(["Resources", "ProbesNotRunAlarm", "Properties", "DatapointsToAlarm"], 1),
     "ProbesNotRunAlarm: 2 of 3 expected"),
    ("identity mismatch to the non-paging topic",
     _set(["Resources", "IdentityMismatchAlarm", "Properties", "AlarmActions"], [{"Ref": "NotifyTopic"}]),
     "IdentityMismatchAlarm: AlarmActions and OKActions must be [<PagingTopic>]"),
    ("function errors paging again",
     _set(["Resources", "FunctionErrorsAlarm", "Properties", "AlarmActions"], [{"Ref": "PagingTopic"}]),
     "FunctionErrorsAlarm: AlarmActions and OKActions must be [<NotifyTopic>]"),
    ("the ProbesNotRun alarm removed", lambda sam, ev: sam["Resources"].pop("ProbesNotRunAlarm"),
     "expected one alarm on ProbesNotRun, found 0"),
    ("an alarm description over 1,024 characters", _set(ALARM + ["AlarmDescription"], "PAGE \"failing probes\" " + "x" * 1010),
     "AuthFailuresAlarm: AlarmDescription is 1032 characters"),
    ("an alarm description without the query", _set(ALARM + ["AlarmDescription"], "PAGE: auth failures"),
     'AuthFailuresAlarm: AlarmDescription must name the Logs Insights query "failing probes"'),
    ("the heartbeat firing after one empty period", _set(["Mappings", "ScheduleTable", "5", "HeartbeatPeriods"], 1),
     "heartbeat fires between runs"),
    ("an alarm period shorter than the schedule", _set(["Mappings", "ScheduleTable", "5", "AlarmPeriod"], 60),
     "must be a multiple of 60 and >= the schedule interval 300s"),
    ("a dashboard metric renamed", _dashboard('"ProbeLatency', '"ProbeLatencyMs'), "SEARCH ProbeLatencyMs"),
    ("a dashboard SEARCH not scoped to the deployment", _dashboard(
        "Canary=\\\"${Canary}\\\" MetricName=\\\"ProbeSuccess\\\"", "MetricName=\\\"ProbeSuccess\\\""),
     "SEARCH for ProbeSuccess must be scoped to Canary="),
    ("a dashboard metric without the Canary dimension", _dashboard(
        '"UnexpectedAccess", "Canary", "${Canary}"]', '"UnexpectedAccess"]'),
     "metric UnexpectedAccess [] is not in the contract"),
    ("the log widget's query changed", _dashboard('"probe not run\\"', '"probe skipped\\"'),
     'a log widget must run the Logs Insights query "failing probes"'),
    ("the namespace default changed", _set(["Parameters", "MetricsNamespace", "Default"], "Canary"),
     "MetricsNamespace default must be the contract's"),
    ("the namespace parameter not reaching CANARY_NAMESPACE", _env("CANARY_NAMESPACE", "DynamoDBAuthCanary"),
     "CANARY_NAMESPACE must be the MetricsNamespace parameter"),
    ("the namespace condition dropped", lambda sam, ev: _inline_statement(sam, "PublishCanaryMetrics").pop("Condition"),
     "PutMetricData must be allowed once"),
    ("the function's memory changed without the bill", _set(["Resources", "CanaryFunction", "Properties", "MemorySize"], 256),
     "bill prices 128 MB"),
    ("the log retention changed without the bill", _set(["Parameters", "LogRetentionDays", "Default"], 90),
     "bill prices 30 days of logs"),
    ("the dashboard on by default without the bill", _set(["Parameters", "Dashboard", "Default"], "true"),
     "bill thinks the dashboard defaults to"),
    ("a sentinel missing from the LeadingKeyValues default",
     _set(["Parameters", "LeadingKeyValues", "Default"], "__dynamodb_auth_canary__,-271828182845904523536.0287"),
     "LeadingKeyValues must be a CommaDelimitedList defaulting to the sentinels"),
    ("the B sentinel not in base64",
     _set(["Parameters", "LeadingKeyValues", "Default"],
          "__dynamodb_auth_canary__,-271828182845904523536.0287,__dynamodb_auth_canary__"),
     "LeadingKeyValues must be a CommaDelimitedList defaulting to the sentinels"),
    ("GetItem without the LeadingKeys condition", lambda sam, ev: _slot_statement(sam, 1, "ReadSentinelKeys").pop("Condition"),
     "DynamoDB grants must be exactly the slots' tables"),
    ("writes limited to the S sentinel only", lambda sam, ev: _slot_statement(sam, 1, "WriteSentinelKeys")["Condition"]
     ["ForAllValues:StringEquals"].update({"dynamodb:LeadingKeys": ["__dynamodb_auth_canary__"]}),
     "DynamoDB grants must be exactly the slots' tables"),
    ("reads granted on the describe tables", _set(["Resources", "Slot1TablesPolicy", "Properties", "PolicyDocument",
                                                   "Statement", 1, "Fn::If", 1, "Resource"], {"Ref": "Slot1DescribeTableArns"}),
     "DynamoDB grants must be exactly the slots' tables"),
    ("a table outside the parameters",
     lambda sam, ev: sam["Resources"]["CanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
         {"Effect": "Allow", "Action": "dynamodb:GetItem",
          "Resource": {"Fn::Sub": "arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/payroll"}}),
     "DynamoDB grants must be exactly the slots' tables"),
    ("slot 2's tables in slot 1's policy", _set(["Resources", "Slot1TablesPolicy", "Properties", "PolicyDocument",
                                                 "Statement", 1, "Fn::If", 1, "Resource"], {"Fn::Split": [",", {"Fn::Join": [
                                                     ",", [{"Fn::Join": [",", {"Ref": "Slot1ReadTableArns"}]},
                                                           {"Fn::Join": [",", {"Ref": "Slot2ReadTableArns"}]}]]}]}),
     "must hold exactly the grants of one table slot"),
    ("a slot policy not attached", _set(["Resources", "CanaryRole", "Properties", "ManagedPolicyArns", 1],
                                        {"Ref": "AWS::NoValue"}), "managed policy Slot2TablesPolicy is not attached"),
    ("Scan allowed", lambda sam, ev: _slot_statement(sam, 1, "DescribeTables").update(
        Action=["dynamodb:DescribeTable", "dynamodb:Scan"]), "beyond the probes' and its plumbing: ['dynamodb:scan']"),
    ("AssumeRole beyond AssumeRoleArns", lambda sam, ev: _inline_statement(sam, "AssumeTargetRoles").update(
        Resource={"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/Other"}), "sts:assumerole must be allowed on exactly"),
    ("kms:Decrypt on every key", lambda sam, ev: _inline_statement(sam, "DecryptTableKeys").update(
        Resource={"Fn::Sub": "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/*"}), "kms:decrypt must be allowed on exactly"),
    ("ssm:GetParameter on the whole hierarchy", lambda sam, ev: _inline_statement(sam, "ReadConfigParameter").update(
        Resource={"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*"}),
     "ssm:GetParameter must be allowed on exactly the configuration parameter"),
    ("both configuration sources accepted", _set(["Rules", "ExactlyOneConfigurationSource", "Assertions", 0, "Assert"],
                                                  {"Fn::Not": [{"Fn::And": [{"Fn::Equals": [{"Ref": "CanaryConfig"}, ""]},
                                                                            {"Fn::Equals": [{"Ref": "ConfigParameterName"}, ""]}]}]}),
     "the template's Rules accept both CanaryConfig and ConfigParameterName"),
    ("CANARY_CONFIG set from the SSM parameter name", _env("CANARY_CONFIG", {"Ref": "ConfigParameterName"}),
     "CANARY_CONFIG must be the CanaryConfig parameter"),
    ("CANARY_NAME not the Canary dimension", _env("CANARY_NAME", {"Ref": "AWS::StackName"}),
     "CANARY_NAME must be CanaryName, or the stack name"),
    ("CANARY_EXPECT_ROLE_ARN missing", lambda sam, ev: sam["Resources"]["CanaryFunction"]["Properties"]["Environment"]
     ["Variables"].pop("CANARY_EXPECT_ROLE_ARN"), "CANARY_EXPECT_ROLE_ARN must be the function's own role"),
    ("CANARY_LEADING_KEYS not the parameter", _env("CANARY_LEADING_KEYS", "__dynamodb_auth_canary__"),
     "CANARY_LEADING_KEYS must be LeadingKeyValues joined"),
    ("a timeout shorter than the deadline", _set(["Resources", "CanaryFunction", "Properties", "Timeout"], 20),
     "Timeout 20s must fit the default run deadline"),
    ("an account id", _set(["Resources", "PagingTopic", "Properties", "DisplayName"], "page 123456789012"),
     "account-id-like literals in the template: ['123456789012']"),
    ("events/on-demand.json with an invalid config",
     lambda sam, ev: ev["on-demand.json"]["config"].update(targets=[{"table": ""}]), "the canary rejects its config"),
    ("events/env.json setting an undeclared variable",
     lambda sam, ev: next(iter(ev["env.json"].values())).update(DYNAMODB_REGION="us-east-1"), "not declared in"),
]


def self_test(sam, events, binary, contract):
    """The checks pass on the real files and report each mutation. Returns failures."""
    problems = []
    c = run_checks(sam, binary, events, contract, schedules=["5"])
    if c.failures:
        problems.append(f"unmutated template and events/ fail: {c.failures[:3]}")
    # A contract whose dimension sets do not start with Canary is reported too.
    bad = copy.deepcopy(contract)
    for m in bad["metrics"]:
        m["dimension_sets"] = [[d for d in s if d != "Canary"] + (["Canary"] if "Canary" in s else []) for s in m["dimension_sets"]]
    found = run_checks(sam, binary, None, bad, schedules=["5"]).failures
    ok = any("does not start with Canary" in f for f in found)
    print(f"  {'ok  ' if ok else 'MISS'} a contract with Canary last: " + ("reported" if ok else f"not reported; got {found[:3]}"))
    if not ok:
        problems.append("self-test: a contract with Canary last was not reported")
    for what, mutate, expect in MUTATIONS:
        s, e = copy.deepcopy(sam), copy.deepcopy(events)
        mutate(s, e)
        found = run_checks(s, binary, e, contract, schedules=["5"]).failures
        ok = any(expect in f for f in found)
        print(f"  {'ok  ' if ok else 'MISS'} {what}: " + (f"reported ({expect!r})" if ok else f"not reported; got {found[:3]}"))
        if not ok:
            problems.append(f"self-test: {what} was not reported (expected {expect!r})")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--contract", help="metrics contract JSON file instead of `BINARY metrics --contract`")
    ap.add_argument("--template", default=cfn_template.TEMPLATE)
    ap.add_argument("--events", default=os.path.join(ROOT, "events"),
                    help="directory with scheduled.json, on-demand.json, env.json ('' to skip)")
    ap.add_argument("--self-test", action="store_true", help="prove that the checks report broken copies")
    a = ap.parse_args()
    if not os.path.exists(a.template):
        print(f"template_checks: no template at {a.template}", file=sys.stderr)
        sys.exit(2)
    if a.contract:
        with open(a.contract, encoding="utf-8") as f:
            contract = json.load(f)
    else:
        contract = contract_of(a.binary)
    sam = cfn_template.load(a.template)
    events = load_events(a.events) if a.events else None
    if a.self_test:
        if events is None:
            sys.exit("template_checks: --self-test needs --events")
        problems = self_test(sam, events, a.binary, contract)
        if problems:
            print("template_checks --self-test: FAILED:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
            sys.exit(1)
        print(f"template_checks --self-test: ok ({len(MUTATIONS) + 1} broken copies reported, the real files pass)")
        return
    sentinels = {"src/ SENTINEL_*": code_sentinels(), "deploy-params' LeadingKeyValues": binary_sentinels(a.binary)}
    c = run_checks(sam, a.binary, events, contract, sentinels={k: v for k, v in sentinels.items() if v is not None})
    # A failure usually repeats for every evaluated parameter set: report it once, with
    # the sets it failed for.
    grouped = {}
    for f in c.failures:
        m = re.match(r"^\[([^]]+)\] (.*)$", f, re.S)
        msg, tag = (m.group(2), m.group(1)) if m else (f, None)
        grouped.setdefault(msg, [])
        if tag:
            grouped[msg].append(tag)
    failures = [msg if not tags else f"{msg}  [{tags[0]}" + (f" and {len(tags) - 1} more parameter sets]"
                                                              if len(tags) > 1 else "]")
                for msg, tags in grouped.items()]
    if failures:
        print(f"template_checks: FAILED ({len(failures)} problem(s) in {a.template}):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        sys.exit(1)
    print(f"template_checks: ok ({c.passed} checks on {a.template})")


if __name__ == "__main__":
    main()
