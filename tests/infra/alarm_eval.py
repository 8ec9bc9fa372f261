#!/usr/bin/env python3
"""Offline evaluator of CloudWatch metric alarms (test code for tests/infra/alarm_test.py).

No maintained library evaluates CloudWatch alarms offline, so this is a small one.
It covers single-metric alarms (Namespace, MetricName, Dimensions, Statistic
Sum/SampleCount/Average/Minimum/Maximum, Period, EvaluationPeriods, DatapointsToAlarm,
Threshold, ComparisonOperator, TreatMissingData) as tests/infra/cfn_template.py's
alarms() returns them. Metric math, percentiles and anomaly bands are refused.

The rules, with the words of the Amazon CloudWatch User Guide they implement
("Using Amazon CloudWatch alarms": Evaluating an alarm; Configuring how CloudWatch
alarms treat missing data; How alarm state is evaluated when data is missing;
Avoiding premature transitions to alarm state):

R1 Series.  An alarm watches one metric: namespace + name + its exact dimension set.
   "For the alarm to be valid, you must include all of the dimensions for the custom
   metric in addition to the metric namespace and metric name." A datum with one
   dimension more, fewer or different is another metric and is never seen.
R2 Periods. "Period is the length of time to evaluate the metric ... to create each
   individual data point for an alarm." Datapoints are aggregated with the statistic
   into buckets [k*P, (k+1)*P) aligned to the period (as the alarm's datapoints are
   timestamped in DescribeAlarmHistory). A bucket holding no datum is MISSING (a
   SampleCount of nothing is missing, not 0).
R3 Every minute. Alarms with a period of a minute or more are evaluated once a minute,
   over the most recent complete periods (a period is complete once its end has
   passed). A datum counts only once it has ARRIVED: each datum has a timestamp (its
   bucket) and an arrival time (PutMetricData: seconds; EMF: log delivery, may be a
   period late), so a late datum fills its old bucket at a later evaluation.
R4 Evaluation range. "CloudWatch attempts to retrieve a higher number of data points
   than specified by Evaluation Periods ... The exact number ... depends on the length
   of the alarm period ... the evaluation range" and the documented example: "the
   Evaluation Periods is 3 and the evaluation range is 5 data points". The exact number
   is undocumented: we use N + EXTRA_PERIODS (2), and alarm_test.py also runs the
   heartbeat timelines with 0 extra to bound it from both sides.
R5 Enough real data. "If some data points in the evaluation range are missing, but the
   number of existing data points retrieved is equal to or more than the alarm's
   Evaluation Periods, CloudWatch evaluates the alarm state based on the most recent
   existing data points ... the value you set for how to treat missing data is not
   needed and is ignored." (So late data and jitter holes are looked past.)
R6 Too little real data. "CloudWatch fills in the missing data points with the result
   you specified for how to treat missing data ... any real data points in the
   evaluation range, no matter when they were reported, are included ... CloudWatch
   uses missing data points only as few times as possible." -> N evaluated = all real
   ones + (N - real) filled: breaching -> breaching, notBreaching -> not breaching.
   missing: "The alarm does not consider missing data points": only the real ones are
   evaluated; all missing -> INSUFFICIENT_DATA ("if all data points in the alarm
   evaluation range are missing, the alarm transitions to INSUFFICIENT_DATA").
   ignore: "The current alarm state is maintained" where `missing` would give
   INSUFFICIENT_DATA (the documented tables' IGNORE column: "Retain current state").
R7 M of N. "If fewer than the value of Datapoints to Alarm are breaching, the alarm
   state is set to OK. Otherwise, the state is set to ALARM." With missing/ignore and
   fewer than M real points all breaching, the state is not known (INSUFFICIENT_DATA /
   retained) - except the premature-transition rule: "alarms are designed to always go
   into ALARM state when the oldest available breaching datapoint during the
   Evaluation Periods number of data points is at least as old as the value of
   Datapoints to Alarm, and all other more recent data points are breaching or
   missing" (documented only for `missing`: the tables give IGNORE "Retain current
   state" for the same row, so it is applied to `missing` only).
R8 Actions. "Alarms invoke actions for sustained state changes only": on a transition
   to ALARM the AlarmActions, to OK the OKActions, to INSUFFICIENT_DATA the
   InsufficientDataActions; SNS actions are not repeated while the state holds. A new
   alarm starts in INSUFFICIENT_DATA ("The alarm has just started").

self_test() checks decide() against every row of the two documented tables and the
prose examples. `python alarm_eval.py --self-test` runs it.
"""
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
EXTRA_PERIODS = 2  # R4: evaluation range = N + 2 (the documented 5 for N = 3)
EVAL_STEP = 60  # R3: every minute

STATISTICS = {
    "Sum": sum,
    "SampleCount": len,
    "Average": lambda v: sum(v) / len(v),
    "Minimum": min,
    "Maximum": max,
}
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")


@dataclass(frozen=True)
class Datum:
    """One published value. dims: sorted ((name, value), ...). ts: its timestamp (epoch
    s, decides the bucket); arrival: when CloudWatch can use it (epoch s)."""
    namespace: str
    metric: str
    dims: tuple
    value: float
    ts: float
    arrival: float
    unit: str = "None"
    source: str = ""


def dims_key(d):
    """A dimension mapping (dict or pairs) as the sorted tuple R1 compares."""
    return tuple(sorted(d.items() if isinstance(d, dict) else d))


def series_of(alarm):
    return alarm["namespace"], alarm["metric"], dims_key(alarm["dimensions"])


def check_supported(alarm):
    if alarm.get("metrics") or alarm.get("extended_statistic"):
        raise ValueError(f"{alarm['id']}: metric math / percentiles are not supported")
    if alarm["statistic"] not in STATISTICS:
        raise ValueError(f"{alarm['id']}: statistic {alarm['statistic']}")
    if alarm["comparison"] not in COMPARISONS:
        raise ValueError(f"{alarm['id']}: comparison {alarm['comparison']}")
    if alarm["treat_missing_data"] not in TREATMENTS:
        raise ValueError(f"{alarm['id']}: TreatMissingData {alarm['treat_missing_data']}")
    if alarm["period"] < 60 or alarm["period"] % 60:
        raise ValueError(f"{alarm['id']}: period {alarm['period']} (high resolution not modelled)")


def decide(values, n, m, breaches, treat, current):
    """R5-R7: the state for one evaluation. values: the evaluation range, oldest first,
    None = missing; breaches(v) -> bool. Returns (state, reason)."""
    real = [(len(values) - i, v) for i, v in enumerate(values) if v is not None]  # (age, v)
    if len(real) >= n:  # R5: the most recent N real points, treatment not used
        flags = [breaches(v) for _, v in real[-n:]]
        why = f"{sum(flags)} of the {n} most recent real datapoints breach"
        return (ALARM if sum(flags) >= m else OK), why
    flags = [breaches(v) for _, v in real]
    fill = n - len(real)
    if treat in ("breaching", "notBreaching"):  # R6: fill as few as possible
        flags += [treat == "breaching"] * fill
        why = f"{len(real)} real + {fill} missing as {treat}: {sum(flags)} of {n} breach"
        return (ALARM if sum(flags) >= m else OK), why
    # missing / ignore: only the real points are considered
    unknown = INSUFFICIENT if treat == "missing" else current
    if not real:
        return unknown, "every datapoint of the evaluation range is missing"
    if sum(flags) >= m:
        return ALARM, f"{sum(flags)} real datapoints breach"
    if not all(flags):
        return OK, f"{sum(flags)} of {len(real)} real datapoints breach, missing not considered"
    if treat == "missing":
        oldest_breaching_age = real[0][0]  # all real points breach: the oldest one
        if oldest_breaching_age >= m:  # R7 premature-transition rule
            return ALARM, "oldest breaching datapoint at least M periods old, newer ones missing"
    return unknown, f"only {len(real)} real datapoints, all breaching, fewer than M={m}"


@dataclass
class Trace:
    """What an alarm did over a timeline."""
    alarm: dict
    transitions: list = field(default_factory=list)  # (t, old, new, [topics], reason)
    states: list = field(default_factory=list)  # (t, state) at every evaluation

    def first(self, state, after=-math.inf):
        return next((t for t, _o, n, _a, _r in self.transitions if n == state and t >= after), None)

    def state_at(self, t):
        s = INSUFFICIENT
        for when, state in self.states:
            if when > t:
                break
            s = state
        return s

    def ever(self, state):
        return any(n == state for _t, _o, n, _a, _r in self.transitions)

    def pages(self, topic):
        """Transitions that notified `topic`: [(t, new state)]."""
        return [(t, n) for t, _o, n, a, _r in self.transitions if topic in a]


def topic_name(action):
    """A resolved action ("<PagingTopic>" from cfn_template, or an ARN) -> a short name."""
    a = str(action)
    return a[1:-1] if a.startswith("<") and a.endswith(">") else a.rsplit(":", 1)[-1]


def evaluate(alarm, data, start, end, extra=EXTRA_PERIODS, initial=INSUFFICIENT):
    """Evaluates `alarm` every minute from `start` to `end` (epoch s, inclusive) over
    `data` (Datum list); returns a Trace. R1-R8."""
    check_supported(alarm)
    ns, metric, dims = series_of(alarm)
    period, n, m = alarm["period"], alarm["evaluation_periods"], alarm["datapoints_to_alarm"]
    stat = STATISTICS[alarm["statistic"]]
    cmp_, threshold = COMPARISONS[alarm["comparison"]], alarm["threshold"]
    treat = alarm["treat_missing_data"]
    props = alarm.get("properties", {})
    actions = {
        ALARM: [topic_name(a) for a in alarm.get("alarm_actions", [])],
        OK: [topic_name(a) for a in alarm.get("ok_actions", [])],
        INSUFFICIENT: [topic_name(a) for a in props.get("InsufficientDataActions", [])],
    }
    buckets = defaultdict(list)  # R1 + R2: only the alarm's exact series
    for d in data:
        if d.namespace == ns and d.metric == metric and d.dims == dims:
            buckets[int(d.ts // period)].append((d.arrival, d.value))
    trace, state = Trace(alarm), initial
    t = math.ceil(start / EVAL_STEP) * EVAL_STEP
    while t <= end:
        last = int(t // period) - 1  # R3: the newest complete period
        values = []
        for k in range(last - (n + extra) + 1, last + 1):  # R4
            arrived = [v for a, v in buckets.get(k, ()) if a <= t]
            values.append(stat(arrived) if arrived else None)
        new, why = decide(values, n, m, lambda v: cmp_(v, threshold), treat, state)
        if new != state:  # R8
            trace.transitions.append((t, state, new, actions[new], why))
            state = new
        trace.states.append((t, state))
        t += EVAL_STEP
    return trace


def parse_rule(rule):
    """A composite alarm's AlarmRule as a function of {alarm: state} -> bool. Supports
    ALARM(x), OK(x), INSUFFICIENT_DATA(x), TRUE, FALSE, AND, OR, NOT and parentheses, with
    NOT binding tightest, then AND, then OR ("Using composite alarms", the rule syntax).
    x is an alarm name or ARN, quoted or not; cfn_template gives "<LogicalId>"."""
    import re as _re
    tokens = _re.findall(r'\(|\)|AND|OR|NOT|TRUE|FALSE|(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?[^)"]+"?\s*\)', rule)
    if "".join(tokens).replace(" ", "") != rule.replace(" ", ""):
        raise ValueError(f"unsupported AlarmRule: {rule!r}")
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else None

    def take():
        pos[0] += 1
        return tokens[pos[0] - 1]

    def atom():
        t = take()
        if t == "(":
            f = disj()
            if take() != ")":
                raise ValueError(f"unbalanced AlarmRule: {rule!r}")
            return f
        if t == "NOT":
            g = atom()
            return lambda s: not g(s)
        if t in ("TRUE", "FALSE"):
            return lambda s, v=(t == "TRUE"): v
        fn, _, arg = t.partition("(")
        name = arg.rstrip(")").strip().strip('"')
        want = {"ALARM": ALARM, "OK": OK, "INSUFFICIENT_DATA": INSUFFICIENT}[fn]
        return lambda s: s.get(name) == want

    def conj():
        f = atom()
        while peek() == "AND":
            take()
            g, h = f, atom()
            f = lambda s, g=g, h=h: g(s) and h(s)  # noqa: E731
        return f

    def disj():
        f = conj()
        while peek() == "OR":
            take()
            g, h = f, conj()
            f = lambda s, g=g, h=h: g(s) or h(s)  # noqa: E731
        return f

    f = disj()
    if pos[0] != len(tokens):
        raise ValueError(f"unsupported AlarmRule: {rule!r}")
    return f


def evaluate_composite(composite, child_traces, start, end):
    """Evaluates a composite alarm every minute from its children's Traces ({"<LogicalId>"
    or name: Trace}): ALARM while the rule is true, OK otherwise ("a composite alarm ...
    goes into ALARM state when all conditions of the rule are met"); actions on changes."""
    rule = parse_rule(composite["rule"])
    actions = {ALARM: [topic_name(a) for a in composite.get("alarm_actions", [])],
               OK: [topic_name(a) for a in composite.get("ok_actions", [])]}
    trace, state = Trace(composite), INSUFFICIENT
    t = math.ceil(start / EVAL_STEP) * EVAL_STEP
    while t <= end:
        states = {name: tr.state_at(t) for name, tr in child_traces.items()}
        new = ALARM if rule(states) else OK
        if new != state:
            trace.transitions.append((t, state, new, actions[new], composite["rule"]))
            state = new
        trace.states.append((t, state))
        t += EVAL_STEP
    return trace


def static_check(alarms, published, own_namespaces):
    """Alarms that can never fire given what the binary publishes.
    published: set of (namespace, metric, dims tuple) seen from the real runs;
    own_namespaces: namespaces the canary publishes in (others, e.g. AWS/Lambda, are
    reported as not checked). Returns [(alarm id, severity, message)], severity
    "error" (can never fire, or can never be OK), "ok" or "skipped"."""
    out = []
    for a in alarms:
        ns, metric, dims = series_of(a)
        if ns not in own_namespaces:
            out.append((a["id"], "skipped", f"{ns}/{metric}: not published by the canary"))
            continue
        if (ns, metric, dims) in published:
            out.append((a["id"], "ok", f"{metric} {dict(dims)} is published"))
            continue
        same_metric = sorted({d for (n2, m2, d) in published if n2 == ns and m2 == metric})
        if not same_metric:
            why = f"metric {metric!r} is never published in namespace {ns!r}"
        else:
            names = {tuple(k for k, _ in d) for d in same_metric}
            want = tuple(k for k, _ in dims)
            if want not in names:
                why = (f"{metric} is published with dimension sets {sorted(names)}, "
                       f"never {list(want)} (R1: all dimensions must match)")
            else:
                vals = sorted({d for d in same_metric if tuple(k for k, _ in d) == want})
                why = f"{metric} {list(want)} is published only with values {[dict(v) for v in vals]}, never {dict(dims)}"
        if a["treat_missing_data"] == "breaching":
            verdict = "can never be OK: its series never has data and missing data is breaching"
        else:
            verdict = "can NEVER fire"
        out.append((a["id"], "error", f"{verdict}: {why}"))
    return out


# -- self test against the documented tables ----------------------------------------
# "0 is a non-breaching data point, X is a breaching data point, and - is a missing
# data point", oldest first; columns MISSING, IGNORE, BREACHING, NOT BREACHING.
DOC_TABLES = {
    (3, 3): [("0-X-X", OK, OK, OK, OK),
             ("0----", OK, OK, OK, OK),
             ("-----", INSUFFICIENT, "retain", ALARM, OK),
             ("0XX-X", ALARM, ALARM, ALARM, ALARM),
             ("----X", INSUFFICIENT, "retain", ALARM, OK),
             ("X----", ALARM, "retain", ALARM, OK)],
    (2, 3): [("0-X-X", ALARM, ALARM, ALARM, ALARM),
             ("00X0X", ALARM, ALARM, ALARM, ALARM),
             ("0-X--", OK, OK, ALARM, OK),
             ("----0", OK, OK, ALARM, OK),
             ("----X", INSUFFICIENT, "retain", ALARM, OK)],
}
# Prose of "Avoiding premature transitions": 3 of 3, treated as missing.
DOC_PROSE = [("----X", INSUFFICIENT), ("---X-", INSUFFICIENT), ("--X--", ALARM)]


def self_test():
    failures = []
    for (m, n), rows in DOC_TABLES.items():
        for pattern, *expected in rows:
            values = [None if c == "-" else (1.0 if c == "X" else 0.0) for c in pattern]
            for treat, want in zip(("missing", "ignore", "breaching", "notBreaching"), expected):
                for current in (OK, ALARM):
                    got, _ = decide(values, n, m, lambda v: v >= 1, treat, current)
                    exp = current if want == "retain" else want
                    if got != exp:
                        failures.append(f"{m} of {n} {pattern} {treat} (state {current}): {got}, documented {exp}")
    for pattern, want in DOC_PROSE:
        values = [None if c == "-" else 1.0 for c in pattern]
        got, _ = decide(values, 3, 3, lambda v: v >= 1, "missing", OK)
        if got != want:
            failures.append(f"prose 3 of 3 {pattern} missing: {got}, documented {want}")
    return failures


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        f = self_test()
        print("\n".join(f) or "alarm_eval self-test: every documented row reproduced")
        sys.exit(1 if f else 0)
    print(__doc__)
