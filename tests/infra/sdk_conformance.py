#!/usr/bin/env python3
"""Proves `doctor`'s per-SDK answers against the real SDKs.

In each situation (environment variables and ~/.aws files in a temporary
HOME, instance metadata disabled, STS on a loopback stub) this runs real
boto3 (.venv), AWS CLI v1 (.venv/bin/aws) and the AWS SDK for JavaScript v3
(tests/infra/sdk_probe.mjs, node_modules), each a default client calling
GetCallerIdentity, and the canary's `doctor --output json` with the same
environment, and fails on any disagreement between what an SDK really did
(the key it signed with, the region of its signature, the role it assumed,
or its error) and what doctor said that SDK's family would do.

The stub answers GetCallerIdentity with the key id and region it was
signed with (from the SigV4 Authorization header), and AssumeRole /
AssumeRoleWithWebIdentity with keys derived from the role.

Usage: sdk_conformance.py BINARY [--write-docs]
With --write-docs it rewrites the examples in docs/doctor.md from the
doctor output of two situations; without, it fails if they differ.
"""
import concurrent.futures
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
AWS = os.path.join(ROOT, ".venv", "bin", "aws")
NODE_PROBE = os.path.join(ROOT, "tests", "infra", "sdk_probe.mjs")
DOCS = os.path.join(ROOT, "docs", "doctor.md")
ACCOUNT = "123456789012"

ENV_KEY = "AKIAENVEXAMPLE000001"
PROD_KEY = "AKIAPRODEXAMPLE00002"
DEFAULT_KEY = "AKIADEFEXAMPLE000003"
BASE_KEY = "AKIABASEXAMPLE000004"
PROC_KEY = "AKIAPROCEXAMPLE00005"


def mask(key):
    """redact::mask_key_id: four characters, stars, four characters."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:4] + "*" * (len(key) - 8) + key[-4:]


# ---------------------------------------------------------------- the STS stub
class Sts(http.server.BaseHTTPRequestHandler):
    issued = {}  # access key id -> (role arn, session, source key)
    lock = threading.Lock()

    def log_message(self, *_):
        pass

    def _reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "stub")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        action = form.get("Action", [""])[0]
        auth = self.headers.get("Authorization") or ""
        m = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/", auth)
        key, region = (m.group(1), m.group(2)) if m else (None, None)
        if action == "GetCallerIdentity":
            if key is None:
                return self._error("MissingAuthenticationToken", "no signature")
            with Sts.lock:
                role = Sts.issued.get(key)
            arn = (f"arn:aws:sts::{ACCOUNT}:assumed-role/{role[0].rsplit('/', 1)[1]}/{role[1]}"
                   if role else f"arn:aws:iam::{ACCOUNT}:user/stub")
            return self._reply(200, (
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>{key}|{region}</UserId>"
                f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>"))
        if action in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            role = form.get("RoleArn", [""])[0]
            session = form.get("RoleSessionName", ["s"])[0]
            issued = "ASIA" + hashlib.sha1(role.encode()).hexdigest()[:16].upper()
            with Sts.lock:
                Sts.issued[issued] = (role, session, key)
            return self._reply(200, (
                f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<{action}Result><Credentials><AccessKeyId>{issued}</AccessKeyId>"
                "<SecretAccessKey>stubsecret</SecretAccessKey><SessionToken>stubtoken</SessionToken>"
                "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
                f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/x/{session}</Arn>"
                f"<AssumedRoleId>AROASTUB:{session}</AssumedRoleId></AssumedRoleUser>"
                f"</{action}Result><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>"
                f"</{action}Response>"))
        return self._error("InvalidAction", action)

    def _error(self, code, message):
        return self._reply(400, (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>stub</RequestId></ErrorResponse>"))


# ---------------------------------------------------------------- situations
PROD = f"[prod]\naws_access_key_id = {PROD_KEY}\naws_secret_access_key = s\n"
DEFAULT = f"[default]\naws_access_key_id = {DEFAULT_KEY}\naws_secret_access_key = s\n"
BASE = f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = s\n"
KEYS = {"AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_SECRET_ACCESS_KEY": "s"}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AppRole"
WEB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/WebRole"


def S(name, env=None, config="", credentials="", files=None):
    return {"name": name, "env": env or {}, "config": config, "credentials": credentials,
            "files": files or {}}


SITUATIONS = [
    S("env keys only, AWS_REGION", {**KEYS, "AWS_REGION": "eu-west-1"}),
    S("env keys only, AWS_DEFAULT_REGION", {**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"}),
    S("env keys, both region variables differ",
      {**KEYS, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}),
    S("env keys, both region variables agree",
      {**KEYS, "AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-2"}),
    S("env keys, no region anywhere", KEYS),
    S("AWS_PROFILE and env keys", {**KEYS, "AWS_PROFILE": "prod", "AWS_REGION": "eu-west-1"},
      credentials=PROD),
    S("AWS_PROFILE and env keys, AWS_DEFAULT_REGION only",
      {**KEYS, "AWS_PROFILE": "prod", "AWS_DEFAULT_REGION": "eu-west-1"}, credentials=PROD),
    S("profile only, region in config", {"AWS_PROFILE": "prod"},
      config="[profile prod]\nregion = ap-south-1\n", credentials=PROD),
    S("profile only, AWS_REGION beats the profile's region",
      {"AWS_PROFILE": "prod", "AWS_REGION": "eu-west-1"},
      config="[profile prod]\nregion = ap-south-1\n", credentials=PROD),
    S("profile only, AWS_DEFAULT_REGION and the profile's region",
      {"AWS_PROFILE": "prod", "AWS_DEFAULT_REGION": "eu-west-1"},
      config="[profile prod]\nregion = ap-south-1\n", credentials=PROD),
    S("default profile, region in config", {}, config="[default]\nregion = eu-central-1\n",
      credentials=DEFAULT),
    S("default profile, keys in the config file", {},
      config=DEFAULT.replace("[default]", "[default]\nregion = eu-central-1")),
    S("default profile, region only in the credentials file", {},
      credentials=DEFAULT + "region = sa-east-1\n"),
    S("profile with region only in config, no keys anywhere", {"AWS_PROFILE": "prod"},
      config="[profile prod]\nregion = ap-south-1\n"),
    S("AWS_DEFAULT_REGION only, default profile keys", {"AWS_DEFAULT_REGION": "eu-west-1"},
      credentials=DEFAULT),
    S("AWS_REGION only, default profile keys", {"AWS_REGION": "eu-west-1"}, credentials=DEFAULT),
    S("partial keys: access key only", {"AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_REGION": "eu-west-1"},
      credentials=DEFAULT),
    S("partial keys: secret only", {"AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"},
      credentials=DEFAULT),
    S("partial keys and nothing else", {"AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_REGION": "eu-west-1"}),
    S("missing profile", {"AWS_PROFILE": "prod-typo", "AWS_REGION": "eu-west-1"},
      config="[profile prod]\nregion = ap-south-1\n", credentials=PROD),
    S("missing profile with env keys", {**KEYS, "AWS_PROFILE": "prod-typo", "AWS_REGION": "eu-west-1"},
      credentials=PROD),
    S("no credentials at all", {"AWS_REGION": "eu-west-1"}),
    S("credential_process", {"AWS_PROFILE": "proc", "AWS_REGION": "eu-west-1"},
      config="[profile proc]\ncredential_process = {HOME}/creds.sh\n",
      files={"creds.sh": "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"%s\", "
             "\"SecretAccessKey\": \"s\"}'\n" % PROC_KEY}),
    S("credential_process with env keys", {**KEYS, "AWS_PROFILE": "proc", "AWS_REGION": "eu-west-1"},
      config="[profile proc]\ncredential_process = {HOME}/creds.sh\n",
      files={"creds.sh": "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"%s\", "
             "\"SecretAccessKey\": \"s\"}'\n" % PROC_KEY}),
    S("assume role with source_profile", {"AWS_PROFILE": "app", "AWS_REGION": "eu-west-1"},
      config=f"[profile app]\nrole_arn = {ROLE}\nsource_profile = base\n", credentials=BASE),
    S("assume role, region from the role profile", {"AWS_PROFILE": "app"},
      config=f"[profile app]\nrole_arn = {ROLE}\nsource_profile = base\nregion = eu-north-1\n",
      credentials=BASE),
    S("web identity token file missing",
      {"AWS_WEB_IDENTITY_TOKEN_FILE": "{HOME}/no-such-token", "AWS_ROLE_ARN": WEB_ROLE,
       "AWS_REGION": "eu-west-1"}),
    S("web identity token file missing, default profile keys",
      {"AWS_WEB_IDENTITY_TOKEN_FILE": "{HOME}/no-such-token", "AWS_ROLE_ARN": WEB_ROLE,
       "AWS_REGION": "eu-west-1"}, credentials=DEFAULT),
    S("web identity token file present",
      {"AWS_WEB_IDENTITY_TOKEN_FILE": "{HOME}/token", "AWS_ROLE_ARN": WEB_ROLE,
       "AWS_REGION": "eu-west-1"}, files={"token": "eyJhbGciOiJub25lIn0.e30.stub"}),
    S("AWS_CA_BUNDLE set to a bundle", {**KEYS, "AWS_REGION": "eu-west-1",
                                        "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}),
    S("SSL_CERT_FILE set", {**KEYS, "AWS_REGION": "eu-west-1",
                            "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}),
    S("profile's ca_bundle set", {"AWS_PROFILE": "prod", "AWS_REGION": "eu-west-1"},
      config="[profile prod]\nca_bundle = /etc/ssl/certs/ca-certificates.crt\n", credentials=PROD),
    S("AWS_PROFILE=default explicitly with env keys", {**KEYS, "AWS_PROFILE": "default",
                                                       "AWS_REGION": "eu-west-1"}, credentials=DEFAULT),
]

# The situations whose doctor output docs/doctor.md shows.
DOC_EXAMPLES = {
    "doctor-profile-and-keys": "AWS_PROFILE and env keys, AWS_DEFAULT_REGION only",
}


def environment(situation, home, sts_url):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_STS": sts_url,
           "NODE_NO_WARNINGS": "1", "LANG": "C.UTF-8"}
    for k, v in situation["env"].items():
        env[k] = v.replace("{HOME}", home)
    return env


def prepare(situation):
    home = tempfile.mkdtemp(prefix="sdkconf-")
    os.makedirs(os.path.join(home, ".aws"))
    for name, text in (("config", situation["config"]), ("credentials", situation["credentials"])):
        if text:
            with open(os.path.join(home, ".aws", name), "w") as f:
                f.write(text.replace("{HOME}", home))
    for name, text in situation["files"].items():
        path = os.path.join(home, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    return home


BOTO3 = r"""
import json, boto3
out = {"region": None, "access_key_id": None, "user_id": None, "arn": None, "error": None}
try:
    session = boto3.Session()
    client = session.client("sts")
    out["region"] = client.meta.region_name
    r = client.get_caller_identity()
    out["user_id"], out["arn"] = r["UserId"], r["Arn"]
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"""


def run(cmd, env, timeout=60):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p


def observed_from(user_id, arn, error):
    """What an SDK did: the key and region of its signature, or its error."""
    if error:
        return {"error": error}
    key, _, region = (user_id or "").partition("|")
    return {"key": key, "region": region, "arn": arn}


def run_sdks(env):
    out = {}
    p = run([PYTHON, "-c", BOTO3], env)
    j = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"error": p.stderr}
    out["boto3"] = observed_from(j.get("user_id"), j.get("arn"), j.get("error"))
    p = run([AWS, "sts", "get-caller-identity", "--output", "json"], env)
    if p.returncode == 0:
        j = json.loads(p.stdout)
        out["aws cli v1"] = observed_from(j["UserId"], j["Arn"], None)
    else:
        out["aws cli v1"] = {"error": p.stderr.strip() or f"exit {p.returncode}"}
    p = run(["node", NODE_PROBE], env)
    j = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"error": p.stderr}
    out["js v3"] = observed_from(j.get("user_id"), j.get("arn"), j.get("error"))
    return out


FAMILY = {"boto3": "python", "aws cli v1": "python", "js v3": "js"}


def disagreements(view, seen):
    """Where what doctor said the family would do differs from what it did."""
    out = []
    stop = view.get("stop")
    if stop:
        if "error" not in seen:
            return [f"doctor said it stops with {stop['sdk_says']!r}, but it succeeded: {seen}"]
        if stop["sdk_says"] not in seen["error"]:
            out.append(f"doctor said it stops with {stop['sdk_says']!r}; it said {seen['error']!r}")
        return out
    if "error" in seen:
        return [f"doctor said it succeeds ({view.get('credentials')}), but it failed: {seen['error']!r}"]
    region = (view.get("region") or {}).get("region")
    if region != seen["region"]:
        out.append(f"region: doctor said {region!r}, it signed for {seen['region']!r}")
    creds = view.get("credentials") or {}
    if creds.get("role_arn"):
        role_name = creds["role_arn"].rsplit("/", 1)[1]
        if f"assumed-role/{role_name}/" not in (seen.get("arn") or ""):
            out.append(f"role: doctor said {creds['role_arn']}, it ran as {seen.get('arn')}")
        issued = Sts.issued.get(seen["key"])
        if creds.get("source_access_key_id") and (not issued or mask(issued[2] or "") != creds["source_access_key_id"]):
            out.append(f"role source key: doctor said {creds['source_access_key_id']}, "
                       f"it assumed the role with {issued and mask(issued[2] or '')}")
    elif creds.get("access_key_id") != mask(seen["key"]):
        out.append(f"key: doctor said {creds.get('access_key_id')}, it signed with {mask(seen['key'])}")
    return out


def check(situation, binary, sts_url):
    home = prepare(situation)
    try:
        env = environment(situation, home, sts_url)
        seen = run_sdks(env)
        p = run([binary, "doctor", "--output", "json", "--timeout-ms", "5000"], env)
        try:
            report = json.loads(p.stdout)
        except ValueError:
            return situation["name"], [f"doctor gave no JSON (exit {p.returncode}): {p.stderr}"], seen, None, home
        views = {v["sdk"]: v for v in report.get("sdks", [])}
        problems = []
        for sdk, did in seen.items():
            view = views.get(FAMILY[sdk])
            if view is None:
                problems.append(f"{sdk}: doctor shows no {FAMILY[sdk]} family")
                continue
            problems += [f"{sdk}: {d}" for d in disagreements(view, did)]
        human = None
        if situation["name"] in DOC_EXAMPLES.values():
            h = run([binary, "doctor", "--timeout-ms", "5000"], env)
            human = h.stdout.replace(home, "~").replace(sts_url, "http://127.0.0.1:PORT")
            # What depends on the machine, not on doctor: the system bundle's
            # size and the clock.
            human = re.sub(r"\(\d+ certificates\)", "(N certificates)", human)
            human = re.sub(r"Clock skew against the service: -?\d+ s", "Clock skew against the service: N s", human)
        return situation["name"], problems, seen, human, home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def docs_block(name, text):
    return f"<!-- {name}: written by tests/infra/sdk_conformance.py --write-docs -->\n```\n{text}```\n<!-- /{name} -->"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    write = "--write-docs" in sys.argv[2:]
    for var in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        os.environ.pop(var, None)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sts_url = f"http://127.0.0.1:{server.server_address[1]}"
    failures = 0
    examples = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: check(s, binary, sts_url), SITUATIONS))
    for name, problems, seen, human, _ in results:
        status = "FAIL" if problems else "ok"
        summary = "; ".join(
            f"{sdk}: " + (("error " + did["error"].splitlines()[0][:70]) if "error" in did
                          else f"{mask(did['key'])} in {did['region']}")
            for sdk, did in seen.items())
        print(f"{status:4} {name}: {summary}")
        for p in problems:
            print(f"       {p}")
        failures += bool(problems)
        if human is not None:
            examples[[k for k, v in DOC_EXAMPLES.items() if v == name][0]] = human
    server.shutdown()
    with open(DOCS) as f:
        docs = f.read()
    for key, text in examples.items():
        block = docs_block(key, text)
        pattern = re.compile(rf"<!-- {key}: .*?<!-- /{key} -->", re.S)
        if write:
            docs = pattern.sub(lambda _: block, docs) if pattern.search(docs) else docs
        elif not pattern.search(docs) or pattern.search(docs).group(0) != block:
            print(f"FAIL docs/doctor.md's example {key} is not what doctor prints now "
                  "(run tests/infra/sdk_conformance.py BINARY --write-docs)")
            failures += 1
    if write:
        with open(DOCS, "w") as f:
            f.write(docs)
    print(f"{len(SITUATIONS)} situations, {failures} with disagreements")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
