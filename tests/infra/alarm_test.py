#!/usr/bin/env python3
"""Proves the pages: template.yaml's alarms, evaluated by tests/infra/alarm_eval.py over
timelines of what THE REAL BINARY published (run by `make test`).

1. Collect. Starts moto (IAM enforced) behind a loopback capture proxy: PutMetricData
   (CBOR) is decoded and kept, an STS AssumeRole can be held unanswered (a listener that
   accepts and stays silent), everything else goes to moto. Runs the CLI once per kind
   of run with --sink cloudwatch (CBOR captured) and once with --sink emf (EMF lines on
   stderr), and the Lambda handler under cargo-lambda's emulator (lambda_local_test.py's
   machinery) for the on-demand override (and an invalid deployed configuration).
   Checks what was published against the contract: every datum has the Canary dimension
   first, the CBOR and EMF datums of a kind agree, each kind moves its metric, an invalid
   override publishes nothing under the deployment's name. The ERROR log lines of failing
   Lambda runs must be listed by the dashboard's Logs Insights query "failing probes"
   (the query every alarm description names).
2. Static. Every alarm of the template resolved by cfn_template.alarms() (CanaryName,
   ScheduleMinutes 5, 1 and 60) must watch a series the binary really publishes.
3. Timelines. The collected datums, re-timestamped to each run's time (same values and
   dimensions), on a jittered schedule (seeded), each datum with an arrival time apart
   from its timestamp; every alarm evaluated every minute; assertions on which alarms
   reach ALARM, on which topic, how fast, and that they return to OK.
4. Non-vacuity. Copies of the template with a dimension renamed, a metric renamed,
   DatapointsToAlarm and TreatMissingData changed must fail the static check or flip a
   timeline.

Usage: .venv/bin/python tests/infra/alarm_test.py [BINARY] [--template FILE] [--no-lambda]
       [--lambda-src DIR] [--synthetic] [--seed N]
BINARY defaults to target/debug/dynamodb-auth-canary. --synthetic uses datums written
from the metrics contract instead of running anything (to develop the timelines). The
emulator builds --lambda-src with cargo (CARGO_TARGET_DIR honoured); after
lambda_local_test.py (make test) that build is already there.
Exit status 1 on any failure; a table of the timelines is printed either way.
"""
import argparse
import copy
import gzip
import http.client
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws")]  # the proofs; localaws, moto_server
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
import alarm_eval as ev  # noqa: E402
import cfn_template  # noqa: E402

DEPLOY, OTHER = "orders-prod", "other"  # CanaryName of this deployment; a neighbour
NS = "DynamoDBAuthCanary"
ACCOUNT = "123456789012"
PAGING, NOTIFY = "PagingTopic", "NotifyTopic"
# The contract (the shared paging design's alarm table): metric, statistic,
# threshold, M, N, TreatMissingData, topic. N/M None = from ScheduleTable (heartbeat).
SPEC = {
    "HeartbeatAlarm": ("CanaryRuns", "SampleCount", 1, None, None, "breaching", PAGING),
    "AuthFailuresAlarm": ("AuthFailures", "Sum", 1, 1, 2, "notBreaching", PAGING),
    "UnexpectedAccessAlarm": ("UnexpectedAccess", "Sum", 1, 1, 2, "notBreaching", PAGING),
    "IdentityMismatchAlarm": ("IdentityMismatch", "Sum", 1, 1, 2, "notBreaching", PAGING),
    "ProbesNotRunAlarm": ("ProbesNotRun", "Sum", 1, 2, 3, "notBreaching", PAGING),
    "ConfigErrorsAlarm": ("ConfigErrors", "Sum", 1, 1, 2, "notBreaching", PAGING),
    "UnhealthyAlarm": ("UnhealthyRuns", "Sum", 1, 3, 5, "notBreaching", NOTIFY),
    "FunctionErrorsAlarm": ("Errors", "Sum", 1, 1, 2, "notBreaching", NOTIFY),
}
HEARTBEAT = {"1": (5, 5), "5": (3, 3), "60": (3, 3)}  # ScheduleTable HeartbeatPeriods (M, N)

FAILURES = []
VERBOSE = False


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)
    elif VERBOSE:
        print(f"ok: {msg}")
    return cond


# ------------------------------------------------------------------ local AWS + capture

class Capture(ThreadingHTTPServer):
    """Loopback endpoint for every service: keeps PutMetricData (CBOR), holds an STS
    AssumeRole unanswered while `stall_assume_role`, forwards the rest to moto with the
    Host header untouched (SigV4 still verifies)."""
    daemon_threads = True

    def __init__(self, upstream):
        super().__init__(("127.0.0.1", 0), _CaptureHandler)
        self.upstream, self.puts, self.stall_assume_role, self.stalled = upstream, [], False, 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _CaptureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _any(self):
        body = self._body()
        srv = self.server
        if "/operation/PutMetricData" in self.path:
            if self.headers.get("Content-Encoding", "") == "gzip":
                body = gzip.decompress(body)
            srv.puts.append(body)
            return self._reply(200, [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")], b"\xa0")
        if srv.stall_assume_role and b"Action=AssumeRole" in body:
            srv.stalled += 1  # accept and stay silent until the client gives up
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                r, _, _ = select.select([self.connection], [], [], 0.5)
                if r and not self.connection.recv(1, socket.MSG_PEEK):
                    break
            self.close_connection = True
            return
        up = http.client.HTTPConnection(srv.upstream.split("//")[1], timeout=60)
        up.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
        resp = up.getresponse()
        self._reply(resp.status, resp.getheaders(), resp.read())
        up.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any


def cbor_datums(body):
    """The datums of one PutMetricData request: (namespace, metric, [(dim, value)...] in
    wire order, value, unit)."""
    import cbor2

    req = cbor2.loads(body)
    out = []
    for d in req.get("MetricData", []):
        dims = [(x["Name"], x["Value"]) for x in d.get("Dimensions", [])]
        values = d.get("Values") or [d.get("Value")]
        for v in values:
            out.append((req["Namespace"], d["MetricName"], dims, float(v), d.get("Unit", "None")))
    return out


def emf_datums(text):
    """The datums of the EMF lines in `text` (other lines are ignored)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        j = json.loads(line)
        for directive in j["_aws"]["CloudWatchMetrics"]:
            for dimset in directive["Dimensions"]:
                dims = [(k, str(j[k])) for k in dimset]
                for m in directive["Metrics"]:
                    vals = j[m["Name"]] if isinstance(j[m["Name"]], list) else [j[m["Name"]]]
                    out.extend((directive["Namespace"], m["Name"], dims, float(v), m.get("Unit", "None")) for v in vals)
    return out


# ------------------------------------------------------------------ the runs

class Local:
    """moto + capture proxy + the IAM users and tables the runs need."""

    def __init__(self):
        import lambda_local_test as llt
        import localaws

        self.llt = llt
        port = llt.free_port()
        self.moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "localaws", "moto_server.py"),
                                      "--port", str(port), "--exit-with-parent"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        llt.wait_port(port, self.moto, "moto", 60)
        self.moto_url = f"http://127.0.0.1:{port}"
        admin = localaws.bootstrap(SimpleNamespace(endpoint=self.moto_url))
        arn = lambda t: f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{t}"  # noqa: E731
        spec = {
            "users": [{"name": "canary", "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem"], "Resource": [arn("orders")]},
                # a must-deny target this user CAN read: unexpected access
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [arn("ledger")]},
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}}],
            "tables": [{"name": t, "key": [{"name": "pk", "type": "S"}]} for t in ("orders", "payroll", "ledger", "remote")],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        created = localaws.apply(SimpleNamespace(endpoint=self.moto_url, admin_key=admin["access_key_id"],
                                                 admin_secret=admin["secret_access_key"], spec=f.name))
        self.user = created["users"]["canary"]
        self.capture = Capture(self.moto_url)
        self.home = tempfile.mkdtemp(prefix="alarm-test-home-")

    def close(self):
        self.capture.shutdown()
        self.moto.terminate()
        self.moto.wait(timeout=10)


ORDERS = {"table": "orders", "probes": ["describe", "read"]}
PAYROLL_DENY = {"table": "payroll", "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "__canary__"}}}
LEDGER_DENY = {"table": "ledger", "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "__canary__"}}}
REMOTE = {"table": "remote", "probes": ["describe"], "role_arn": f"arn:aws:iam::{ACCOUNT}:role/CanaryRemote"}
HEALTHY = {"targets": [ORDERS, PAYROLL_DENY]}
# kind -> (configuration, canary name, wrong secret?, stall AssumeRole?, what it must move)
CLI_KINDS = {
    "healthy": (HEALTHY, DEPLOY, False, False, {}),
    "auth": (HEALTHY, DEPLOY, True, False, {"AuthFailures"}),
    "unexpected": ({"targets": [ORDERS, LEDGER_DENY]}, DEPLOY, False, False, {"UnexpectedAccess"}),
    "identity": (dict(HEALTHY, expect={"account": "210987654321"}), DEPLOY, False, False, {"IdentityMismatch"}),
    "notrun": ({"targets": [ORDERS, REMOTE]}, DEPLOY, False, True, {"ProbesNotRun"}),
    "other_healthy": (HEALTHY, OTHER, False, False, {}),
}


class Run:
    """What one run published. datums: (namespace, metric, [(dim, value)], value, unit)."""

    def __init__(self, kind, sink, datums, healthy=None, invocation_error=False, note=""):
        self.kind, self.sink, self.datums = kind, sink, datums
        self.healthy, self.invocation_error, self.note = healthy, invocation_error, note

    def value(self, metric, dims=None):
        """Sum of a metric's values on its [Canary] series (or the given dimension names)."""
        want = dims or ["Canary"]
        return sum(v for _n, m, d, v, _u in self.datums if m == metric and [k for k, _ in d] == want)


def cli_supports(binary, flag):
    out = subprocess.run([binary, "check", "--help"], capture_output=True, text=True, timeout=30).stdout
    return flag in out


def run_cli(local, binary, kind, sink):
    config, canary, wrong_secret, stall, _ = CLI_KINDS[kind]
    cfg = dict(config, metrics={"sink": sink})
    path = os.path.join(local.home, f"{kind}-{sink}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": local.home, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.path.join(local.home, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(local.home, "no-credentials"),
           "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": local.user["access_key_id"],
           "AWS_SECRET_ACCESS_KEY": "wrong" + local.user["secret_access_key"][5:] if wrong_secret
           else local.user["secret_access_key"]}
    args = [binary, "check", "--config", path, "--output", "json", "--endpoint-url", local.capture.url]
    if cli_supports(binary, "--canary"):
        args += ["--canary", canary]
    else:
        env["CANARY_NAME"] = canary
    if stall:
        args += ["--timeout-ms", "800"]
    cap = local.capture
    cap.stall_assume_role, before = stall, len(cap.puts)
    started = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    cap.stall_assume_role = False
    took = time.monotonic() - started
    try:
        report = json.loads(p.stdout)
    except ValueError:
        fail(f"{kind}/{sink}: stdout is not the JSON report (rc={p.returncode}): {p.stderr[-400:]}")
        report = {}
    if sink == "cloudwatch":
        datums = [d for body in cap.puts[before:] for d in cbor_datums(body)]
        if report.get("metrics", {}).get("sink") not in (None, "cloudwatch"):
            fail(f"{kind}/cloudwatch: report says metrics went to {report['metrics']}")
    else:
        datums = emf_datums(p.stderr)
    note = f"rc={p.returncode} {took:.1f}s"
    if stall:
        note += f", AssumeRole held {cap.stalled}x"
    return Run(kind, "cbor" if sink == "cloudwatch" else "emf", datums, report.get("healthy"), note=note)


def json_lines(text):
    """The JSON log lines (objects with a "message") of a function's output."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"message"' in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def run_lambda(local, src, events, label, canary_config, timeout=900):
    """Serves the handler with cargo lambda watch (as lambda_local_test.py does) with
    CANARY_NAME=DEPLOY and the given CANARY_CONFIG, invokes each event, and returns
    [(event name, rc, response text, datums)]: EMF from the function's stdout, CBOR
    from the capture proxy."""
    llt = local.llt
    home = tempfile.mkdtemp(prefix=f"alarm-test-lambda-{label}-")
    env = {"PATH": llt.VENV_BIN + os.pathsep + os.environ.get("PATH", ""), "HOME": home,
           "CARGO_HOME": os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")),
           "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", os.path.expanduser("~/.rustup")),
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials")}
    if os.environ.get("CARGO_TARGET_DIR"):
        env["CARGO_TARGET_DIR"] = os.environ["CARGO_TARGET_DIR"]
    fn_env = {"AWS_ACCESS_KEY_ID": local.user["access_key_id"],
              "AWS_SECRET_ACCESS_KEY": local.user["secret_access_key"],
              "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": local.capture.url,
              "AWS_EC2_METADATA_DISABLED": "true", "CANARY_NAME": DEPLOY, "CANARY_NAMESPACE": NS,
              "CANARY_CONFIG": json.dumps(canary_config)}
    env_file = os.path.join(home, "function.env")
    with open(env_file, "w") as f:
        f.writelines(f"{k}='{v}'\n" for k, v in fn_env.items())
    port = llt.free_port()
    log_path = os.path.join(home, "watch.log")
    log = open(log_path, "w")
    started = time.monotonic()
    watch = subprocess.Popen([llt.CARGO_LAMBDA, "lambda", "watch", "--invoke-address", "127.0.0.1",
                              "--invoke-port", str(port), "--ignore-changes", "--env-file", env_file],
                             cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    out = []
    try:
        llt.wait_port(port, watch, "cargo lambda watch", timeout)
        ready = time.monotonic() - started
        for i, (name, event) in enumerate(events):
            before_puts, before_log = len(local.capture.puts), os.path.getsize(log_path)
            local.capture.stall_assume_role = name.startswith("notrun")
            rc, text, err = llt.invoke(port, data=json.dumps(event),
                                       timeout=llt.FIRST_INVOKE_TIMEOUT if i == 0 else 120)
            local.capture.stall_assume_role = False
            time.sleep(0.5)  # let the function's stdout reach the log
            with open(log_path) as f:
                f.seek(before_log)
                logged = f.read()
            cbor = [d for body in local.capture.puts[before_puts:] for d in cbor_datums(body)]
            out.append((name, rc, text + err, emf_datums(logged) + cbor, json_lines(logged)))
        return out, ready, time.monotonic() - started
    finally:
        try:
            os.killpg(watch.pid, 15)
        except ProcessLookupError:
            pass
        watch.wait(timeout=30)


def collect(binary, lambda_src, with_lambda):
    """Runs every kind for real. Returns ({kind: {"cbor": Run, "emf": Run}}, timings)."""
    local = Local()
    runs, timings = {}, {}
    try:
        t = time.monotonic()
        for kind in CLI_KINDS:
            runs[kind] = {s: run_cli(local, binary, kind, sink)
                          for s, sink in (("cbor", "cloudwatch"), ("emf", "emf"))}
        timings["cli runs"] = time.monotonic() - t
        if with_lambda:
            override = {"config": dict(HEALTHY, metrics={"sink": "cloudwatch"})}
            override_emf = {"config": dict(HEALTHY, metrics={"sink": "emf"})}
            res, ready, total = run_lambda(local, lambda_src, [
                ("ondemand_cbor", override), ("ondemand_emf", override_emf),
                ("scheduled", json.load(open(os.path.join(ROOT, "events", "scheduled.json")))),
                ("invalid_override", {"config": {"targets": [{"table": "orders", "regions": ["us-east-9"]}],
                                                 "metrics": {"sink": "cloudwatch"}}}),
                # failing runs in Lambda mode: their log lines, for the "failing probes" query
                ("auth_override", {"config": {"targets": [dict(PAYROLL_DENY, expect="allow")]}}),
                ("unexpected_override", {"config": {"targets": [ORDERS, LEDGER_DENY]}}),
                ("identity_override", {"config": dict(HEALTHY, expect={"account": "210987654321"})}),
                ("notrun_override", {"config": {"targets": [ORDERS, dict(REMOTE, timeout_ms=800)]}})],
                "ok", dict(HEALTHY, metrics={"sink": "cloudwatch"}))
            timings["lambda watch ready"], timings["lambda total"] = ready, total
            for name, rc, text, datums, logged in res:
                if name.endswith("_override") and name != "invalid_override":
                    LOG_LINES[name.split("_")[0]] = [x for x in logged if x.get("level") == "ERROR"]
                    continue
                if name == "invalid_override":
                    # answered with an error to its caller; must not feed this deployment's series
                    check(rc != 0 and "InvalidConfigOverride" in text,
                          f"lambda invalid override fails with InvalidConfigOverride (rc={rc})")
                    fed = [d for d in datums if dict(d[2]).get("Canary") == DEPLOY]
                    check(not fed, f"lambda invalid override publishes nothing under Canary={DEPLOY} ({fed[:3]})")
                    continue
                if rc != 0:
                    fail(f"lambda {name}: invocation failed rc={rc}: {text[-300:]}")
                healthy = _healthy(text)
                kind = "ondemand_healthy" if name.startswith("ondemand") else "lambda_scheduled"
                runs.setdefault(kind, {})["emf" if name.endswith("emf") else "cbor"] = Run(
                    kind, "emf" if name.endswith("emf") else "cbor", datums, healthy, note=f"rc={rc}")
            # An invalid deployed configuration: its namespace disagrees with CANARY_NAMESPACE.
            bad = dict(HEALTHY, metrics={"namespace": "SomethingElse", "sink": "cloudwatch"})
            t = time.monotonic()
            res, _r, _t = run_lambda(local, lambda_src, [("scheduled", {})], "badconfig", bad)
            timings["lambda config error"] = time.monotonic() - t
            for name, rc, text, datums, logged in res:
                LOG_LINES["configerror"] = [x for x in logged if x.get("level") == "ERROR"]
                err = re.search(r"(Misconfigured|FunctionMisconfigured|InvalidConfigOverride|[A-Z]\w+Error)", text)
                runs["configerror"] = {"cbor": Run("configerror", "cbor", datums, False, invocation_error=(rc != 0),
                                                   note=f"rc={rc} {err.group(1) if err else ''}")}
    finally:
        local.close()
    return runs, timings


LOG_LINES = {}  # kind -> the ERROR JSON log lines of a failing run in Lambda mode


def logs_query_check(sam):
    """The dashboard's Logs Insights query "failing probes" (the one every alarm
    description names) must list a line for each kind of failing run the Lambda logged."""
    stack = cfn_template.resolve(dict(params("5"), Dashboard="true"), sam)  # the dashboard is opt-in
    queries = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "query" and isinstance(v, str) and "fields" in v:
                    queries.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for r in stack.resources("AWS::CloudWatch::Dashboard").values():
        body = r["Properties"].get("DashboardBody")
        try:
            walk(json.loads(body) if isinstance(body, str) else body)
        except ValueError as e:
            fail(f"the dashboard body is not JSON: {e}")
    if not check(bool(queries), "the dashboard has a Logs Insights query of the failing probes"):
        return None
    query = queries[0]
    wanted = set(re.findall(r'message\s*=\s*"([^"]+)"', query))
    for inside in re.findall(r"message\s+in\s*\[([^\]]*)\]", query):
        wanted |= set(re.findall(r'"([^"]+)"', inside))
    for kind, lines in sorted(LOG_LINES.items()):
        if kind == "configerror":  # nothing was probed: its descriptions point at the error line itself
            continue
        messages = sorted({x.get("message") for x in lines})
        listed = [m for m in messages if m in wanted]
        check(bool(listed), f"Lambda {kind} run: the query lists its log lines (messages {messages}, query filters {sorted(wanted)})")
        missed = [m for m in messages if m not in wanted and m != "canary report"]  # the whole report
        if missed:
            print(f"note: Lambda {kind} run: ERROR lines the query does not list: {missed}")
        fields = set(re.findall(r"fields ([^|]+)", query)[0].replace(" ", "").split(","))
        for x in lines:
            if x.get("message") in wanted:
                shown = fields - {"@timestamp"}
                if not x["message"].startswith("probe"):  # the identity check has no table/probe
                    shown -= {"table", "region", "probe", "expect"}
                absent = sorted(f for f in shown if f not in x)
                check(not absent, f"Lambda {kind} run: its '{x['message']}' line has every field the query shows (absent {absent})")
    return query


def _healthy(text):
    try:
        return json.loads(text).get("healthy")
    except ValueError:
        return None


def synthetic_runs():
    """Datums as the contract describes them (for developing without the binary)."""
    def summary(canary, **v):
        base = dict(CanaryRuns=1, UnhealthyRuns=0, AuthFailures=0, UnexpectedAccess=0, IdentityMismatch=0,
                    ProbeFailures=0, ProbesNotRun=0)
        base.update(v)
        out = [(NS, m, [("Canary", canary)], float(x), "Count") for m, x in base.items()]
        if base["AuthFailures"]:
            out.append((NS, "AuthFailures", [("Canary", canary), ("Class", "auth_signature")], 1.0, "Count"))
        return out

    kinds = {
        "healthy": summary(DEPLOY),
        "auth": summary(DEPLOY, UnhealthyRuns=1, AuthFailures=1, ProbeFailures=1),
        "unexpected": summary(DEPLOY, UnhealthyRuns=1, UnexpectedAccess=1, ProbeFailures=1),
        "identity": summary(DEPLOY, UnhealthyRuns=1, IdentityMismatch=1, ProbeFailures=1),
        "notrun": summary(DEPLOY, UnhealthyRuns=1, ProbesNotRun=1),
        "other_healthy": summary(OTHER),
        "ondemand_healthy": summary(DEPLOY + "/on-demand"),
        "configerror": [(NS, m, [("Canary", DEPLOY)], 1.0, "Count") for m in ("CanaryRuns", "UnhealthyRuns", "ConfigErrors")],
    }
    return {k: {s: Run(k, s, d, k in ("healthy", "other_healthy", "ondemand_healthy"), k == "configerror", "synthetic")
                for s in ("cbor", "emf")} for k, d in kinds.items()}


def check_runs(runs):
    """What the binary published, against the contract."""
    moves = {k: v[4] for k, v in CLI_KINDS.items()}
    moves.update(ondemand_healthy=set(), configerror={"ConfigErrors"}, lambda_scheduled=set())
    for kind, by_sink in runs.items():
        for sink, run in by_sink.items():
            tag = f"{kind}/{sink}"
            if not run.datums:
                fail(f"{tag}: published nothing ({run.note})")
                continue
            first = {d[0][0] if d else None for _n, _m, d, _v, _u in run.datums}
            check(first == {"Canary"}, f"{tag}: every datum's first dimension is Canary (saw {sorted(map(str, first))})")
            want = {"ondemand_healthy": DEPLOY + "/on-demand", "other_healthy": OTHER}.get(kind, DEPLOY)
            vals = {dict(d).get("Canary") for _n, _m, d, _v, _u in run.datums}
            check(vals == {want}, f"{tag}: Canary = {want!r} (saw {sorted(map(str, vals))})")
            check(run.value("CanaryRuns") == 1, f"{tag}: CanaryRuns = 1 on [Canary]")
            unhealthy = run.value("UnhealthyRuns")
            check(unhealthy == (0 if not moves.get(kind) else 1),
                  f"{tag}: UnhealthyRuns = {unhealthy} (healthy in report: {run.healthy})")
            for metric in moves.get(kind, ()):
                check(run.value(metric) >= 1, f"{tag}: {metric} >= 1 (got {run.value(metric)})")
            for metric in ("AuthFailures", "UnexpectedAccess", "IdentityMismatch", "ProbesNotRun", "ConfigErrors"):
                if metric not in moves.get(kind, ()) and run.value(metric):
                    print(f"note: {tag}: {metric} = {run.value(metric)} as well")
        if {"cbor", "emf"} <= set(by_sink):
            series = lambda r: {(m, tuple(d), v if u == "Count" else None) for _n, m, d, v, u in r.datums}  # noqa: E731
            a, b = series(by_sink["cbor"]), series(by_sink["emf"])
            check(a == b, f"{kind}: CBOR and EMF carry the same datums" + ("" if a == b else f" (only CBOR: {sorted(a - b)[:4]}, only EMF: {sorted(b - a)[:4]})"))


# ------------------------------------------------------------------ timelines

T0 = 1_800_000_000 - 1_800_000_000 % 3600  # alarms created here (an hour boundary)
HISTORY = 3 * 3600  # healthy runs before T0, so the alarms start from a real past


class Timeline:
    """Runs placed on a jittered schedule; `kind_at(t)` says which kind of run happens at t
    (None: no run). Datums are re-timestamped to the run (same values and dimensions)."""

    def __init__(self, runs, seed, schedule_min, sink="cbor", emf_delay=(2, 60), jitter=45):
        self.runs, self.rng, self.period = runs, random.Random(seed), schedule_min * 60
        self.sink, self.emf_delay, self.jitter = sink, emf_delay, jitter
        self.data, self.fn_dims = [], None

    def add(self, kind_at, start, end, sink=None, offset=None, period=None, own=True):
        """Adds runs between start and end every `period` (default: the schedule);
        own: invocations of this deployment's function. Returns [(time, kind)]."""
        rng, p = self.rng, period or self.period
        off = rng.uniform(0, p) if offset is None else offset
        times, k = [], 0
        while True:
            t = start + off + k * p + rng.uniform(0, self.jitter)  # EventBridge: some seconds late
            k += 1
            if t > end:
                break
            kind = kind_at(t)
            if kind is None:
                continue
            times.append((t, kind))
            self.place(kind, t, sink or self.sink, own)
        return times

    def place(self, kind, t, sink, own):
        run = self.runs[kind].get(sink) or next(iter(self.runs[kind].values()))
        rng = self.rng
        ts = t + rng.uniform(0.5, 3.0)  # the run's duration: datums are stamped at its end
        if run.sink == "emf":
            arrival = ts + rng.uniform(*self.emf_delay)  # via CloudWatch Logs
        else:
            arrival = ts + rng.uniform(0.5, 5.0)  # PutMetricData
        for ns, m, dims, v, unit in run.datums:
            self.data.append(ev.Datum(ns, m, ev.dims_key(dims), v, ts, arrival, unit, run.sink))
        if self.fn_dims and own:
            # AWS/Lambda Errors, one per invocation of this function (synthetic: Lambda
            # publishes it, not the binary): 1 when the invocation returned an error.
            self.data.append(ev.Datum("AWS/Lambda", "Errors", self.fn_dims, 1.0 if run.invocation_error else 0.0,
                                      ts, ts + rng.uniform(30, 90), "Count", "lambda"))


def evaluate_all(alarms, tl, start, end, extra=ev.EXTRA_PERIODS):
    return {a["id"]: ev.evaluate(a, tl.data, start, end, extra=extra) for a in alarms}


def fmt(sec):
    return "-" if sec is None else f"{sec / 60:.1f} min"


class Result:
    """A timeline's (or a broken copy's) verdict; main() prints and counts the errors."""

    def __init__(self, name, info=False):
        self.name, self.errors, self.summary, self.info = name, [], "", info

    @property
    def ok(self):
        return not self.errors

    def expect(self, cond, msg):
        if not cond:
            self.errors.append(msg)
        return cond


def judge(name, traces, page=None, quiet=(), recover_after=None, bound=None, started=None,
          recover_bound=None, topic=PAGING):
    """page: the alarm that must reach ALARM on `topic` within `bound` s of `started`;
    quiet: alarms that must never reach ALARM; recover_after: time of the first good run
    after which `page` must return to OK (OKActions on `topic`) within recover_bound."""
    r = Result(name)
    fired = sorted(a for a, tr in traces.items() if tr.first(ev.ALARM, T0) is not None)
    if page:
        tr = traces.get(page)
        if r.expect(tr is not None, f"{page} is not in the template"):
            t_alarm = tr.first(ev.ALARM, started or T0)
            early = tr.first(ev.ALARM, T0)
            r.expect(early is None or early >= started, f"{page} paged before the failure began: {fmt(early - T0)} after T0"
                     if early else "")
            if r.expect(t_alarm is not None, f"{page} never reached ALARM (states: {tr.transitions[-3:]})"):
                took = t_alarm - started
                paged = [t for t, s in tr.pages(topic) if s == ev.ALARM and t == t_alarm]
                r.expect(bool(paged), f"{page} ALARM did not notify {topic} ({tr.alarm['alarm_actions']})")
                r.expect(bound is None or took <= bound, f"{page} took {fmt(took)} > bound {fmt(bound)}")
                r.summary = f"{page} ALARM->{topic} after {fmt(took)} (bound {fmt(bound)})"
                if recover_after:
                    t_ok = tr.first(ev.OK, max(recover_after, t_alarm))
                    if r.expect(t_ok is not None, f"{page} did not return to OK after recovery"):
                        r.expect(any(s == ev.OK and t == t_ok for t, s in tr.pages(topic)),
                                 f"{page} OK did not notify {topic}")
                        back = t_ok - recover_after
                        r.expect(recover_bound is None or back <= recover_bound,
                                 f"{page} back to OK after {fmt(back)} > {fmt(recover_bound)}")
                        r.summary += f"; OK {fmt(back)} after recovery"
    for q in quiet:
        if q in traces and traces[q].first(ev.ALARM, T0) is not None:
            r.expect(False, f"{q} reached ALARM but must stay quiet: {traces[q].transitions[:4]}")
    r.summary = (r.summary or "no page") + f" | in ALARM at some point: {', '.join(fired) or 'none'}"
    return r


def value_bound(alarm, delay):
    """Documented time to page for a threshold alarm, from the first failing run: the
    M-th failing period must end (M periods) + one evaluation (1 min) + delivery delay +
    run duration; one more period when jitter leaves a period without a run."""
    return (alarm["datapoints_to_alarm"] + 1) * alarm["period"] + ev.EVAL_STEP + delay + 3


# Kinds whose alarmed metric is published only when non-zero (ConfigErrors): after
# recovery its series has no data, and R5 keeps evaluating the old breaching points
# until they leave the evaluation range.
SPARSE = {"configerror"}


def recover_bound(alarm, delay, sparse=False, extra=ev.EXTRA_PERIODS):
    """From the first good run back to OK: N non-breaching periods must end (N + 1
    periods with jitter) + one evaluation + delivery; a sparse metric waits until its
    breaching points leave the evaluation range (N + extra periods)."""
    n = alarm["evaluation_periods"] + (extra if sparse else 0)
    return (n + 1) * alarm["period"] + ev.EVAL_STEP + delay + 3


def heartbeat_bound(alarm, extra):
    """After the last run: its period ends (<= 1 period), then every period of the
    evaluation range (N + extra, R4) must be empty, + one evaluation."""
    return (alarm["evaluation_periods"] + extra + 1) * alarm["period"] + ev.EVAL_STEP


def by_id(alarms):
    return {a["id"]: a for a in alarms}


def timelines(runs, alarms_for, seed, only=None):
    """All timelines. alarms_for(schedule_minutes) -> resolved alarms. Returns [Result]."""
    results = []
    want = lambda n: only is None or n in only  # noqa: E731
    paging_value_alarms = ["AuthFailuresAlarm", "UnexpectedAccessAlarm", "IdentityMismatchAlarm",
                           "ProbesNotRunAlarm", "ConfigErrorsAlarm"]

    # 1. healthy every period for a day: no alarm ever leaves OK.
    # (schedule, sink, run offset in the period (None: random), EMF delay, range extra)
    # offset 290 s + up to 45 s of jitter: runs straddle the period boundary, so some
    # periods have no run and others two; "late": EMF up to one period late.
    for sched, sink, off, emf_delay, extra in (
            ("5", "cbor", None, (2, 60), 2), ("5", "cbor", 290.0, (2, 60), 2), ("5", "cbor", 290.0, (2, 60), 0),
            ("5", "emf", None, (240, 300), 2), ("5", "emf", 290.0, (240, 300), 0),
            ("1", "cbor", None, (2, 60), 2), ("1", "emf", 50.0, (48, 60), 2), ("1", "emf", 50.0, (48, 60), 0),
            ("60", "cbor", None, (2, 60), 2), ("60", "emf", 3590.0, (2, 60), 0)):
        name = (f"healthy day S={sched} {sink}" + (" late" if emf_delay[0] > 40 else "")
                + (f" offset {off:.0f}s" if off else "") + f" range N+{extra}")
        if not want("healthy"):
            break
        alarms = alarms_for(sched)
        tl = _tl(runs, seed, name, sched, sink, alarms, emf_delay)
        tl.add(lambda t: "healthy", T0 - HISTORY, T0 + 86400, offset=off)
        tr = evaluate_all(alarms, tl, T0, T0 + 86400, extra=extra)
        r = judge(name, tr, quiet=list(tr))
        for a, t in tr.items():
            bad = [x for x in t.transitions if x[2] != ev.OK]
            r.expect(not bad, f"{a} left OK: {bad[:2]}")
            r.expect(t.state_at(T0 + 86400) == ev.OK, f"{a} is {t.state_at(T0 + 86400)} at the end")
        r.summary = "no alarm left OK" if r.ok else r.summary
        results.append(r)

    # 2. failure kinds from minute t, for an hour, then healthy again.
    alarms = alarms_for("5")
    a = by_id(alarms)
    t_fail, t_good = T0 + 3600 + 7 * 60 + 13, T0 + 2 * 3600 + 7 * 60 + 13
    cases = [("auth failure (PutMetricData)", "auth", "cbor", (2, 60), "AuthFailuresAlarm"),
             ("auth failure (EMF)", "auth", "emf", (2, 60), "AuthFailuresAlarm"),
             ("unexpected access", "unexpected", "cbor", (2, 60), "UnexpectedAccessAlarm"),
             ("identity mismatch", "identity", "cbor", (2, 60), "IdentityMismatchAlarm"),
             ("AssumeRole timed out: probes not run", "notrun", "cbor", (2, 60), "ProbesNotRunAlarm"),
             ("EMF one period late: auth failure", "auth", "emf", (240, 300), "AuthFailuresAlarm"),
             ("EMF one period late: unexpected access", "unexpected", "emf", (240, 300), "UnexpectedAccessAlarm"),
             ("invalid deployed configuration", "configerror", "cbor", (2, 60), "ConfigErrorsAlarm")]
    for name, kind, sink, emf_delay, alarm_id in cases:
        if not want(kind) or kind not in runs:
            if kind not in runs:
                print(f"skip: {name}: no {kind} run collected")
            continue
        tl = _tl(runs, seed, name, "5", sink, alarms, emf_delay)
        times = tl.add(lambda t: kind if t_fail <= t < t_good else "healthy", T0 - HISTORY, T0 + 4 * 3600)
        first_bad = min(t for t, k in times if k == kind)
        first_good = min(t for t, k in times if k == "healthy" and t >= t_good)
        tr = evaluate_all(alarms, tl, T0, T0 + 4 * 3600)
        delay = emf_delay[1] if sink == "emf" else 5
        quiet = SPEC_EXTRA_QUIET[kind]
        al = a.get(alarm_id)
        results.append(judge(name, tr, page=alarm_id, started=first_bad, recover_after=first_good,
                             bound=value_bound(al, delay) if al else None, quiet=quiet,
                             recover_bound=recover_bound(al, delay, sparse=kind in SPARSE) if al else None))

    # 3. a single failing run pages (1 of 2); the DatapointsToAlarm flip uses it.
    if want("single"):
        tl = _tl(runs, seed, "single", "5", "cbor", alarms, (2, 60))
        t_one = T0 + 3600 + 100
        done = []

        def one(t):
            if t >= t_one and not done:
                done.append(t)
                return "auth"
            return "healthy"
        tl.add(one, T0 - HISTORY, T0 + 3 * 3600)
        tr = evaluate_all(alarms, tl, T0, T0 + 3 * 3600)
        al = a.get("AuthFailuresAlarm")
        results.append(judge("a single failing run", tr, page="AuthFailuresAlarm", started=done[0],
                             bound=value_bound(al, 5) if al else None, recover_after=done[0] + 1))

    # 4. this canary stops; a second deployment keeps publishing healthy runs in the same
    #    namespace (and on-demand override runs keep coming): this heartbeat must fire.
    for sched in ("5", "1", "60"):
        if not want("heartbeat"):
            break
        alarms_s = alarms_for(sched)
        hb = by_id(alarms_s).get("HeartbeatAlarm")
        for extra in (ev.EXTRA_PERIODS, 0):
            tl = _tl(runs, seed, f"hb {sched} {extra}", sched, "cbor", alarms_s, (2, 60))
            t_stop = T0 + 6 * 3600 + 11 * 60
            mine = tl.add(lambda t: "healthy" if t < t_stop else None, T0 - HISTORY, T0 + 24 * 3600)
            tl.add(lambda t: "other_healthy", T0 - HISTORY, T0 + 24 * 3600, own=False)
            if "ondemand_healthy" in runs:
                tl.add(lambda t: "ondemand_healthy" if t >= t_stop else None, T0 - HISTORY, T0 + 24 * 3600)
            last = max(t for t, _k in mine)
            tr = evaluate_all(alarms_s, tl, T0, T0 + 24 * 3600, extra=extra)
            results.append(judge(f"canary stops, '{OTHER}' + on-demand keep running S={sched} range N+{extra}", tr,
                                 page="HeartbeatAlarm", started=last,
                                 bound=heartbeat_bound(hb, extra) if hb else None,
                                 quiet=[x for x in paging_value_alarms]))

    # 6. (information) a fresh stack: the alarms exist before the first run.
    if want("fresh"):
        al5 = alarms_for("5")
        tl = _tl(runs, seed, "fresh", "5", "cbor", al5, (2, 60))
        tl.add(lambda t: "healthy", T0, T0 + 3 * 3600)
        tr = evaluate_all(al5, tl, T0, T0 + 3 * 3600)
        r = Result("fresh deploy: alarms created before the first run", info=True)
        pages = [f"{a} {n}@{(t - T0) / 60:.0f}min->{','.join(x) or '-'}" for a, tr_ in tr.items()
                 for t, _o, n, x, _w in tr_.transitions]
        r.summary = "; ".join(pages)
        results.append(r)

    # 5. on-demand override runs reporting healthy during an outage: the outage still pages.
    if want("ondemand") and "ondemand_healthy" in runs:
        tl = _tl(runs, seed, "ondemand", "5", "cbor", alarms, (2, 60))
        times = tl.add(lambda t: "auth" if t_fail <= t < t_good else "healthy", T0 - HISTORY, T0 + 4 * 3600)
        # someone debugging with on-demand overrides, every minute, during the outage
        tl.add(lambda t: "ondemand_healthy" if t_fail <= t < t_good else None, T0 - HISTORY, T0 + 4 * 3600,
               period=60)
        first_bad = min(t for t, k in times if k == "auth")
        first_good = min(t for t, k in times if k == "healthy" and t >= t_good)
        al = a.get("AuthFailuresAlarm")
        tr = evaluate_all(alarms, tl, T0, T0 + 4 * 3600)
        results.append(judge("on-demand healthy overrides during an auth outage", tr, page="AuthFailuresAlarm",
                             started=first_bad, bound=value_bound(al, 5) if al else None, recover_after=first_good,
                             recover_bound=recover_bound(al, 5) if al else None))
        # and during a dead schedule (the heartbeat): covered by timeline 4 (on-demand runs
        # keep coming after the stop).
    return results


def apps_timelines(runs, sam, seed):
    """WatchAppErrors=true: the account's DynamoDB UserErrors (synthetic: DynamoDB publishes
    it, a minute at a time, a few minutes late) rises for an hour. While the canary is
    healthy, AppsFailingCanaryHealthyAlarm notifies (and nothing pages); while the canary's
    own authentication fails too, AuthFailuresAlarm pages and the composite stays quiet;
    with UserErrors quiet, nothing fires. Returns [Result]."""
    p = dict(params("5"), WatchAppErrors="true", AppErrorsThreshold="10")
    alarms = cfn_template.alarms(p, sam=sam)
    composites = cfn_template.composite_alarms(p, sam=sam)
    out = []
    r = Result("WatchAppErrors: the template has the child alarm and the composite")
    ids = {x["id"] for x in alarms}
    r.expect("AppUserErrorsAlarm" in ids, "AppUserErrorsAlarm missing")
    comp = next((c for c in composites if c["id"] == "AppsFailingCanaryHealthyAlarm"), None)
    r.expect(comp is not None, "AppsFailingCanaryHealthyAlarm missing")
    r.expect(not cfn_template.composite_alarms(params("5"), sam=sam), "the composite exists by default")
    out.append(r)
    if comp is None or "AppUserErrorsAlarm" not in ids:
        return out
    t_fail, t_good = T0 + 3600 + 7 * 60 + 13, T0 + 2 * 3600 + 7 * 60 + 13
    for name, canary_kind, errors, must_notify in (
            ("apps fail while the canary is healthy: notifies", "healthy", 50.0, True),
            ("apps and the canary fail together: the auth page, not the composite", "auth", 50.0, False),
            ("UserErrors quiet: nothing", "healthy", 0.0, False)):
        tl = _tl(runs, seed, name, "5", "cbor", alarms, (2, 60))
        tl.add(lambda t: canary_kind if t_fail <= t < t_good else "healthy", T0 - HISTORY, T0 + 4 * 3600)
        rng = random.Random(zlib.crc32(name.encode()))
        for minute in range(int((T0 - HISTORY) // 60), int((T0 + 4 * 3600) // 60)):
            ts = minute * 60
            value = errors if t_fail <= ts < t_good else rng.choice([0.0, 1.0, 2.0])
            tl.data.append(ev.Datum("AWS/DynamoDB", "UserErrors", (), value, ts, ts + rng.uniform(60, 240),
                                    "Count", "dynamodb"))
        traces = evaluate_all(alarms, tl, T0, T0 + 4 * 3600)
        children = {f"<{aid}>": tr for aid, tr in traces.items()}
        ctr = ev.evaluate_composite(comp, children, T0, T0 + 4 * 3600)
        if must_notify:
            # A broken copy must fail here: without NOT, an apps-only failure notifies nobody.
            broken = dict(comp, rule=comp["rule"].replace("AND NOT", "AND"))
            btr = ev.evaluate_composite(broken, children, T0, T0 + 4 * 3600)
            rb = Result("broken copy: the composite's rule without NOT")
            rb.expect(broken["rule"] != comp["rule"], "the rule has no AND NOT to break")
            rb.expect(not [x for x in btr.pages(NOTIFY) if x[1] == ev.ALARM], "the broken copy still notified")
            rb.summary = "caught: an apps-only failure notifies nobody"
            out.append(rb)
        r = Result(name)
        notified = [(t, s) for t, s in ctr.pages(NOTIFY) if s == ev.ALARM]
        if must_notify:
            if r.expect(bool(notified), f"the composite never notified {NOTIFY}: {ctr.transitions[:4]}"):
                took = notified[0][0] - t_fail
                r.expect(took <= 4 * 300 + 300, f"notified after {fmt(took)}")
                back = ctr.first(ev.OK, t_good)
                r.expect(back is not None and any(s == ev.OK and t == back for t, s in ctr.pages(NOTIFY)),
                         "the composite did not return to OK (with OKActions) after the errors stopped")
                r.summary = f"composite ALARM->{NOTIFY} after {fmt(took)}"
            r.expect(traces["AuthFailuresAlarm"].first(ev.ALARM, T0) is None, "AuthFailuresAlarm paged")
        else:
            r.expect(not notified, f"the composite notified: {notified[:2]}")
            if canary_kind == "auth":
                r.expect(traces["AuthFailuresAlarm"].first(ev.ALARM, t_fail) is not None,
                         "AuthFailuresAlarm did not page")
                r.summary = "AuthFailuresAlarm paged; the composite stayed OK"
            else:
                r.summary = "nothing fired"
        r.expect(not [x for x in traces["AppUserErrorsAlarm"].transitions if x[3]],
                 "the child alarm has actions of its own")
        out.append(r)
    return out


# alarms that must stay quiet in a failure timeline of this kind (others may co-fire,
# e.g. an identity mismatch also counting as an auth failure is reported, not failed)
SPEC_EXTRA_QUIET = {
    "auth": ["HeartbeatAlarm", "UnexpectedAccessAlarm", "ConfigErrorsAlarm"],
    "unexpected": ["HeartbeatAlarm", "AuthFailuresAlarm", "IdentityMismatchAlarm", "ProbesNotRunAlarm", "ConfigErrorsAlarm"],
    "identity": ["HeartbeatAlarm", "UnexpectedAccessAlarm", "ProbesNotRunAlarm", "ConfigErrorsAlarm"],
    "notrun": ["HeartbeatAlarm", "UnexpectedAccessAlarm", "IdentityMismatchAlarm", "ConfigErrorsAlarm"],
    "configerror": ["HeartbeatAlarm", "UnexpectedAccessAlarm", "IdentityMismatchAlarm", "AuthFailuresAlarm"],
}


def _tl(runs, seed, name, sched, sink, alarms, emf_delay):
    tl = Timeline(runs, zlib.crc32(f"{seed} {name}".encode()), int(sched), sink, emf_delay)
    fn = [x for x in alarms if x["namespace"] == "AWS/Lambda"]
    tl.fn_dims = ev.dims_key(fn[0]["dimensions"]) if fn else None
    return tl


# ------------------------------------------------------------------ template checks

def params(sched, canary=DEPLOY):
    return {"CanaryName": canary, "ScheduleMinutes": sched, "MetricsNamespace": NS}


def resolved(sam, sched):
    return cfn_template.alarms(params(sched), sam=sam)


def published_series(runs):
    return {(n, m, ev.dims_key(d)) for by in runs.values() for r in by.values() for n, m, d, _v, _u in r.datums}


def static(alarms, runs, label, show=True):
    findings = ev.static_check(alarms, published_series(runs), {NS})
    for aid, sev, msg in findings:
        if show and (VERBOSE or sev == "error"):
            print(f"  static[{label}] {aid}: {sev}: {msg}")
    return findings


def spec_check(alarms, sched):
    """The template's alarms against the contract's table."""
    a = by_id(alarms)
    for aid, (metric, stat, thr, m, n, treat, topic) in SPEC.items():
        if not check(aid in a, f"S={sched}: template has {aid}"):
            continue
        x = a[aid]
        if aid == "HeartbeatAlarm":
            m, n = HEARTBEAT.get(sched, (None, None))
        got = (x["metric"], x["statistic"], x["threshold"], x["datapoints_to_alarm"], x["evaluation_periods"],
               x["treat_missing_data"], sorted({ev.topic_name(t) for t in x["alarm_actions"]}))
        exp = (metric, stat, float(thr), m, n, treat, [topic])
        check(got == exp, f"S={sched}: {aid} is {got}" + ("" if got == exp else f", contract says {exp}"))
        check(x["period"] == int(sched) * 60, f"S={sched}: {aid} period {x['period']}")
        if x["namespace"] == NS:
            check(x["dimensions"] == {"Canary": DEPLOY}, f"S={sched}: {aid} dimensions {x['dimensions']}")
        check(sorted({ev.topic_name(t) for t in x["ok_actions"]}) in ([], [topic]),
              f"S={sched}: {aid} OKActions {x['ok_actions']}")


def mutated(sam, alarm_id, fn):
    """A copy of the SAM template with fn applied to one alarm's Properties (None when
    the alarm is missing or fn cannot apply)."""
    sam = copy.deepcopy(sam)
    res = sam["Resources"].get(alarm_id)
    if res is None or fn(res["Properties"]) is False:
        return None
    return sam


def rename_dimension(props):
    dims = props.get("Dimensions") or []
    if not (dims and isinstance(dims[0], dict) and isinstance(dims[0].get("Name"), str)):
        return False  # nothing literal to rename (e.g. the alarm has no dimension)
    dims[0]["Name"] = dims[0]["Name"] + "Name"


def non_vacuity(sam, runs, seed, baseline):
    """Copies of the template that must fail: returns [Result]."""
    out = []

    def static_error(label, sam2, alarm_id):
        r = Result(label)
        f = {aid: (sev, msg) for aid, sev, msg in static(resolved(sam2, "5"), runs, label)}
        sev, msg = f.get(alarm_id, ("missing", ""))
        r.expect(sev == "error", f"static check did not flag {alarm_id}: {sev} {msg}")
        r.summary = f"static: {alarm_id} {msg[:90]}"
        return r

    def flips(label, sam2, timeline_name, only):
        r = Result(label)
        res = {x.name: x for x in timelines(runs, lambda s: resolved(sam2, s), seed, only=only)}
        new = res.get(timeline_name)
        base = baseline.get(timeline_name)
        if r.expect(new is not None and base is not None, f"timeline {timeline_name} not run"):
            r.expect(base.ok and not new.ok, f"{timeline_name}: outcome did not flip ({base.ok} -> {new.ok})")
            r.summary = (f"'{timeline_name}': {'pass' if base.ok else 'FAIL'} -> {'pass' if new.ok else 'FAIL'}"
                         + (f" ({new.errors[0][:110]})" if new.errors else ""))
        return r

    hb5 = f"canary stops, '{OTHER}' + on-demand keep running S=5 range N+{ev.EXTRA_PERIODS}"
    cases = [
        ("(a) AuthFailuresAlarm: dimension renamed", "AuthFailuresAlarm", rename_dimension,
         "auth failure (PutMetricData)", {"auth"}),
        ("(a) HeartbeatAlarm: dimension renamed", "HeartbeatAlarm", rename_dimension, None, None),
        ("(b) UnexpectedAccessAlarm: metric renamed", "UnexpectedAccessAlarm",
         lambda p: p.update(MetricName=p["MetricName"] + "s"), "unexpected access", {"unexpected"}),
        ("(c) AuthFailuresAlarm: DatapointsToAlarm 2", "AuthFailuresAlarm",
         lambda p: p.update(DatapointsToAlarm=2), "a single failing run", {"single"}),
        ("(d) HeartbeatAlarm: TreatMissingData notBreaching", "HeartbeatAlarm",
         lambda p: p.update(TreatMissingData="notBreaching"), hb5, {"heartbeat"}),
        ("(d) HeartbeatAlarm: TreatMissingData missing", "HeartbeatAlarm",
         lambda p: p.update(TreatMissingData="missing"), hb5, {"heartbeat"}),
    ]
    # (e) Not the template but the contract: were on-demand runs published under the
    # deployment's own Canary value, they would keep its heartbeat alive.
    if "ondemand_healthy" in runs:
        masked = dict(runs)
        masked["ondemand_healthy"] = {k: Run(r.kind, r.sink, [(n, m, [(dk, DEPLOY if dk == "Canary" else dv) for dk, dv in d], v, u)
                                                             for n, m, d, v, u in r.datums], r.healthy)
                                      for k, r in runs["ondemand_healthy"].items()}
        r = Result("(e) on-demand runs relabelled Canary=<name> -> timeline")
        new = {x.name: x for x in timelines(masked, lambda s: resolved(sam, s), seed, only={"heartbeat"})}.get(hb5)
        base = baseline.get(hb5)
        if r.expect(new is not None and base is not None, f"timeline {hb5} not run"):
            r.expect(base.ok and not new.ok, f"{hb5}: outcome did not flip ({base.ok} -> {new.ok})")
            r.summary = f"'{hb5}': {'pass' if base.ok else 'FAIL'} -> {'pass' if new.ok else 'FAIL'} (heartbeat masked)"
        out.append(r)
    for label, alarm_id, fn, timeline, only in cases:
        s = mutated(sam, alarm_id, fn)
        if s is None:
            r = Result(label)
            r.expect(False, f"cannot make this copy: {alarm_id} missing or has no literal dimension")
            r.summary = "not applicable to this template"
            out.append(r)
            continue
        if label[:3] in ("(a)", "(b)"):
            out.append(static_error(label, s, alarm_id))
        if timeline:
            out.append(flips(label + " -> timeline", s, timeline, only))
    return out


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target", "debug", "dynamodb-auth-canary"))
    ap.add_argument("--template", default=cfn_template.TEMPLATE)
    ap.add_argument("--lambda-src", default=ROOT, help="crate the cargo-lambda emulator builds (default: this repo)")
    ap.add_argument("--no-lambda", action="store_true", help="skip the cargo-lambda runs (on-demand, config error)")
    ap.add_argument("--synthetic", action="store_true", help="datums from the contract, no binary run")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every passed check too")
    a = ap.parse_args()
    global VERBOSE
    VERBOSE = a.verbose
    started = time.monotonic()

    doc = ev.self_test()
    check(not doc, "alarm_eval reproduces every row of CloudWatch's documented missing-data tables"
          + ("" if not doc else ": " + "; ".join(doc)))

    if a.synthetic:
        runs, timings = synthetic_runs(), {}
    else:
        runs, timings = collect(os.path.abspath(a.binary), a.lambda_src, not a.no_lambda)
    print("collected:")
    for kind, by in runs.items():
        for sink, r in by.items():
            print(f"  {kind:17} {sink:4} {len(r.datums):3} datums healthy={r.healthy} {r.note}")
    check_runs(runs)

    sam = cfn_template.load(a.template)
    cache = {}

    def alarms_for(sched):
        if sched not in cache:
            cache[sched] = resolved(sam, sched)
        return cache[sched]

    for x in cfn_template.alarms(params("5", canary=""), sam=sam):  # CanaryName "" = the stack name
        if x["namespace"] == NS:
            check(x["dimensions"] == {"Canary": "canary"},
                  f"CanaryName empty: {x['id']} watches Canary = the stack name ({x['dimensions']})")
    for sched in ("5", "1", "60"):
        spec_check(alarms_for(sched), sched)
        for aid, sev, msg in static(alarms_for(sched), runs, f"S={sched}"):
            if aid == "ConfigErrorsAlarm" and "configerror" not in runs:
                # ConfigErrors is sent only by a Lambda run that cannot load its configuration;
                # without the cargo-lambda runs (--no-lambda) there is none to look at.
                print(f"skip: S={sched}: {aid}: no configerror run collected (--no-lambda)")
                continue
            check(sev != "error", f"S={sched}: {aid} can fire on what the binary publishes")

    query = logs_query_check(sam) if LOG_LINES else None
    results = timelines(runs, alarms_for, a.seed)
    baseline = {r.name: r for r in results}
    results += apps_timelines(runs, sam, a.seed)
    vac = non_vacuity(sam, runs, a.seed, baseline)

    for r in results + vac:
        for e in r.errors:
            fail(f"[{r.name}] {e}")
    print("\n| timeline | result | detail |\n|---|---|---|")
    for r in results:
        print(f"| {r.name} | {'info' if r.info else 'pass' if r.ok else 'FAIL'} | {r.summary} |")
    print("\n| broken copy of the template | caught | detail |\n|---|---|---|")
    for r in vac:
        print(f"| {r.name} | {'yes' if r.ok else 'NO'} | {r.summary} |")
    if query:
        print(f"\nLogs Insights query \"failing probes\" (from the dashboard):\n  {query}")
    took = time.monotonic() - started
    print("\ntimings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + f", total {took:.1f}s")
    if FAILURES:
        print(f"\nalarm test FAILED: {len(FAILURES)} failure(s)")
        sys.exit(1)
    print("alarm test passed")


if __name__ == "__main__":
    main()
