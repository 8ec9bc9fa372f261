#!/usr/bin/env python3
"""Static checks of template.yaml that cfn-lint cannot know about.

Usage: template_checks.py [BINARY] [--template template.yaml]
  BINARY  the canary binary whose `metrics --contract` the alarms and the dashboard
          must match (default: target/debug/dynamodb-auth-canary)

The template is translated offline with aws-sam-translator (what CloudFormation
deploys), then its intrinsic functions are evaluated for sample parameter values,
including several ScheduleMinutes values. It checks:
  (a) every alarm and dashboard metric on the canary's namespace uses a metric name and
      dimension set of the contract; the namespace is the MetricsNamespace parameter
  (b) cloudwatch:PutMetricData is allowed only with StringEquals cloudwatch:namespace
  (c) DynamoDB write actions are allowed only with ForAllValues:StringEquals
      dynamodb:LeadingKeys = ["__dynamodb_auth_canary__"], and only when WriteTableArns
      is set
  (d) no "*" (or wildcard) resource or action for DynamoDB; DynamoDB resources are
      exactly TableArns + WriteTableArns
  (e) the function: provided.al2023, arm64, bootstrap, async retries 0, timeout fits
      the run's deadline
  (f) heartbeat: TreatMissingData breaching, period >= schedule interval and not firing
      between runs, for each allowed ScheduleMinutes; the rate expression is right
  plus: no fixed physical names, no account-id literals, alarm routing, outputs, and
  events/: scheduled.json is a Scheduled Event, the configs of on-demand.json and
  env.json are accepted by the binary, env.json only sets variables the template declares.
Exit 0 when all pass, 1 with one line per failure, 2 on usage errors.
"""
import argparse
import copy
import json
import logging
import os
import re
import subprocess
import sys
import tempfile

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator's partition lookup
# samtranslator's default metrics publisher warns at exit about metrics nobody publishes.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTINEL = "__dynamodb_auth_canary__"
ACCOUNT = "123456789012"  # pseudo parameter value for evaluation only
REGION = "us-east-1"
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
PHYSICAL_NAMES = {
    "AWS::Lambda::Function": "FunctionName", "AWS::Serverless::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName", "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName", "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::Events::Rule": "Name",
}
NOVALUE = object()


# ------------------------------------------------------------------ translation

class _NoManagedPolicies:
    """Managed-policy map stub for samtranslator: no IAM calls."""

    def load(self):
        return {}


def load_sam(path):
    from samtranslator.yaml_helper import yaml_parse

    with open(path, encoding="utf-8") as f:
        return yaml_parse(f.read())


def translate(sam, params):
    """SAM -> CloudFormation, offline. Local CodeUri values become an S3 placeholder,
    as `sam package` would make them."""
    from samtranslator.translator.transform import transform

    sam = copy.deepcopy(sam)
    for res in sam.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            uri = res.get("Properties", {}).get("CodeUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                res["Properties"]["CodeUri"] = "s3://placeholder-bucket/canary.zip"
    return transform(sam, dict(params), _NoManagedPolicies())


# ------------------------------------------------------------------ intrinsics

class Evaluator:
    """Evaluates CloudFormation intrinsics for given parameter values. Resources
    evaluate to placeholders: Ref X -> "<X>", GetAtt X.A -> "<X.A>"."""

    def __init__(self, template, params, account=ACCOUNT, region=REGION):
        self.t = template
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            v = params.get(name, spec.get("Default"))
            if v is None:
                raise ValueError(f"parameter {name} has no value and no default")
            v = str(v)
            if spec.get("Type") == "CommaDelimitedList":
                v = v.split(",")
            self.params[name] = v
        self.params.update({"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws",
                            "AWS::StackName": "canary", "AWS::URLSuffix": "amazonaws.com",
                            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/canary/x"})
        self._conds = {}

    def condition(self, name):
        if name not in self._conds:
            self._conds[name] = bool(self.ev(self.t["Conditions"][name]))
        return self._conds[name]

    def active(self, logical_id):
        cond = self.t["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def ref(self, name):
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.params:
            return self.params[name]
        if name in self.t.get("Resources", {}):
            return f"<{name}>"
        raise ValueError(f"Ref to unknown name {name}")

    def sub(self, text, local):
        def repl(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and name.split(".")[0] in self.t.get("Resources", {}):
                return f"<{name}>"
            v = self.ref(name)
            if isinstance(v, list):
                raise ValueError(f"Fn::Sub of list parameter {name}")
            return str(v)

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def ev(self, node):
        if isinstance(node, list):
            out = [self.ev(x) for x in node]
            return [x for x in out if x is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (k, v), = node.items()
            if k == "Ref":
                return self.ref(v)
            if k == "Condition":
                return self.condition(v)
            if k == "Fn::If":
                return self.ev(v[1] if self.condition(v[0]) else v[2])
            if k == "Fn::Equals":
                a, b = self.ev(v[0]), self.ev(v[1])
                return str(a) == str(b)
            if k == "Fn::Not":
                return not self.ev(v[0])
            if k == "Fn::And":
                return all(self.ev(x) for x in v)
            if k == "Fn::Or":
                return any(self.ev(x) for x in v)
            if k == "Fn::FindInMap":
                m, a, b = (str(self.ev(x)) for x in v)
                return self.t["Mappings"][m][a][b]
            if k == "Fn::GetAtt":
                parts = v.split(".", 1) if isinstance(v, str) else v
                return f"<{parts[0]}.{parts[1]}>"
            if k == "Fn::Join":
                return v[0].join(str(x) for x in self.ev(v[1]))
            if k == "Fn::Split":
                return str(self.ev(v[1])).split(v[0])
            if k == "Fn::Select":
                return self.ev(v[1])[int(self.ev(v[0]))]
            if k == "Fn::Sub":
                if isinstance(v, str):
                    return self.sub(v, {})
                return self.sub(v[0], {n: self.ev(x) for n, x in v[1].items()})
            if k.startswith("Fn::"):
                raise ValueError(f"unsupported intrinsic {k}")
        out = {k: self.ev(x) for k, x in node.items()}
        return {k: x for k, x in out.items() if x is not NOVALUE}

    def resources(self, type_=None):
        """(logical id, evaluated resource) of active resources, optionally of one type."""
        for lid, res in self.t.get("Resources", {}).items():
            if (type_ is None or res.get("Type") == type_) and self.active(lid):
                yield lid, {"Type": res["Type"], "Properties": self.ev(res.get("Properties", {}))}


# ------------------------------------------------------------------ helpers

def as_list(x):
    return x if isinstance(x, list) else [x]


def policy_statements(ev):
    """(where, statement) for every identity-policy statement of active resources."""
    for lid, res in ev.resources():
        p = res["Properties"]
        docs = []
        if res["Type"] == "AWS::IAM::Role":
            docs = [(f"{lid}.Policies[{pol.get('PolicyName')}]", pol.get("PolicyDocument", {}))
                    for pol in p.get("Policies", [])]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            docs = [(lid, p.get("PolicyDocument", {}))]
        for where, doc in docs:
            for i, st in enumerate(as_list(doc.get("Statement", []))):
                yield f"{where}.Statement[{st.get('Sid', i)}]", st


def contract_of(binary):
    try:
        out = subprocess.run([binary, "metrics", "--contract"], check=True, capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        sys.exit(f"template_checks: cannot run `{binary} metrics --contract`: {e}\n"
                 "  build it first (cargo build) or pass the binary path")
    c = json.loads(out)
    return c, {m["name"]: {tuple(sorted(d)) for d in m["dimension_sets"]} for m in c["metrics"]}


SEARCH = re.compile(r"SEARCH\(\s*'\{([^}]*)\}\s*MetricName=\"([^\"]+)\"")


class Checks:
    def __init__(self):
        self.failures, self.passed = [], 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return ok


# ------------------------------------------------------------------ the checks

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


def check_events(c, events_dir, sam, binary):
    """events/: a real Scheduled Event, an on-demand {"config"} event and sam local's env file."""
    def load(name):
        try:
            with open(os.path.join(events_dir, name), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            c.check(False, f"events/{name}: {e}")
            return None

    ev = load("scheduled.json")
    if ev is not None:
        c.check(set(ev) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
                and ev.get("detail-type") == "Scheduled Event" and ev.get("source") == "aws.events"
                and ev.get("detail") == {} and re.fullmatch(r"\d{12}", str(ev.get("account")))
                and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(ev.get("time")))
                and len(ev.get("resources", [])) == 1
                and re.fullmatch(rf"arn:aws:events:{ev.get('region')}:{ev.get('account')}:rule/.+", ev["resources"][0]),
                "events/scheduled.json is not an EventBridge Scheduled Event")
    ev = load("on-demand.json")
    if ev is not None and c.check(isinstance(ev, dict) and isinstance(ev.get("config"), dict),
                                  'events/on-demand.json must be {"config": {...}}'):
        err = config_valid(binary, ev["config"], "events/on-demand.json: config")
        c.check(err is None, f"events/on-demand.json: the canary rejects its config: {err}")
        c.check(ev["config"].get("metrics", {}).get("sink") == "emf", "events/on-demand.json: metrics.sink should be emf")
    env = load("env.json")
    fns = {lid: r for lid, r in sam.get("Resources", {}).items() if r.get("Type") == "AWS::Serverless::Function"}
    if env is not None and c.check(isinstance(env, dict) and set(env) <= set(fns) and env,
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
                cfg = json.loads(values.get("CANARY_CONFIG", ""))
                err = config_valid(binary, cfg, "events/env.json: CANARY_CONFIG")
            except ValueError as e:
                err = f"not JSON: {e}"
            c.check(err is None, f"events/env.json: CANARY_CONFIG is not a valid configuration: {err}")


def run_checks(template_path, binary, events_dir):
    c = Checks()
    contract, metrics = contract_of(binary)
    with open(template_path, encoding="utf-8") as f:
        text = f.read()
    sam = load_sam(template_path)
    params = sam.get("Parameters", {})
    if events_dir:
        check_events(c, events_dir, sam, binary)

    # -- raw template: names, literals, defaults
    accounts = sorted(set(re.findall(r"(?<![\d.])\d{12}(?![\d.])", text)))
    c.check(not accounts, f"account-id-like literals in the template: {accounts}")
    for lid, res in sam.get("Resources", {}).items():
        prop = PHYSICAL_NAMES.get(res.get("Type"))
        c.check(not (prop and prop in res.get("Properties", {})),
                f"{lid}: fixed physical name {prop}; let CloudFormation name it")
    c.check(params.get("MetricsNamespace", {}).get("Default") == contract["default_namespace"],
            f"MetricsNamespace default must be the contract's {contract['default_namespace']!r}")
    # ProbeActions can only ever grant what the describe and read probes call.
    pa = params.get("ProbeActions", {})
    probe_actions = {"dynamodb:DescribeTable", "dynamodb:GetItem"}
    c.check(set(str(pa.get("Default", "")).split(",")) <= probe_actions
            and set(pa.get("AllowedValues", ["*"])) <= probe_actions,
            f"ProbeActions: Default and AllowedValues must be within {sorted(probe_actions)}")
    sched = params.get("ScheduleMinutes", {})
    allowed = [str(v) for v in sched.get("AllowedValues", [])]
    if not c.check(sched.get("Type") == "Number" and str(sched.get("Default")) == "5" and allowed,
                   "ScheduleMinutes: Number, default 5, with AllowedValues"):
        allowed = ["1", "5"]

    # -- translate once per schedule value; everything below is on what CloudFormation gets
    for minutes in allowed:
        for write in (False, True):
            p = dict(SAMPLE, ScheduleMinutes=minutes)
            if not write:
                p["WriteTableArns"], p["AssumeRoleArns"] = "", ""
            tag = f"[ScheduleMinutes={minutes}, WriteTableArns={'set' if write else 'empty'}]"
            try:
                cfn = translate(sam, p)
                ev = Evaluator(cfn, p)
            except Exception as e:  # invalid SAM or an unevaluable intrinsic
                c.check(False, f"{tag} cannot translate/evaluate the template: {type(e).__name__}: {e}")
                continue
            check_one(c, ev, p, int(minutes), write, metrics, tag)
    return c


def check_one(c, ev, p, minutes, write, metrics, tag):
    ns = p["MetricsNamespace"]
    table_arns = p["TableArns"].split(",")
    write_arns = p["WriteTableArns"].split(",") if write else []
    interval = minutes * 60

    # (e) the function
    fns = list(ev.resources("AWS::Lambda::Function"))
    if not c.check(len(fns) == 1, f"{tag} expected exactly one Lambda function, found {len(fns)}"):
        return
    fn_id, fn = fns[0]
    fp = fn["Properties"]
    c.check(fp.get("Runtime") == "provided.al2023", f"{fn_id}: Runtime must be provided.al2023")
    c.check(fp.get("Architectures") == ["arm64"], f"{fn_id}: Architectures must be [arm64]")
    c.check(fp.get("Handler") == "bootstrap", f"{fn_id}: Handler must be bootstrap")
    timeout = int(fp.get("Timeout", 3))
    c.check((DEADLINE_MS + MARGIN_MS) / 1000 <= timeout <= 60,
            f"{fn_id}: Timeout {timeout}s must fit the default run deadline "
            f"({DEADLINE_MS} ms + {MARGIN_MS} ms margin) and stay short")
    c.check(fp.get("Environment", {}).get("Variables", {}).get("CANARY_CONFIG") == p["CanaryConfig"],
            f"{fn_id}: CANARY_CONFIG must come from the CanaryConfig parameter")
    c.check(fp.get("LoggingConfig", {}).get("LogFormat") == "JSON", f"{fn_id}: LoggingConfig.LogFormat must be JSON")
    env = fp.get("Environment", {}).get("Variables", {})
    c.check(env.get("AWS_EC2_METADATA_DISABLED") == "true", f"{fn_id}: AWS_EC2_METADATA_DISABLED must be \"true\"")
    c.check(not any(k.startswith("AWS_ENDPOINT_URL") or k == "DYNAMODB_ENDPOINT" for k in env),
            f"{fn_id}: no endpoint override may be set with the default parameters, got {sorted(env)}")
    eics = [r["Properties"] for _, r in ev.resources("AWS::Lambda::EventInvokeConfig")
            if r["Properties"].get("FunctionName") == f"<{fn_id}>"]
    c.check(len(eics) == 1 and str(eics[0].get("MaximumRetryAttempts")) == "0",
            f"{tag} {fn_id}: needs an EventInvokeConfig with MaximumRetryAttempts 0 (async retries off)")

    # (f) the schedule
    rules = [r["Properties"] for _, r in ev.resources("AWS::Events::Rule")
             if any(t.get("Arn") == f"<{fn_id}.Arn>" for t in r["Properties"].get("Targets", []))]
    want = "rate(1 minute)" if minutes == 1 else f"rate({minutes} minutes)"
    got = [r.get("ScheduleExpression") for r in rules]
    c.check(got == [want], f"{tag} schedule of {fn_id}: want [{want!r}], got {got}")

    # (b), (c), (d) the role's policies
    ddb_resources, put_metric, writes = set(), [], []
    for where, st in policy_statements(ev):
        actions = [a.lower() for a in as_list(st.get("Action", []))]
        resources = as_list(st.get("Resource", []))
        c.check("NotAction" not in st and "NotResource" not in st, f"{where}: NotAction/NotResource")
        c.check(not any(a in ("*", "dynamodb:*") for a in actions), f"{where}: wildcard action {actions}")
        if st.get("Effect") != "Allow":
            continue
        ddb = [a for a in actions if a.startswith("dynamodb:")]
        if ddb:
            c.check(all("*" not in r for r in resources),
                    f"{where}: DynamoDB actions {ddb} on a wildcard resource {resources}")
            ddb_resources.update(resources)
            if any(a.split(":")[1] in ("putitem", "deleteitem", "updateitem", "batchwriteitem",
                                       "transactwriteitems", "partiqlinsert", "partiqlupdate",
                                       "partiqldelete") for a in ddb):
                writes.append((where, st))
        if "cloudwatch:putmetricdata" in actions:
            put_metric.append((where, st))
    c.check(ddb_resources == set(table_arns) | set(write_arns),
            f"{tag} DynamoDB permissions must cover exactly TableArns + WriteTableArns; "
            f"got {sorted(ddb_resources)}")
    c.check(len(put_metric) == 1, f"{tag} expected one statement allowing cloudwatch:PutMetricData, found {len(put_metric)}")
    for where, st in put_metric:
        cond = st.get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace")
        c.check(cond == ns or cond == [ns],
                f"{where}: PutMetricData needs Condition StringEquals cloudwatch:namespace = "
                f"MetricsNamespace ({ns!r}), got {st.get('Condition')}")
    c.check(len(writes) == (1 if write else 0),
            f"{tag} expected {1 if write else 0} DynamoDB write statement(s), found {len(writes)}")
    for where, st in writes:
        keys = st.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
        c.check(as_list(keys) == [SENTINEL] if keys is not None else False,
                f"{where}: writes need Condition ForAllValues:StringEquals dynamodb:LeadingKeys = "
                f"[{SENTINEL!r}], got {st.get('Condition')}")
        c.check(set(as_list(st.get("Resource"))) == set(write_arns),
                f"{where}: write resources must be WriteTableArns, got {st.get('Resource')}")
    assume = [(w, st) for w, st in policy_statements(ev)
              if "sts:assumerole" in [a.lower() for a in as_list(st.get("Action", []))]]
    want_assume = p["AssumeRoleArns"].split(",") if p["AssumeRoleArns"] else []
    c.check(sorted(r for _, st in assume for r in as_list(st.get("Resource"))) == sorted(want_assume),
            f"{tag} sts:AssumeRole must be allowed on exactly AssumeRoleArns {want_assume}")

    # (a), (f) alarms
    topics = {lid for lid, _ in ev.resources("AWS::SNS::Topic")}
    by_metric = {}
    for lid, res in ev.resources("AWS::CloudWatch::Alarm"):
        a = res["Properties"]
        name, space = a.get("MetricName"), a.get("Namespace")
        dims = tuple(sorted(d["Name"] for d in a.get("Dimensions", [])))
        c.check("Metrics" not in a, f"{lid}: metric-math alarms are not checked; use MetricName/Namespace")
        by_metric.setdefault(name, []).append((lid, a))
        for act in a.get("AlarmActions", []):
            c.check(isinstance(act, str) and act.strip("<>") in topics, f"{lid}: AlarmActions {act} is not a topic here")
        period = int(a.get("Period", 0))
        c.check(period >= interval and period % 60 == 0,
                f"{tag} {lid}: Period {period}s must be a multiple of 60 and >= the schedule interval {interval}s")
        c.check(period * int(a.get("EvaluationPeriods", 1)) <= 86400,
                f"{tag} {lid}: Period x EvaluationPeriods exceeds one day")
        c.check(int(a.get("DatapointsToAlarm", a.get("EvaluationPeriods", 1))) <= int(a.get("EvaluationPeriods", 1)),
                f"{lid}: DatapointsToAlarm > EvaluationPeriods")
        if space and space.startswith("AWS/"):
            if space == "AWS/Lambda":
                c.check(dims == ("FunctionName",) and a["Dimensions"][0]["Value"] == f"<{fn_id}>",
                        f"{lid}: AWS/Lambda alarm must be on FunctionName = the canary function")
            continue
        c.check(space == ns, f"{lid}: Namespace must be the MetricsNamespace parameter, got {space!r}")
        c.check(name in metrics, f"{lid}: metric {name!r} is not in the metrics contract")
        c.check(name not in metrics or dims in metrics[name],
                f"{lid}: {name} dimension set {list(dims)} is not in the contract "
                f"({sorted(list(d) for d in metrics.get(name, []))})")

    def one(metric, namespace=ns):
        found = [(lid, a) for lid, a in by_metric.get(metric, []) if a.get("Namespace") == namespace]
        c.check(len(found) == 1, f"{tag} expected one alarm on {namespace} {metric}, found {len(found)}")
        return found[0][1] if len(found) == 1 else None

    def routed(a, metric, topic_kind):
        acts = [x.strip("<>") for x in a.get("AlarmActions", [])]
        c.check(len(acts) == 1 and acts[0] in topics and (topic_kind in acts[0]),
                f"{metric} alarm must notify the {topic_kind} topic, got {acts}")

    def threshold(a, metric, stat="Sum"):
        c.check(a.get("Statistic") == stat and float(a.get("Threshold")) == 1
                and a.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold" and not a.get("Dimensions"),
                f"{metric} alarm: dimensionless {stat} >= 1")

    hb = one("CanaryRuns")
    if hb:
        period, evals = int(hb["Period"]), int(hb["EvaluationPeriods"])
        c.check(hb.get("TreatMissingData") == "breaching", "heartbeat (CanaryRuns) needs TreatMissingData: breaching")
        c.check(hb.get("Statistic") in ("SampleCount", "Sum") and not hb.get("Dimensions")
                and hb.get("ComparisonOperator") == "LessThanThreshold" and float(hb.get("Threshold")) == 1,
                "heartbeat: dimensionless SampleCount/Sum < 1")
        # Fires only after silence longer than one interval, whatever the jitter.
        c.check(evals >= 2 or period >= 2 * interval,
                f"{tag} heartbeat fires between runs: Period {period}s x {evals} evaluation periods")
        c.check(int(hb.get("DatapointsToAlarm", evals)) * period >= 2 * interval,
                f"{tag} heartbeat: DatapointsToAlarm x Period must cover at least two intervals")
        routed(hb, "CanaryRuns", "Paging")
    for metric in ("AuthFailures", "UnexpectedAccess"):
        a = one(metric)
        if a:
            threshold(a, metric)
            c.check(a.get("TreatMissingData") in ("notBreaching", "ignore"),
                    f"{metric}: TreatMissingData notBreaching/ignore (the heartbeat covers silence)")
            routed(a, metric, "Paging")
    pf = one("ProbeFailures")
    if pf:
        threshold(pf, "ProbeFailures")
        m, n = int(pf.get("DatapointsToAlarm", 1)), int(pf.get("EvaluationPeriods", 1))
        c.check(1 < m < n, f"ProbeFailures alarm must be M of N with 1 < M < N, got {m} of {n}")
        routed(pf, "ProbeFailures", "Notify")
    le = one("Errors", "AWS/Lambda")
    if le:
        c.check(le.get("Statistic") == "Sum" and float(le.get("Threshold")) == 1
                and le.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold", "Lambda Errors alarm: Sum >= 1")
        routed(le, "Errors", "Paging")

    # (a) dashboard: valid JSON, every metric and SEARCH on the namespace in the contract
    dashes = list(ev.resources("AWS::CloudWatch::Dashboard"))
    c.check(len(dashes) == 1, f"{tag} expected one dashboard")
    seen = set()
    for lid, res in dashes:
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
                    c.check(name in metrics and key in metrics[name],
                            f"{lid}: metric {name} {list(key)} is not in the contract")
                    seen.add((name, key))
    for name, key in [("CanaryRuns", ()), ("AuthFailures", ()), ("UnexpectedAccess", ()),
                      ("ProbeFailures", ("Class",)), ("ProbeSuccess", ("Probe", "Region", "Table")),
                      ("ProbeLatency", ("Probe", "Region", "Table"))]:
        c.check(not dashes or (name, key) in seen, f"dashboard does not show {name} {list(key)}")

    # outputs
    outs = ev.t.get("Outputs", {})
    for want in ("CanaryFunctionArn", "CanaryRoleArn", "PagingTopicArn", "NotifyTopicArn", "DashboardName"):
        c.check(want in outs, f"missing output {want}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
    ap.add_argument("--template", default=os.path.join(ROOT, "template.yaml"))
    ap.add_argument("--events", default=os.path.join(ROOT, "events"),
                    help="directory with scheduled.json, on-demand.json, env.json ('' to skip)")
    a = ap.parse_args()
    if not os.path.exists(a.template):
        print(f"template_checks: no template at {a.template}", file=sys.stderr)
        sys.exit(2)
    c = run_checks(a.template, a.binary, a.events)
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
