#!/usr/bin/env python3
"""The policy `dynamodb-auth-canary policy` generates is sufficient and minimal, for the
configurations in events/ and the JSON examples of README.md and docs/*.md, against moto
with IAM enforced.

Usage: .venv/bin/python tests/infra/policy_test.py [BINARY]   (default target/debug/dynamodb-auth-canary)

For each configuration:
 1. create its tables in moto (every configured region), a user for the canary and, for
    targets with a role_arn, a role in the same moto account trusted by that user (moto
    does not evaluate cross-account trust: target-role.yaml's own test covers that);
 2. attach `policy --config C --account 123456789012 --region us-east-1` to the user, and
    `policy ... --target-account 123456789012` to the role;
 3. `check` as the user: every allow probe passes and every must-deny probe is denied
    (exit 0, healthy);
 4. minimality: for every DynamoDB and STS resource of every statement, a user with that one
    resource removed runs `check` again and some probe must fail (exit 1). moto evaluates
    actions and resources, not Conditions, and authorizes CloudWatch as monitoring:*, so
    the LeadingKeys and namespace conditions are checked statically (template_checks.py),
    and runs here use --sink none.
A documentation example that `policy` cannot turn into permissions as written ("replicas",
which is resolved only at run time) gets explicit regions, and the output says so.
Exit 0 when all hold, 1 with a line per failure.
"""
import copy
import json
import os
import re
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

ACCOUNT = "123456789012"
REGION = "us-east-1"
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/dynamodb-auth-canary"))
failures = []


def need(cond, message):
    print(("ok: " if cond else "FAIL: ") + message)
    if not cond:
        failures.append(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configurations():
    """(name, config) of events/ and of the JSON examples with targets in README.md and docs/."""
    out = []
    on_demand = json.load(open(os.path.join(ROOT, "events", "on-demand.json")))["config"]
    out.append(("events/on-demand.json", on_demand))
    env = json.load(open(os.path.join(ROOT, "events", "env.json")))
    out.append(("events/env.json CANARY_CONFIG", json.loads(env["CanaryFunction"]["CANARY_CONFIG"])))
    # The examples live in README.md (the tour) and docs/ (docs/configuration.md above all).
    docs = sorted(f"docs/{n}" for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md"))
    for name in ["README.md"] + docs:
        text = open(os.path.join(ROOT, name), encoding="utf-8").read()
        for i, block in enumerate(re.findall(r"```json\n(.*?)```", text, re.S)):
            try:
                doc = json.loads(block)
            except ValueError:
                continue
            if isinstance(doc, dict) and "targets" in doc and isinstance(doc["targets"], list):
                out.append((f"{name} example {i + 1}", doc))
    if not any(name.startswith("docs/configuration.md") for name, _ in out):
        sys.exit("policy_test: no configuration example found in docs/configuration.md")
    return out


def adapt(config):
    """The configuration as this test runs it: replica targets get their home and one
    replica region listed; role ARNs point at a role of this moto account."""
    c = copy.deepcopy(config)
    notes = []
    c.setdefault("metrics", {})["sink"] = "none"
    c["metrics"].pop("namespace", None)
    c.pop("expect", None)  # the canary runs as a test user, not as the example's role
    for i, t in enumerate(c["targets"]):
        if t.get("regions") == "replicas":
            t["regions"] = [t.pop("home_region", REGION), "eu-west-1"]
            notes.append(f"targets[{i}].regions: \"replicas\" listed as {t['regions']}")
        if "role_arn" in t:
            t["role_arn"] = f"arn:aws:iam::{ACCOUNT}:role/policy-test-target"
    return c, notes


def tables_of(c):
    default_regions = c.get("defaults", {}).get("regions") or [REGION]
    tables = {}
    for t in c["targets"]:
        regions = t.get("regions") or default_regions
        key = t.get("key")
        schema = [{"name": k, "type": list(v)[0]} for k, v in sorted(key.items())] if key else \
            [{"name": "pk", "type": "S"}]
        tables.setdefault(t["table"], {"regions": set(), "key": schema})["regions"].update(regions)
    return [{"name": n, "regions": sorted(v["regions"]), "key": v["key"]} for n, v in tables.items()]


def policy(path, target=False):
    args = [BIN, "policy", "--config", path, "--account", ACCOUNT, "--region", REGION]
    if target:
        args += ["--target-account", ACCOUNT]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"policy failed: {r.stderr}")
    return json.loads(r.stdout)


def run_check(url, creds, path, home):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.path.join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none"),
           "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": creds["access_key_id"],
           "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"]}
    r = subprocess.run([BIN, "check", "--config", path, "--endpoint-url", url, "--output", "json", "--sink", "none"],
                       capture_output=True, text=True, env=env, timeout=120)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else {})


def without(doc, s_index, resource):
    d = copy.deepcopy(doc)
    st = d["Statement"][s_index]
    st["Resource"] = [r for r in st["Resource"] if r != resource]
    if not st["Resource"]:
        del d["Statement"][s_index]
    return d


def main():
    started = time.monotonic()
    port = free_port()
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "localaws", "moto_server.py"),
                             "--port", str(port), "--exit-with-parent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        localaws.wait(SimpleNamespace(endpoint=url, timeout=60))
        admin = localaws.bootstrap(SimpleNamespace(endpoint=url))
        admin_ns = dict(endpoint=url, admin_key=admin["access_key_id"], admin_secret=admin["secret_access_key"])
        made = set()
        runs = 0
        with tempfile.TemporaryDirectory() as tmp:
            for n, (name, config) in enumerate(configurations()):
                c, notes = adapt(config)
                for note in notes:
                    print(f"note: {name}: {note}")
                path = os.path.join(tmp, f"c{n}.json")
                json.dump(c, open(path, "w"))
                new = []
                for t in tables_of(c):
                    missing = [r for r in t["regions"] if (t["name"], r) not in made]
                    if missing:
                        new.append({**t, "regions": missing})
                        made.update((t["name"], r) for r in missing)
                canary_doc = policy(path)
                has_roles = any("role_arn" in t for t in c["targets"])
                user = f"policy-test-{n}"
                spec = {"tables": new, "users": [{"name": user, "policy": canary_doc}]}
                out = apply(admin_ns, spec)
                creds = out["users"][user]
                if has_roles:
                    role_doc = policy(path, target=True)
                    apply(admin_ns, {"roles": [{"name": "policy-test-target", "trust": [creds["arn"]],
                                                "policy": role_doc}]}, replace_role=True)
                code, report = run_check(url, creds, path, tmp)
                runs += 1
                bad = [p for p in report.get("probes", []) if p["outcome"] != "ok"]
                need(code == 0 and report.get("healthy") is True,
                     f"{name}: the generated policy passes every allow probe and denies every must-deny probe "
                     f"({len(report.get('probes', []))} probes){'' if not bad else ': ' + json.dumps(bad)[:600]}")
                # Minimality: every resource of every DynamoDB and STS statement is needed.
                for i, st in enumerate(canary_doc["Statement"]):
                    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                    if not any(a.startswith(("dynamodb:", "sts:")) for a in actions):
                        continue
                    for resource in st["Resource"]:
                        u = f"policy-test-{n}-{i}-{abs(hash(resource)) % 10**6}"
                        o = apply(admin_ns, {"users": [{"name": u, "policy": without(canary_doc, i, resource)}]})
                        uc = o["users"][u]
                        if has_roles:
                            apply(admin_ns, {"roles": [{"name": "policy-test-target", "trust": [uc["arn"]],
                                                        "policy": role_doc}]}, replace_role=True)
                        code, report = run_check(url, uc, path, tmp)
                        runs += 1
                        failed = [p for p in report.get("probes", []) if p["outcome"] != "ok"]
                        name_of = resource.rsplit("/", 1)[-1]
                        # The failure must be the missing grant's: a denial on that table
                        # (or of that role), nothing else.
                        why = [p for p in failed
                               if (p["class"] == "assume_role_denied" and resource.startswith("arn:aws:iam:"))
                               or (p["class"] == "access_denied" and p["table"] == name_of)]
                        others = [p for p in failed if p not in why and p["class"] not in ("access_denied", "assume_role_denied")]
                        need(code == 1 and why and not others,
                             f"{name}: without {st['Sid']} on {resource.rsplit(':', 1)[-1]}, its probes are denied "
                             f"({', '.join(p['table'] + '/' + p['region'] + '/' + p['probe'] + ': ' + p['class'] for p in (why or failed)[:3])})")
                if has_roles:
                    apply(admin_ns, {"roles": [{"name": "policy-test-target", "trust": [creds["arn"]],
                                                "policy": role_doc}]}, replace_role=True)
        print(f"policy_test: {runs} runs in {time.monotonic() - started:.1f}s")
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    if failures:
        print(f"policy_test: FAILED ({len(failures)})", file=sys.stderr)
        sys.exit(1)
    print("policy_test: ok")


def apply(admin_ns, spec, replace_role=False):
    """localaws.apply with a spec given in memory; a role is replaced when asked."""
    import io
    if replace_role:
        iam = localaws.client("iam", admin_ns["endpoint"], admin_ns["admin_key"], admin_ns["admin_secret"])
        for r in spec.get("roles", []):
            try:
                for p in iam.list_role_policies(RoleName=r["name"])["PolicyNames"]:
                    iam.delete_role_policy(RoleName=r["name"], PolicyName=p)
                iam.delete_role(RoleName=r["name"])
            except iam.exceptions.NoSuchEntityException:
                pass
    stdin = sys.stdin
    sys.stdin = io.StringIO(json.dumps(spec))
    try:
        return localaws.apply(SimpleNamespace(spec="-", endpoint=admin_ns["endpoint"], admin_key=admin_ns["admin_key"],
                                              admin_secret=admin_ns["admin_secret"]))
    finally:
        sys.stdin = stdin


if __name__ == "__main__":
    main()
