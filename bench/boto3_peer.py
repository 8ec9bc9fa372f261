#!/usr/bin/env python3
"""The threaded boto3 peer of the benchmark: what `check` does, written the plain Python way.

Usage: boto3_peer.py --config FILE --endpoint-url URL [--region us-east-1] [--threads 32]

Reads the (table, region) pairs of a canary configuration (`targets[].table`
and `targets[].regions`, else `defaults.regions`, else --region), then:
GetCallerIdentity in --region; one DescribeTable per (table, region) on a
ThreadPoolExecutor of --threads threads, with one boto3 client per region
created up front (clients are thread-safe, their creation is not) and a
connection pool as large as the thread pool; one PutMetricData of summary
datums in --region. Every client points at --endpoint-url. Credentials come
from the environment (the benchmark passes dummy keys explicitly).

Prints nothing but a one-line JSON summary; exit 0 if every call succeeded,
1 otherwise.
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import boto3  # noqa: E402  (after the environment is settled)
from botocore.config import Config  # noqa: E402


def pairs_of(cfg, default_region):
    default_regions = cfg.get("defaults", {}).get("regions") or [default_region]
    out = []
    for t in cfg["targets"]:
        regions = t.get("regions", default_regions)
        if not isinstance(regions, list):
            sys.exit(f"boto3_peer: target {t['table']}: only explicit region lists are supported")
        out.extend((t["table"], r) for r in regions)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--endpoint-url", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--threads", type=int, default=32)
    a = ap.parse_args()
    t0 = time.monotonic()
    with open(a.config, encoding="utf-8") as f:
        pairs = pairs_of(json.load(f), a.region)

    session = boto3.session.Session()
    conf = Config(max_pool_connections=a.threads, connect_timeout=5, read_timeout=10)

    def client(service, region):
        return session.client(service, region_name=region, endpoint_url=a.endpoint_url, config=conf)

    sts = client("sts", a.region)
    ident = sts.get_caller_identity()
    ddb = {r: client("dynamodb", r) for r in sorted({r for _, r in pairs})}

    def describe(pair):
        table, region = pair
        start = time.monotonic()
        try:
            status = ddb[region].describe_table(TableName=table)["Table"]["TableStatus"]
            ok = status == "ACTIVE"
        except Exception:  # a benchmark peer counts failures, it does not classify them
            ok = False
        return ok, (time.monotonic() - start) * 1000

    with ThreadPoolExecutor(max_workers=a.threads) as pool:
        results = list(pool.map(describe, pairs))
    ok = sum(1 for r, _ in results if r)
    failed = len(results) - ok
    latencies = sorted(ms for _, ms in results) or [0.0]

    dims = [{"Name": "Canary", "Value": "boto3-peer"}]
    datums = [{"MetricName": name, "Dimensions": dims, "Value": float(v), "Unit": "Count"}
              for name, v in [("Healthy", int(failed == 0)), ("ProbesTotal", len(results)), ("ProbesOk", ok),
                              ("ProbesFailed", failed), ("ProbesNotRun", 0), ("AuthFailures", 0),
                              ("IdentityOk", 1)]]
    datums.append({"MetricName": "ProbeLatency", "Dimensions": dims, "Unit": "Milliseconds",
                   "Values": latencies[:150]})
    client("cloudwatch", a.region).put_metric_data(Namespace="DynamoDBAuthCanary", MetricData=datums)

    print(json.dumps({"account": ident["Account"], "probes": len(results), "ok": ok, "failed": failed,
                      "threads": a.threads, "regions": len(ddb), "metrics_requests": 1,
                      "duration_ms": round((time.monotonic() - t0) * 1000, 1)}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
