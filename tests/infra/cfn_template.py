"""The one reader of template.yaml for the Python checks (template_checks.py, deploy_test.py
and whatever else needs resolved values, e.g. an alarm evaluator).

It loads the SAM template (CloudFormation short tags included), translates it to
CloudFormation offline with aws-sam-translator (what CloudFormation deploys), and resolves
the intrinsic functions for given parameter values:

    import cfn_template as t
    t.alarms({"ScheduleMinutes": "1"})         # list of resolved alarms, see alarms()
    t.resources({"Region1ReadTables": "arn:..."}, "AWS::IAM::ManagedPolicy")  # {id: resource}
    stack = t.resolve(params)                   # Stack: .resources(), .alarms(), .ev(node),
                                                #        .statements(), .rules(), .cfn, .params
    t.load(), t.translate(sam, params)          # the raw SAM template; SAM -> CloudFormation

Resolution: Ref (parameters, pseudo parameters, AWS::NoValue), Fn::If and the conditions
(Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition), Fn::FindInMap, Fn::Sub, Fn::Join,
Fn::Split, Fn::Select, and the Rules functions Fn::Contains, Fn::EachMemberEquals,
Fn::EachMemberIn (Stack.rules() evaluates the Rules section's assertions). Resources
resolve to placeholders: Ref X -> "<X>", Fn::GetAtt X.A and ${X.A} -> "<X.A>". Resources whose Condition is false are left out; AWS::NoValue
removes the property or list element. Parameters take the given value, else their Default,
else the placeholder "<Name>" (so alarms() needs no CanaryConfig). CommaDelimitedList
parameters resolve to lists. Pseudo parameters: account 123456789012, region us-east-1,
stack name "canary" unless given. Nothing here calls AWS: the translator gets a stub
managed-policy map and a placeholder S3 CodeUri.
"""
import copy
import functools
import logging
import os
import re
import sys

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator's partition lookup
# samtranslator's default metrics publisher warns at exit about metrics nobody publishes.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # from tests/infra
TEMPLATE = os.path.join(ROOT, "template.yaml")
ACCOUNT, REGION = "123456789012", "us-east-1"
NOVALUE = object()


def as_list(x):
    return x if isinstance(x, list) else [x]


@functools.lru_cache(maxsize=8)
def _load_cached(path):
    from samtranslator.yaml_helper import yaml_parse

    with open(path, encoding="utf-8") as f:
        return yaml_parse(f.read())


def load(path=TEMPLATE):
    """The SAM template as a dict (short tags as long form: !Ref -> {"Ref": ...}). A copy."""
    return copy.deepcopy(_load_cached(os.path.abspath(path)))


class _NoManagedPolicies:
    """Managed-policy map stub for samtranslator: no IAM calls."""

    def load(self):
        return {}


def translate(sam, params):
    """SAM -> CloudFormation, offline. Local CodeUri values become an S3 placeholder, as
    `sam package` would make them."""
    from samtranslator.translator.transform import transform

    sam = copy.deepcopy(sam)
    for res in sam.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            uri = res.get("Properties", {}).get("CodeUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                res["Properties"]["CodeUri"] = "s3://placeholder-bucket/canary.zip"
    return transform(sam, {k: str(v) for k, v in params.items()}, _NoManagedPolicies())


def references(node):
    """Logical ids (or parameter names) a template node references: Ref, GetAtt, ${} in Sub."""
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v.split(".")[0] if isinstance(v, str) else v[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                out.update(m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
                if not isinstance(v, str):
                    out.update(references(v[1]))
            else:
                out.update(references(v))
    elif isinstance(node, list):
        for v in node:
            out.update(references(v))
    return out


class Stack:
    """A CloudFormation template (translated, or plain) resolved for parameter values."""

    def __init__(self, cfn, params, account=ACCOUNT, region=REGION, stack_name="canary"):
        self.cfn, self.params, self._conds = cfn, {}, {}
        for name, spec in cfn.get("Parameters", {}).items():
            v = str(params.get(name, spec.get("Default", f"<{name}>")))
            self.params[name] = v.split(",") if spec.get("Type") == "CommaDelimitedList" else v
        self.params.update({
            "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws",
            "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/x"})

    # -- intrinsics
    def condition(self, name):
        if name not in self._conds:
            self._conds[name] = bool(self.ev(self.cfn["Conditions"][name]))
        return self._conds[name]

    def ref(self, name):
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.params:
            return self.params[name]
        if name in self.cfn.get("Resources", {}):
            return f"<{name}>"
        raise ValueError(f"Ref to unknown name {name}")

    def _sub(self, text, local):
        def repl(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and name.split(".")[0] in self.cfn.get("Resources", {}):
                return f"<{name}>"
            v = self.ref(name)
            if isinstance(v, list):
                raise ValueError(f"Fn::Sub of list parameter {name}")
            return str(v)

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def ev(self, node):
        """Resolve a template node."""
        if isinstance(node, list):
            return [x for x in (self.ev(x) for x in node) if x is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (k, v), = node.items()
            fn = {
                "Ref": lambda: self.ref(v),
                "Condition": lambda: self.condition(v),
                "Fn::If": lambda: self.ev(v[1] if self.condition(v[0]) else v[2]),
                "Fn::Equals": lambda: str(self.ev(v[0])) == str(self.ev(v[1])),
                "Fn::Not": lambda: not self.ev(v[0]),
                "Fn::And": lambda: all(self.ev(x) for x in v),
                "Fn::Or": lambda: any(self.ev(x) for x in v),
                "Fn::FindInMap": lambda: self._find_in_map(*(str(self.ev(x)) for x in v)),
                "Fn::GetAtt": lambda: "<{}.{}>".format(*(v.split(".", 1) if isinstance(v, str) else v)),
                "Fn::Join": lambda: v[0].join(str(x) for x in self.ev(v[1])),
                "Fn::Split": lambda: str(self.ev(v[1])).split(v[0]),
                "Fn::Select": lambda: self.ev(v[1])[int(self.ev(v[0]))],
                "Fn::Sub": lambda: (self._sub(v, {}) if isinstance(v, str)
                                    else self._sub(v[0], {n: self.ev(x) for n, x in v[1].items()})),
                # Rules functions (Rules section only)
                "Fn::Contains": lambda: str(self.ev(v[1])) in [str(x) for x in as_list(self.ev(v[0]))],
                "Fn::EachMemberEquals": lambda: all(str(x) == str(self.ev(v[1])) for x in as_list(self.ev(v[0]))),
                "Fn::EachMemberIn": lambda: set(map(str, as_list(self.ev(v[0])))) <= set(map(str, as_list(self.ev(v[1])))),
            }.get(k)
            if fn:
                return fn()
            if k.startswith("Fn::"):
                raise ValueError(f"unsupported intrinsic {k}")
        out = {k: self.ev(x) for k, x in node.items()}
        return {k: x for k, x in out.items() if x is not NOVALUE}

    def _find_in_map(self, m, a, b):
        return self.cfn["Mappings"][m][a][b]

    # -- accessors
    def resources(self, type_=None):
        """{logical id: {"Type", "Properties"}} of the active resources (Condition true),
        optionally of one type, in template order, properties resolved."""
        out = {}
        for lid, res in self.cfn.get("Resources", {}).items():
            cond = res.get("Condition")
            if (type_ is None or res.get("Type") == type_) and (cond is None or self.condition(cond)):
                out[lid] = {"Type": res["Type"], "Properties": self.ev(res.get("Properties", {}))}
        return out

    def statements(self):
        """[(where, statement)] of every identity-policy statement of the active resources."""
        out = []
        for lid, res in self.resources().items():
            p, docs = res["Properties"], []
            if res["Type"] == "AWS::IAM::Role":
                docs = [(f"{lid}.Policies[{pol.get('PolicyName')}]", pol.get("PolicyDocument", {}))
                        for pol in p.get("Policies", [])]
            elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                docs = [(lid, p.get("PolicyDocument", {}))]
            for where, doc in docs:
                for i, st in enumerate(as_list(doc.get("Statement", []))):
                    out.append((f"{where}.Statement[{st.get('Sid', i)}]", st))
        return out

    def rules(self):
        """The Rules section evaluated for the parameters: [(rule, AssertDescription, holds)]
        for every assertion of every rule whose RuleCondition (if any) holds. A deploy with
        these parameters fails in CloudFormation when any `holds` is False."""
        out = []
        for name, rule in self.cfn.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.ev(rule["RuleCondition"]):
                continue
            for a in rule.get("Assertions", []):
                out.append((name, a.get("AssertDescription", ""), bool(self.ev(a["Assert"]))))
        return out

    def alarms(self):
        """The active AWS::CloudWatch::Alarm resources, resolved and flattened:
        id, metric, namespace, dimensions {name: value}, statistic, extended_statistic, period,
        evaluation_periods, datapoints_to_alarm (defaults to evaluation_periods), threshold
        (float), comparison, treat_missing_data (default "missing"), alarm_actions,
        ok_actions, metrics (metric-math list or None), and properties (all, resolved)."""
        out = []
        for lid, res in self.resources("AWS::CloudWatch::Alarm").items():
            a = res["Properties"]
            evals = int(a.get("EvaluationPeriods", 1))
            out.append({
                "id": lid, "metric": a.get("MetricName"), "namespace": a.get("Namespace"),
                "dimensions": {d["Name"]: d["Value"] for d in a.get("Dimensions", [])},
                "statistic": a.get("Statistic"), "extended_statistic": a.get("ExtendedStatistic"),
                "period": int(a.get("Period", 0)), "evaluation_periods": evals,
                "datapoints_to_alarm": int(a.get("DatapointsToAlarm", evals)),
                "threshold": float(a["Threshold"]) if "Threshold" in a else None,
                "comparison": a.get("ComparisonOperator"),
                "treat_missing_data": a.get("TreatMissingData", "missing"),
                "alarm_actions": list(a.get("AlarmActions", [])), "ok_actions": list(a.get("OKActions", [])),
                "metrics": a.get("Metrics"), "properties": a,
            })
        return out


def _composites(stack):
    """The active AWS::CloudWatch::CompositeAlarm resources, resolved: id, rule (the
    AlarmRule, alarm references as "<LogicalId>"), alarm_actions, ok_actions, properties."""
    out = []
    for lid, res in stack.resources("AWS::CloudWatch::CompositeAlarm").items():
        a = res["Properties"]
        out.append({"id": lid, "rule": a.get("AlarmRule"), "alarm_actions": list(a.get("AlarmActions", [])),
                    "ok_actions": list(a.get("OKActions", [])), "properties": a})
    return out


def composite_alarms(params=None, sam=None):
    """The composite alarms of the translated template, resolved for params."""
    return _composites(resolve(params, sam))


def resolve(params=None, sam=None, **pseudo):
    """Translate the SAM template (default template.yaml) and resolve it for params;
    pseudo: account=, region=, stack_name=."""
    params = dict(params or {})
    sam = load() if sam is None else sam
    for name, spec in sam.get("Parameters", {}).items():  # the translator needs every value
        params.setdefault(name, spec.get("Default", f"<{name}>"))
    return Stack(translate(sam, params), params, **pseudo)


def resources(params=None, type_=None, sam=None):
    """{logical id: {"Type", "Properties"}} of the translated template, resolved for params."""
    return resolve(params, sam).resources(type_)


def alarms(params=None, sam=None):
    """The alarms of the translated template, resolved for params (see Stack.alarms)."""
    return resolve(params, sam).alarms()


def main(argv=None):
    """CLI: print the template translated and resolved for parameter values, as JSON
    (Parameters as declared, Resources and Outputs resolved): what cfn-guard checks."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args(argv)
    params = dict(p.split("=", 1) for p in a.param)
    sam = load(a.template)
    stack = resolve(params, sam)
    outputs = {k: stack.ev(v) for k, v in stack.cfn.get("Outputs", {}).items()}
    json.dump({"Parameters": sam.get("Parameters", {}), "Resources": stack.resources(), "Outputs": outputs},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
