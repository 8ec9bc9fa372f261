#!/usr/bin/env python3
"""`sam local invoke` of template.yaml's CanaryFunction, the arm64 bootstrap of `make build`,
against moto on the docker bridge's gateway address. Run by scripts/sam-local.sh
(`make test-sam`), which has started a private dockerd (DOCKER_HOST), imported the base image
and enabled binfmt qemu-aarch64; see that script for the machine side.

- moto (IAM enforced) listens on the gateway address, where the container reaches this
  machine; seeded as in artifact_test.py (orders, customers, payroll; a user that may describe
  and read the first two).
- A copy of template.yaml whose CanaryFunction CodeUri is the zip (`sam local` unzips it), so
  the very artifact of `make build` runs; nothing is built by SAM.
- --env-vars: events/env.json's values with AWS_ENDPOINT_URL=http://<gateway>:<port>; SAM
  passes the keys of its own environment (the moto user's, explicit) as the function's
  credentials; AWS_EC2_METADATA_DISABLED=true both in SAM's environment and the function's.
- SAM's telemetry and its version check (a PyPI lookup) are off (a private SAM app dir), and
  its own AWS call (STS GetCallerIdentity, for AWS::AccountId) goes to moto (AWS_ENDPOINT_URL*).
- Each invoke (--skip-pull-image: the base image is the local one) must print a healthy report
  on stdout; SAM exits 0 even when the function fails, so `errorType` or `Runtime.` on stderr
  fail the test, and the EMF lines of each run must be in the function's log (stderr).

Usage: .venv/bin/python tests/infra/sam_local_test.py --gateway IP --zip PATH --work DIR
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
sys.path.insert(0, HERE)
import artifact_test as art  # noqa: E402  (moto, the seed, the report checks)

ROOT = art.ROOT
check = art.check


def template_copy(zip_path, work):
    """template.yaml with the CanaryFunction's `CodeUri: .` replaced by the zip's absolute path."""
    text = open(os.path.join(ROOT, "template.yaml")).read()
    start = text.index("\n  CanaryFunction:\n")
    end = text.index("\n  CanaryLogGroup:\n", start)
    block = text[start:end]
    if block.count("      CodeUri: .\n") != 1:
        sys.exit("sam_local_test: template.yaml's CanaryFunction no longer has exactly one `CodeUri: .`")
    block = block.replace("      CodeUri: .\n", f"      CodeUri: {json.dumps(os.path.abspath(zip_path))}\n")
    path = os.path.join(work, "template.yaml")
    with open(path, "w") as f:
        f.write(text[:start] + block + text[end:])
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", required=True, help="the bridge's gateway address (moto listens there)")
    ap.add_argument("--zip", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    if not os.environ.get("DOCKER_HOST"):
        sys.exit("sam_local_test: DOCKER_HOST is not set: run it through scripts/sam-local.sh")
    started = time.monotonic()
    times = {}
    moto, url = art.start_moto(args.work, host=args.gateway)
    try:
        user = art.seed(url, args.work)
        times["moto up + seeded"] = time.monotonic() - started
        template = template_copy(args.zip, args.work)
        declared = json.load(open(os.path.join(ROOT, "events", "env.json")))
        declared["CanaryFunction"]["AWS_ENDPOINT_URL"] = url
        declared["CanaryFunction"]["AWS_EC2_METADATA_DISABLED"] = "true"
        env_vars = os.path.join(args.work, "env.json")
        with open(env_vars, "w") as f:
            json.dump(declared, f)
        app_dir = os.path.join(args.work, "sam-app")
        os.makedirs(app_dir, exist_ok=True)
        with open(os.path.join(app_dir, "metadata.json"), "w") as f:
            json.dump({"telemetryEnabled": False, "lastVersionCheck": time.time()}, f)
        env = {
            "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": args.work,
            "LANG": "C.UTF-8",
            "DOCKER_HOST": os.environ["DOCKER_HOST"],
            "SAM_CLI_TELEMETRY": "0",
            "__SAM_CLI_APP_DIR": app_dir,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(args.work, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(args.work, "no-credentials"),
            "AWS_ACCESS_KEY_ID": user["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": user["secret_access_key"],
            "AWS_REGION": art.REGION,
            "AWS_DEFAULT_REGION": art.REGION,
            # SAM itself calls STS GetCallerIdentity (for AWS::AccountId) with these keys: to moto,
            # never beyond this machine. (The function gets only the variables the template
            # declares, from --env-vars.)
            "AWS_ENDPOINT_URL": url,
            "AWS_ENDPOINT_URL_STS": url,
        }
        config = json.loads(declared["CanaryFunction"]["CANARY_CONFIG"])
        canary = declared["CanaryFunction"]["CANARY_NAME"]
        for i, name in enumerate(("scheduled", "on-demand")):
            event_path = os.path.join(ROOT, "events", f"{name}.json")
            cmd = ["sam", "local", "invoke", "CanaryFunction", "--template", template, "--event", event_path,
                   "--env-vars", env_vars, "--skip-pull-image", "--region", art.REGION]
            cmd += os.environ.get("SAM_LOCAL_ARGS", "").split()  # e.g. --debug
            t = time.monotonic()
            p = subprocess.run(cmd, env=env, cwd=args.work, capture_output=True, text=True, timeout=300)
            took = time.monotonic() - t
            times[f"sam local invoke {name}{' (first: builds the rapid image)' if i == 0 else ''}"] = took
            with open(os.path.join(args.work, f"sam-{name}.out"), "w") as f:
                f.write(f"$ {' '.join(cmd)}\n--- rc {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
            bad = [l for l in p.stderr.splitlines() if "errorType" in l or "Runtime." in l]
            check(p.returncode == 0 and not bad,
                  f"{name}: sam local invoke succeeded in {took:.1f}s (rc={p.returncode}; "
                  f"{(' | '.join(bad) or p.stderr.strip())[-800:]})")
            report = None
            for line in reversed(p.stdout.strip().splitlines()):
                try:
                    report = json.loads(line)
                    break
                except ValueError:
                    continue
            if not check(isinstance(report, dict), f"{name}: the report on stdout: {p.stdout.strip()[-400:]}"):
                continue
            art.check_function_report(name, report, config if name == "scheduled"
                                      else json.load(open(event_path))["config"], user["arn"])
            want = canary if name == "scheduled" else f"{canary}/on-demand"
            emf = art.emf_lines(p.stderr)
            check(any(l.get("Canary") == want and l.get("CanaryRuns") == 1.0 for l in emf),
                  f"{name}: EMF lines in the function's log (Canary={want})")
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    print("== timings")
    for k, v in times.items():
        print(f"   {k:<52} {v:6.2f} s")
    print(f"sam local: {len(art.passes)} passed, {len(art.failures)} failed")
    if art.failures:
        print("sam local test FAILED: " + "; ".join(f[:160] for f in art.failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
