#!/usr/bin/env python3
"""Benchmark helper for scripts/bench.sh (stdlib only; no jq).

  bench.py spec    [--tables 64]
      print the localaws.py apply spec: tables bench-00.. spread round-robin over
      REGIONS (each in its own region only) and the user canary-bench, allowed
      dynamodb:DescribeTable on "*".
  bench.py measure --binary PATH --endpoint URL --created FILE --delay-ms D
                   [--counts 1,16,64] [--repeat 3] [--workdir DIR]
      for each count N: write a config with N targets, run `check` REPEAT times
      with only canary-bench's keys, and print the median wall time, slowest
      single chain (identity + slowest probe), their ratio and peak RSS.
      Exit 1 if any run was not healthy (a benchmark must not measure failures).

Wall time is measured around spawn..reap with time.monotonic(); peak RSS is the
child's own ru_maxrss from os.wait4() (per process, unlike
getrusage(RUSAGE_CHILDREN), which is a high-water mark over every child reaped).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
USER = "canary-bench"
RUN_TIMEOUT_S = 30


def table_name(i):
    return f"bench-{i:02d}"


def table_region(i):
    return REGIONS[i % len(REGIONS)]


def spec(a):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:DescribeTable"], "Resource": "*"}]}
    return {
        "users": [{"name": USER, "policy": policy}],
        "tables": [{"name": table_name(i), "regions": [table_region(i)], "key": [{"name": "pk", "type": "S"}]}
                   for i in range(a.tables)],
    }


def config(n):
    return {
        "targets": [{"table": table_name(i), "regions": [table_region(i)], "probes": ["describe"]}
                    for i in range(n)],
        "concurrency": 64,
        "metrics": {"sink": "none"},
        "deadline_ms": 20000,
    }


def run_once(argv, env, out_path):
    """Run argv; return (exit code, wall seconds, peak RSS in KiB, stdout text)."""
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        killer = threading.Timer(RUN_TIMEOUT_S, p.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen consistent
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    return p.returncode, wall, usage.ru_maxrss, stdout


def check_report(stdout, n):
    """Return (report or None, list of problems)."""
    try:
        rep = json.loads(stdout)
    except ValueError as e:
        return None, [f"no JSON report ({e})"]
    problems = []
    if rep.get("identity", {}).get("outcome") != "ok":
        problems.append(f"identity {rep.get('identity', {}).get('class')}")
    probes = rep.get("probes", [])
    if len(probes) != n:
        problems.append(f"{len(probes)} probes, expected {n}")
    bad = [p for p in probes if p.get("outcome") != "ok"]
    for p in bad[:3]:
        problems.append(f"{p['table']}/{p['region']}/{p['probe']}: {p['outcome']} {p['class']} {p.get('message')}")
    if len(bad) > 3:
        problems.append(f"... and {len(bad) - 3} more failed probes")
    if not rep.get("healthy"):
        problems.append("report not healthy")
    return rep, problems


def measure(a):
    created = json.load(open(a.created))
    user = created["users"][USER]
    workdir = a.workdir or tempfile.mkdtemp(prefix="canary-bench.")
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    # Only canary-bench's keys: no profile, session token, endpoint or region from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "HOME": home,
        "AWS_CONFIG_FILE": os.path.join(workdir, "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(workdir, "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": user["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": user["secret_access_key"],
    })
    counts = [int(c) for c in a.counts.split(",")]
    reference_ms = 2 * a.delay_ms
    failed = False
    rows = []
    print(f"proxy delay {a.delay_ms} ms per request; sequential reference chain (identity + probe) = "
          f"{reference_ms} ms; {a.repeat} runs per row, medians shown", flush=True)
    for n in counts:
        cfg_path = os.path.join(workdir, f"config-{n}.json")
        with open(cfg_path, "w") as f:
            json.dump(config(n), f)
        argv = [a.binary, "check", "--config", cfg_path, "--output", "json",
                "--endpoint-url", a.endpoint, "--region", "us-east-1"]
        walls, chains, ratios, rsss = [], [], [], []
        all_ok = True
        for r in range(a.repeat):
            rc, wall, rss_kib, stdout = run_once(argv, env, os.path.join(workdir, f"out-{n}-{r}.json"))
            rep, problems = check_report(stdout, n)
            if rc != 0:
                problems.insert(0, f"exit status {rc}")
            if problems:
                all_ok = False
                failed = True
                print(f"  targets={n} run {r + 1}: NOT OK: " + "; ".join(problems), file=sys.stderr, flush=True)
            wall_ms = wall * 1000
            chain_ms = float("nan")
            if rep is not None and rep.get("probes"):
                chain_ms = rep["identity"]["latency_ms"] + max(p["latency_ms"] for p in rep["probes"])
            walls.append(wall_ms)
            chains.append(chain_ms)
            ratios.append(wall_ms / chain_ms if chain_ms > 0 else float("nan"))
            rsss.append(rss_kib / 1024)
        rows.append((n, statistics.median(walls), statistics.median(chains), statistics.median(ratios),
                     statistics.median(rsss), max(rsss), statistics.median(walls) / reference_ms, all_ok))

    print(f"{'targets':>7}  {'wall_ms':>8}  {'slowest_chain_ms':>16}  {'ratio':>5}  {'peak_rss_mb':>11}  "
          f"{'all probes ok':>13}  {'wall/ref':>8}  {'max_rss_mb':>10}")
    for n, wall, chain, ratio, rss, rss_max, vs_ref, ok in rows:
        print(f"{n:>7}  {wall:>8.1f}  {chain:>16.1f}  {ratio:>5.2f}  {rss:>11.1f}  {'yes' if ok else 'no':>13}  "
              f"{vs_ref:>8.2f}  {rss_max:>10.1f}")

    last = rows[-1]
    ratio_ok = last[3] < 1.5
    rss_ok = max(r[5] for r in rows) < 30
    print(f"goal: ratio < 1.5 at {last[0]} targets: {'met' if ratio_ok else 'MISSED'} ({last[3]:.2f}); "
          f"peak RSS < 30 MB: {'met' if rss_ok else 'MISSED'} (max {max(r[5] for r in rows):.1f} MB)")
    if failed:
        print("bench: some runs were not healthy", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("spec")
    p.add_argument("--tables", type=int, default=64)
    p = sub.add_parser("measure")
    p.add_argument("--binary", required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--created", required=True, help="localaws.py apply output (JSON file)")
    p.add_argument("--delay-ms", type=int, required=True)
    p.add_argument("--counts", default="1,16,64")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir")
    a = ap.parse_args()
    if a.cmd == "spec":
        json.dump(spec(a), sys.stdout)
        sys.stdout.write("\n")
        return 0
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
