#!/usr/bin/env python3
"""How far one deployment scales: the largest number of (table, region) pairs whose
permissions `deploy-params` fits into the template's slots, by probe mix and table-name
length (README "How far it scales").

Usage: deploy_scale.py [BINARY]   (default target/debug/dynamodb-auth-canary)
Runs the binary only (no AWS, no network); prints a markdown table.
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/dynamodb-auth-canary"
MIXES = [["describe"], ["describe", "read"], ["describe", "read", "write"]]
LENGTHS = [10, 20, 30, 40]


def fits(pairs, length, probes, regions, tmp):
    per_region = -(-pairs // len(regions))
    targets = [{"table": f"t{i:05d}".ljust(length, "x"), "probes": probes, "regions": regions}
               for i in range(per_region)]
    path = os.path.join(tmp, "c.json")
    with open(path, "w") as f:
        json.dump({"targets": targets}, f)
    r = subprocess.run([BIN, "deploy-params", "--config", path, "--account", "123456789012",
                        "--region", "us-east-1", "--ssm-parameter", "/canary/config"],
                       capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
    return r.returncode == 0


def largest(length, probes, regions, tmp):
    lo, hi = 0, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * len(regions), length, probes, regions, tmp):
            lo = mid
        else:
            hi = mid - 1
    return lo * len(regions)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        print("| probes per table | " + " | ".join(f"{n}-character names" for n in LENGTHS) + " |")
        print("|---" * (len(LENGTHS) + 1) + "|")
        for probes in MIXES:
            row = [str(largest(n, probes, ["us-east-1"], tmp)) for n in LENGTHS]
            print(f"| `{' + '.join(probes)}` | " + " | ".join(row) + " |")
        six = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
        for n in (10, 20):
            t = largest(n, ["describe", "read"], six, tmp) // 6
            print(f"\n6 regions, describe + read, {n}-character names: {t} tables ({t * 6} pairs)")


if __name__ == "__main__":
    main()
