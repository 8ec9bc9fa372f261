#!/usr/bin/env python3
"""Local invocation of the Lambda function without Docker (run by `make test`).

Starts moto (IAM enforced), seeds a least-privilege user and the tables that
events/on-demand.json names, runs the function under cargo-lambda's Runtime
API emulator (`cargo lambda watch`) with that user's keys, and invokes it
(`cargo lambda invoke`) with events/scheduled.json, events/on-demand.json and
an invalid override, asserting on the returned reports and errors.

Usage: .venv/bin/python tests/infra/lambda_local_test.py
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws")]  # the proofs; localaws, moto_server
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
import localaws  # noqa: E402

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
CARGO_LAMBDA = os.path.join(VENV_BIN, "cargo-lambda")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{what} did not listen on {port} within {timeout}s")


# The first invocation builds the function under `cargo lambda watch` (its own build of the
# crate and the SDK: minutes on two loaded cores, seconds once built); later ones only run it.
FIRST_INVOKE_TIMEOUT = 900


def invoke(port, data_file=None, data=None, timeout=120):
    cmd = [CARGO_LAMBDA, "lambda", "invoke", "dynamodb-auth-canary", "--invoke-port", str(port),
           "--invoke-address", "127.0.0.1", "--output-format", "json"]
    cmd += ["--data-file", data_file] if data_file else ["--data-ascii", data]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def check(cond, msg):
    if not cond:
        sys.exit(f"FAIL: {msg}")
    print(f"ok: {msg}")


def main():
    started = time.monotonic()
    moto_port = free_port()
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "localaws", "moto_server.py"),
                             "--port", str(moto_port), "--exit-with-parent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = None
    try:
        wait_port(moto_port, moto, "moto", 60)
        url = f"http://127.0.0.1:{moto_port}"
        admin = localaws.bootstrap(SimpleNamespace(endpoint=url))
        on_demand = json.load(open(os.path.join(ROOT, "events", "on-demand.json")))
        demand_tables = sorted({t["table"] for t in on_demand["config"]["targets"]})
        tables = sorted(set(demand_tables) | {"lambda-orders"})
        arns = [f"arn:aws:dynamodb:us-east-1:123456789012:table/{t}" for t in tables]
        spec = {
            "users": [{"name": "lambda-canary", "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem"], "Resource": arns}]}}],
            "tables": [{"name": t, "regions": ["us-east-1"], "key": [{"name": "pk", "type": "S"}]} for t in tables],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        created = localaws.apply(SimpleNamespace(endpoint=url, admin_key=admin["access_key_id"],
                                                 admin_secret=admin["secret_access_key"], spec=f.name))
        user = created["users"]["lambda-canary"]
        base_config = {"targets": [{"table": "lambda-orders", "probes": ["describe", "read"]}],
                       "metrics": {"sink": "emf"}}
        home = tempfile.mkdtemp(prefix="canary-lambda-home-")
        env = {
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
            "HOME": home,
            "CARGO_HOME": os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")),
            "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", os.path.expanduser("~/.rustup")),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
        }
        # The function's environment, as Lambda would give it (keys, region)
        # plus the configuration and the local endpoint.
        fn_env = {
            "AWS_ACCESS_KEY_ID": user["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": user["secret_access_key"],
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "CANARY_CONFIG": json.dumps(base_config),
            "CANARY_NAME": "lambda-test",
        }
        port = free_port()
        cmd = [CARGO_LAMBDA, "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
               "--ignore-changes"]
        # --env-var splits on commas, which JSON is full of: use an env file.
        env_file = os.path.join(home, "function.env")
        with open(env_file, "w") as f:
            for k, v in fn_env.items():
                f.write(f"{k}='{v}'\n")
        cmd += ["--env-file", env_file]
        log = open(os.path.join(home, "watch.log"), "w")
        watch = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(port, watch, "cargo lambda watch", 600)
        print(f"cargo lambda watch listening after {time.monotonic() - started:.1f}s")

        # A scheduled event runs the configuration from CANARY_CONFIG.
        rc, out, err = invoke(port, data_file=os.path.join(ROOT, "events", "scheduled.json"),
                              timeout=FIRST_INVOKE_TIMEOUT)
        check(rc == 0, f"scheduled.json invocation succeeded (rc={rc}, {err.strip()[-400:]})")
        report = json.loads(out)
        check(report["healthy"] is True,
              "scheduled run is healthy" if report["healthy"] else f"scheduled run unhealthy: {json.dumps(report)[:1500]}")
        check([p["table"] for p in report["probes"]] == ["lambda-orders", "lambda-orders"],
              "scheduled run probed the CANARY_CONFIG table")
        check(report["identity"]["arn"] == user["arn"], "identity is the function's user")
        check(report["metrics"]["sink"] == "emf" and report["metrics"]["datums"] >= 5, "metrics went out as EMF")

        # An event carrying a config runs that configuration instead.
        rc, out, err = invoke(port, data_file=os.path.join(ROOT, "events", "on-demand.json"))
        check(rc == 0, f"on-demand.json invocation succeeded (rc={rc}, {err.strip()[-400:]})")
        report = json.loads(out)
        probed = sorted({p["table"] for p in report["probes"]})
        check(probed == demand_tables, f"on-demand run probed {probed}")
        check(all(p["outcome"] == "ok" for p in report["probes"]), "on-demand probes passed")

        # An unhealthy run still returns its report (health travels through metrics).
        bad = {"config": {"targets": [{"table": "not-in-policy"}], "metrics": {"sink": "emf"}}}
        rc, out, err = invoke(port, data=json.dumps(bad))
        check(rc == 0, "an unhealthy run is still a successful invocation")
        report = json.loads(out)
        check(report["healthy"] is False and report["probes"][0]["class"] == "access_denied",
              "the unhealthy report says access_denied")
        # The function's log (the watch process's output) has one structured line for the failed
        # probe, with Powertools' keys, and the run's metrics under the on-demand dimension.
        log.flush()
        lines = []
        for raw in open(os.path.join(home, "watch.log"), encoding="utf-8", errors="replace"):
            start = raw.find("{")
            if start >= 0:
                try:
                    lines.append(json.loads(raw[start:]))
                except ValueError:
                    pass
        failed = [l for l in lines if l.get("message") == "probe failed" and l.get("table") == "not-in-policy"]
        check(len(failed) == 1, f"one structured log line for the failed probe ({len(failed)} found)")
        if failed:
            f = failed[0]
            check(f.get("region") == "us-east-1" and f.get("class") == "access_denied" and f.get("request_id")
                  and f.get("function_request_id") and f.get("level") == "ERROR" and f.get("service")
                  and f.get("canary") == "lambda-test/on-demand",
                  f"the line names table, region, class, request id and the invocation: {json.dumps(f)[:400]}")
        emf = [l for l in lines if "_aws" in l and l.get("Canary") == "lambda-test/on-demand"]
        check(any(l.get("UnhealthyRuns") == 1.0 for l in emf), "the on-demand run published under lambda-test/on-demand")
        scheduled = [l for l in lines if "_aws" in l and l.get("Canary") == "lambda-test"]
        check(any(l.get("CanaryRuns") == 1.0 for l in scheduled), "the scheduled run published under lambda-test")

        # An invalid override fails the invocation with a clear error, nothing probed.
        rc, out, err = invoke(port, data=json.dumps({"config": {"targets": [{"table": "orders", "regions": ["us-east-9"]}]}}))
        text = out + err
        check(rc != 0, "an invalid override fails the invocation")
        check("InvalidConfigOverride" in text and "targets[0].regions[0]" in text,
              f"the error names its type and the field: {text.strip()[-300:]}")
        print(f"lambda local test passed in {time.monotonic() - started:.1f}s")
    finally:
        if watch is not None:
            try:
                os.killpg(watch.pid, 15)
            except ProcessLookupError:
                pass
            watch.wait(timeout=30)
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
