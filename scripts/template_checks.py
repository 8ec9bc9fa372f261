#!/usr/bin/env python3
"""Checks of template.yaml that tie it to this project's code; generic rules are cfn-guard's.

Usage: template_checks.py [BINARY] [--template template.yaml] [--events DIR] [--self-test]
  BINARY  the canary binary whose `metrics --contract` the alarms and the dashboard must
          match, and which must accept the configurations in events/ (default:
          target/debug/dynamodb-auth-canary)

The template is read through scripts/cfn_template.py (translated with aws-sam-translator,
resolved) for sample parameter values, for every allowed ScheduleMinutes, with
WriteTableArns/AssumeRoleArns empty and set. It checks:
  (a) metrics contract: every alarm and dashboard metric on the canary's namespace has a
      metric name and dimension set of the contract; the namespace is MetricsNamespace,
      whose default is the contract's; the dashboard shows the series it must
  (b) alarm semantics: one alarm per metric, statistic, threshold, comparison, M of N;
      the AWS/Lambda Errors alarm is on the canary function
  (c) timing per ScheduleMinutes: the rate expression; alarm periods hold one interval;
      the heartbeat neither fires between runs nor misses a dead canary; the function's
      Timeout fits the run's deadline
  (d) grants equal the parameters: DynamoDB resources are exactly TableArns + WriteTableArns,
      writes only with WriteTableArns and only on the sentinel key, PutMetricData only in
      MetricsNamespace, sts:AssumeRole on exactly AssumeRoleArns; CANARY_CONFIG from the
      parameter; no endpoint override by default
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
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfn_template  # noqa: E402
from cfn_template import as_list  # noqa: E402

ROOT = cfn_template.ROOT
SENTINEL = "__dynamodb_auth_canary__"
# Sample values: distinctive, so a hard-coded literal cannot pass for the parameter.
SAMPLE = {
    "CanaryConfig": '{"targets":[{"table":"orders"}]}',
    "TableArns": "arn:aws:dynamodb:us-east-1:111122223333:table/orders,"
                 "arn:aws:dynamodb:eu-west-1:111122223333:table/orders",
    "WriteTableArns": "arn:aws:dynamodb:us-east-1:111122223333:table/orders",
    "AssumeRoleArns": "arn:aws:iam::210987654321:role/CanaryReader",
    "MetricsNamespace": "Checks/CanaryNS",
}
DEADLINE_MS, MARGIN_MS = 25000, 1500  # README: deadline_ms default; src/lambda.rs SAFETY_MARGIN
WRITE_ACTIONS = {"putitem", "deleteitem", "updateitem", "batchwriteitem", "transactwriteitems",
                 "partiqlinsert", "partiqlupdate", "partiqldelete"}
SEARCH = re.compile(r"SEARCH\(\s*'\{([^}]*)\}\s*MetricName=\"([^\"]+)\"")
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


def run_checks(sam, binary, events, contract, schedules=None):
    c = Checks()
    metrics = {m["name"]: {tuple(sorted(d)) for d in m["dimension_sets"]} for m in contract["metrics"]}
    params = sam.get("Parameters", {})
    if events is not None:
        check_events(c, events, sam, binary)

    # (e) account ids: nothing in the template may name an account
    accounts = sorted({m for s in strings(sam) for m in re.findall(r"(?<![\d.])\d{12}(?![\d.])", s)})
    c.check(not accounts, f"account-id-like literals in the template: {accounts}")
    # (a) the namespace
    c.check(params.get("MetricsNamespace", {}).get("Default") == contract["default_namespace"],
            f"MetricsNamespace default must be the contract's {contract['default_namespace']!r}")
    sched = params.get("ScheduleMinutes", {})
    allowed = [str(v) for v in sched.get("AllowedValues", [])]
    if not c.check(sched.get("Type") == "Number" and str(sched.get("Default")) == "5" and allowed,
                   "ScheduleMinutes: Number, default 5, with AllowedValues"):
        allowed = ["1", "5"]

    for minutes in schedules or allowed:
        for write in (False, True):
            p = dict(SAMPLE, ScheduleMinutes=minutes)
            if not write:
                p["WriteTableArns"], p["AssumeRoleArns"] = "", ""
            tag = f"[ScheduleMinutes={minutes}, WriteTableArns={'set' if write else 'empty'}]"
            try:
                stack = cfn_template.resolve(p, sam)
            except Exception as e:  # invalid SAM or an unevaluable intrinsic
                c.check(False, f"{tag} cannot translate/evaluate the template: {type(e).__name__}: {e}")
                continue
            check_one(c, stack, p, int(minutes), write, metrics, tag)
    return c


def check_one(c, stack, p, minutes, write, metrics, tag):
    ns, interval = p["MetricsNamespace"], minutes * 60
    table_arns = p["TableArns"].split(",")
    write_arns = p["WriteTableArns"].split(",") if write else []

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
    c.check(env.get("CANARY_CONFIG") == p["CanaryConfig"], f"{fn_id}: CANARY_CONFIG must come from the CanaryConfig parameter")
    c.check(not any(k.startswith("AWS_ENDPOINT_URL") or k == "DYNAMODB_ENDPOINT" for k in env),
            f"{fn_id}: no endpoint override may be set with the default parameters, got {sorted(env)}")
    rules = [r["Properties"] for r in stack.resources("AWS::Events::Rule").values()
             if any(t.get("Arn") == f"<{fn_id}.Arn>" for t in r["Properties"].get("Targets", []))]
    want = "rate(1 minute)" if minutes == 1 else f"rate({minutes} minutes)"
    got = [r.get("ScheduleExpression") for r in rules]
    c.check(got == [want], f"{tag} schedule of {fn_id}: want [{want!r}], got {got}")

    # (d) the grants equal the parameters
    ddb_resources, put_metric, writes, assume = set(), [], [], []
    for where, st in stack.statements():
        if st.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in as_list(st.get("Action", []))]
        ddb = [a.split(":", 1)[1] for a in actions if a.startswith("dynamodb:")]
        if ddb:
            ddb_resources.update(as_list(st.get("Resource", [])))
            if set(ddb) & WRITE_ACTIONS:
                writes.append((where, st))
        if "cloudwatch:putmetricdata" in actions:
            put_metric.append((where, st))
        if "sts:assumerole" in actions:
            assume.extend(as_list(st.get("Resource")))
    c.check(ddb_resources == set(table_arns) | set(write_arns),
            f"{tag} DynamoDB permissions must cover exactly TableArns + WriteTableArns; got {sorted(ddb_resources)}")
    c.check(len(put_metric) == 1, f"{tag} expected one statement allowing cloudwatch:PutMetricData, found {len(put_metric)}")
    for where, st in put_metric:
        cond = st.get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace")
        c.check(as_list(cond) == [ns], f"{where}: PutMetricData needs Condition StringEquals cloudwatch:namespace = "
                                       f"MetricsNamespace ({ns!r}), got {st.get('Condition')}")
    c.check(len(writes) == (1 if write else 0),
            f"{tag} expected {1 if write else 0} DynamoDB write statement(s), found {len(writes)}")
    for where, st in writes:
        keys = st.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
        c.check(keys is not None and as_list(keys) == [SENTINEL],
                f"{where}: writes need Condition ForAllValues:StringEquals dynamodb:LeadingKeys = "
                f"[{SENTINEL!r}], got {st.get('Condition')}")
        c.check(set(as_list(st.get("Resource"))) == set(write_arns),
                f"{where}: write resources must be WriteTableArns, got {st.get('Resource')}")
    want_assume = p["AssumeRoleArns"].split(",") if p["AssumeRoleArns"] else []
    c.check(sorted(assume) == sorted(want_assume), f"{tag} sts:AssumeRole must be allowed on exactly AssumeRoleArns {want_assume}")

    # (a), (b), (c) alarms
    by_metric = {}
    for a in stack.alarms():
        lid, name, space, dims = a["id"], a["metric"], a["namespace"], tuple(sorted(a["dimensions"]))
        c.check(a["metrics"] is None, f"{lid}: metric-math alarms are not checked; use MetricName/Namespace")
        by_metric.setdefault((space, name), []).append(a)
        c.check(a["period"] >= interval and a["period"] % 60 == 0,
                f"{tag} {lid}: Period {a['period']}s must be a multiple of 60 and >= the schedule interval {interval}s")
        c.check(a["period"] * a["evaluation_periods"] <= 86400, f"{tag} {lid}: Period x EvaluationPeriods exceeds one day")
        c.check(a["datapoints_to_alarm"] <= a["evaluation_periods"], f"{lid}: DatapointsToAlarm > EvaluationPeriods")
        if space and space.startswith("AWS/"):
            if space == "AWS/Lambda":
                c.check(a["dimensions"] == {"FunctionName": f"<{fn_id}>"},
                        f"{lid}: AWS/Lambda alarm must be on FunctionName = the canary function")
            continue
        c.check(space == ns, f"{lid}: Namespace must be the MetricsNamespace parameter, got {space!r}")
        c.check(name in metrics, f"{lid}: metric {name!r} is not in the metrics contract")
        c.check(name not in metrics or dims in metrics[name],
                f"{lid}: {name} dimension set {list(dims)} is not in the contract "
                f"({sorted(list(d) for d in metrics.get(name, []))})")

    def one(metric, namespace=ns):
        found = by_metric.get((namespace, metric), [])
        c.check(len(found) == 1, f"{tag} expected one alarm on {namespace} {metric}, found {len(found)}")
        return found[0] if len(found) == 1 else None

    def sum_at_least_one(a, metric):
        c.check(a["statistic"] == "Sum" and a["threshold"] == 1 and not a["dimensions"]
                and a["comparison"] == "GreaterThanOrEqualToThreshold", f"{metric} alarm: dimensionless Sum >= 1")

    hb = one("CanaryRuns")
    if hb:
        period, evals = hb["period"], hb["evaluation_periods"]
        c.check(hb["statistic"] in ("SampleCount", "Sum") and not hb["dimensions"]
                and hb["comparison"] == "LessThanThreshold" and hb["threshold"] == 1,
                "heartbeat: dimensionless SampleCount/Sum < 1")
        # Fires only after silence longer than one interval, whatever the jitter.
        c.check(evals >= 2 or period >= 2 * interval,
                f"{tag} heartbeat fires between runs: Period {period}s x {evals} evaluation periods")
        c.check(hb["datapoints_to_alarm"] * period >= 2 * interval,
                f"{tag} heartbeat: DatapointsToAlarm x Period must cover at least two intervals")
    for metric in ("AuthFailures", "UnexpectedAccess"):
        a = one(metric)
        if a:
            sum_at_least_one(a, metric)
    pf = one("ProbeFailures")
    if pf:
        sum_at_least_one(pf, "ProbeFailures")
        m, n = pf["datapoints_to_alarm"], pf["evaluation_periods"]
        c.check(1 < m < n, f"ProbeFailures alarm must be M of N with 1 < M < N, got {m} of {n}")
    le = one("Errors", "AWS/Lambda")
    if le:
        c.check(le["statistic"] == "Sum" and le["threshold"] == 1 and le["comparison"] == "GreaterThanOrEqualToThreshold",
                "Lambda Errors alarm: Sum >= 1")

    # (a) dashboard: valid JSON, every metric and SEARCH on the namespace in the contract
    dashes = stack.resources("AWS::CloudWatch::Dashboard")
    c.check(len(dashes) == 1, f"{tag} expected one dashboard")
    seen = set()
    for lid, res in dashes.items():
        try:
            body = json.loads(res["Properties"]["DashboardBody"])
        except (KeyError, ValueError) as e:
            c.check(False, f"{lid}: DashboardBody is not valid JSON after substitution: {e}")
            continue
        for w in body.get("widgets", []):
            for row in w.get("properties", {}).get("metrics", []):
                if row and isinstance(row[0], dict) and "expression" in row[0]:
                    for dims, name in SEARCH.findall(row[0]["expression"]):
                        parts = [x.strip().strip('"') for x in dims.split(",")]
                        c.check(parts[0] == ns, f"{lid}: SEARCH namespace {parts[0]!r} is not MetricsNamespace")
                        key = tuple(sorted(parts[1:]))
                        c.check(name in metrics and key in metrics[name],
                                f"{lid}: SEARCH {name} {{{','.join(parts[1:])}}} is not in the contract")
                        seen.add((name, key))
                elif row and isinstance(row[0], str) and row[0] == ns:
                    strs = [x for x in row[1:] if isinstance(x, str)]
                    name, key = strs[0], tuple(sorted(strs[1::2]))
                    c.check(name in metrics and key in metrics[name], f"{lid}: metric {name} {list(key)} is not in the contract")
                    seen.add((name, key))
    for name, key in [("CanaryRuns", ()), ("AuthFailures", ()), ("UnexpectedAccess", ()),
                      ("ProbeFailures", ("Class",)), ("ProbeSuccess", ("Probe", "Region", "Table")),
                      ("ProbeLatency", ("Probe", "Region", "Table"))]:
        c.check(not dashes or (name, key) in seen, f"dashboard does not show {name} {list(key)}")


# ------------------------------------------------------------------ --self-test

def _statement(sam, sid):
    for st in sam["Resources"]["CanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
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


# (what is broken, how, a substring the failures must contain)
MUTATIONS = [
    ("an alarm's metric renamed", _set(["Resources", "HeartbeatAlarm", "Properties", "MetricName"], "CanaryRun"),
     "'CanaryRun' is not in the metrics contract"),
    ("an alarm with a dimension set outside the contract",
     _set(["Resources", "UnexpectedAccessAlarm", "Properties", "Dimensions"], [{"Name": "Class", "Value": "x"}]),
     "dimension set ['Class'] is not in the contract"),
    ("an alarm on a literal namespace", _set(["Resources", "AuthFailuresAlarm", "Properties", "Namespace"], "DynamoDBAuthCanary"),
     "Namespace must be the MetricsNamespace parameter"),
    ("the namespace condition dropped", lambda sam, ev: _statement(sam, "PublishCanaryMetrics").pop("Condition"),
     "PutMetricData needs Condition StringEquals cloudwatch:namespace"),
    ("another sentinel key", lambda sam, ev: _statement(sam, "SentinelWriteOnly")["Condition"]["ForAllValues:StringEquals"]
     .update({"dynamodb:LeadingKeys": ["pk"]}), "writes need Condition ForAllValues:StringEquals dynamodb:LeadingKeys"),
    ("writes granted without WriteTableArns",
     lambda sam, ev: sam["Resources"]["CanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
         dict(_statement(sam, "SentinelWriteOnly"), Resource={"Ref": "TableArns"})),
     "expected 0 DynamoDB write statement(s), found 1"),
    ("a table outside the parameters",
     lambda sam, ev: sam["Resources"]["CanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
         {"Effect": "Allow", "Action": "dynamodb:GetItem",
          "Resource": {"Fn::Sub": "arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/payroll"}}),
     "DynamoDB permissions must cover exactly TableArns + WriteTableArns"),
    ("heartbeat firing after one empty period", _set(["Mappings", "ScheduleTable", "5", "HeartbeatPeriods"], 1),
     "heartbeat fires between runs"),
    ("alarm period shorter than the schedule", _set(["Mappings", "ScheduleTable", "5", "AlarmPeriod"], 60),
     "must be a multiple of 60 and >= the schedule interval 300s"),
    ("a dashboard metric renamed", lambda sam, ev: sam["Resources"]["CanaryDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
     .__setitem__(0, sam["Resources"]["CanaryDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
                  .replace('"ProbeLatency', '"ProbeLatencyMs')), "SEARCH ProbeLatencyMs"),
    ("the namespace default changed", _set(["Parameters", "MetricsNamespace", "Default"], "Canary"),
     "MetricsNamespace default must be the contract's"),
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
    ap.add_argument("--template", default=cfn_template.TEMPLATE)
    ap.add_argument("--events", default=os.path.join(ROOT, "events"),
                    help="directory with scheduled.json, on-demand.json, env.json ('' to skip)")
    ap.add_argument("--self-test", action="store_true", help="prove that the checks report broken copies")
    a = ap.parse_args()
    if not os.path.exists(a.template):
        print(f"template_checks: no template at {a.template}", file=sys.stderr)
        sys.exit(2)
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
        print(f"template_checks --self-test: ok ({len(MUTATIONS)} broken copies reported, the real files pass)")
        return
    c = run_checks(sam, a.binary, events, contract)
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
