#!/usr/bin/env python3
"""The shipped artifact is run: the arm64 bootstrap.zip of `make build`, checked and executed
(run by `make test-artifact`, after `make build` and `make setup-system`).

1. The zip: `bootstrap` at its root with the executable bit in the zip's external
   attributes, an aarch64 ELF (header parsed here) whose highest GLIBC_x.y symbol version
   (its .gnu.version_r section, parsed here; cross-checked with readelf when present) is at
   most Amazon Linux 2023's 2.34, the zip under Lambda's 50 MB direct-upload limit and the
   unzipped package under 250 MB.
2. The command line: the extracted bootstrap under `qemu-aarch64-static -L <aarch64 sysroot>`
   runs `check` against moto (IAM enforced) over HTTPS: a TLS front on loopback
   (tests/infra/tls_front.py) with a certificate for localhost signed by a CA made for this
   run, trusted through AWS_CA_BUNDLE (--ca-env picks another variable). Healthy, exit 0,
   every probe's class. Then the same run with no CA given (AWS_CA_BUNDLE, SSL_CERT_FILE and
   SSL_CERT_DIR unset): unhealthy, exit 1, the identity call failed with class tls_error and a
   hint that names AWS_CA_BUNDLE.
3. The Lambda: the same bootstrap with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API
   served by this test (next, response, error, init error), with the environment the
   template gives the function (events/env.json's values for its variables, Lambda's own
   variables, the local endpoint over HTTPS), invoked with events/scheduled.json then
   events/on-demand.json: each returned report, and the EMF lines on the function's stdout;
   then an invalid override, which must come back through the error endpoint.

Nothing leaves loopback; the binary gets a clean environment (no inherited AWS_*, SSL_*),
explicit dummy keys of a moto user, AWS_EC2_METADATA_DISABLED=true and the endpoint override.
The time of each part is printed.

Usage: .venv/bin/python tests/infra/artifact_test.py [--zip PATH] [--ca-env VAR] [--sysroot DIR]
  --zip      default: $CARGO_TARGET_DIR (else target)/lambda/dynamodb-auth-canary/bootstrap.zip
  --ca-env   the variable that carries the test CA: AWS_CA_BUNDLE (default) or SSL_CERT_FILE
  --sysroot  default /usr/aarch64-linux-gnu (Debian's libc6-arm64-cross)
"""
import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/infra
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
sys.path[:0] = [HERE, os.path.join(ROOT, "scripts", "localaws")]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
import localaws  # noqa: E402
import tls_front  # noqa: E402

# Lambda quotas: 50 MB zipped for a direct upload, 250 MB unzipped (function and layers).
ZIP_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
MAX_GLIBC = (2, 34)  # Amazon Linux 2023 (provided.al2023)
EM_AARCH64 = 183
REGION = "us-east-1"
FUNCTION_NAME = "dynamodb-auth-canary-CanaryFunction-artifact"
TRUST_VARS = ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
# The class of a run whose endpoint presents a certificate from an unknown issuer (issue 23,
# item 2: TLS failures have their own class, not endpoint_unreachable).
UNTRUSTED_CLASS = "tls_error"

failures = []
passes = []


def check(cond, msg):
    if cond:
        print(f"ok: {msg}")
        passes.append(msg)
    else:
        print(f"FAIL: {msg}")
        failures.append(msg)
    return cond


# ---------------------------------------------------------------- 1. the zip and the ELF

def elf_facts(data):
    """Machine, type, interpreter, NEEDED libraries and the GLIBC_ versions an ELF64 LE file needs."""
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ValueError(f"not ELF64 little-endian (class {data[4]}, data {data[5]})")
    (e_type, e_machine, _version, _entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, _shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
    facts = {"type": e_type, "machine": e_machine, "interp": None, "needed": [], "glibc": set(), "verneed": {}}
    for i in range(e_phnum):
        p_type, _f, p_offset, _va, _pa, p_filesz, _m, _a = struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            facts["interp"] = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    sections = []
    for i in range(e_shnum):
        (sh_name, sh_type, _f, _addr, sh_offset, sh_size, sh_link, sh_info, _al,
         sh_entsize) = struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
        sections.append(SimpleNamespace(type=sh_type, offset=sh_offset, size=sh_size, link=sh_link, info=sh_info,
                                        entsize=sh_entsize))

    def cstr(strtab, off):
        start = strtab.offset + off
        return data[start:data.index(b"\0", start)].decode()

    for s in sections:
        if s.type == 6:  # SHT_DYNAMIC: DT_NEEDED entries name libraries in the linked string table
            strtab = sections[s.link]
            for off in range(s.offset, s.offset + s.size, 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == 0:
                    break
                if tag == 1:
                    facts["needed"].append(cstr(strtab, val))
        if s.type == 0x6FFFFFFE:  # SHT_GNU_verneed (.gnu.version_r): Elf64_Verneed, Elf64_Vernaux chains
            strtab = sections[s.link]
            off = s.offset
            for _ in range(s.info):  # sh_info = number of Verneed entries
                _vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, off)
                lib = cstr(strtab, vn_file)
                aux = off + vn_aux
                for _ in range(vn_cnt):
                    _hash, _flags, _other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                    name = cstr(strtab, vna_name)
                    facts["verneed"].setdefault(lib, []).append(name)
                    m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?", name)
                    if m:
                        facts["glibc"].add(tuple(int(x) for x in m.groups() if x is not None))
                    aux += vna_next
                    if not vna_next:
                        break
                off += vn_next
                if not vn_next:
                    break
    return facts


def readelf_glibc(path):
    """The GLIBC_ versions readelf lists in the version needs section, or None without readelf."""
    tool = shutil.which("aarch64-linux-gnu-readelf") or shutil.which("readelf")
    if not tool:
        return None
    out = subprocess.run([tool, "-V", "--wide", path], capture_output=True, text=True, timeout=60).stdout
    needs = out.split("Version needs section", 1)
    if len(needs) < 2:
        return set()
    return {tuple(int(x) for x in m.groups() if x is not None)
            for m in re.finditer(r"Name: GLIBC_(\d+)\.(\d+)(?:\.(\d+))?\b", needs[1])}


def check_zip(zip_path, workdir):
    print(f"== 1. the zip: {zip_path}")
    zipped = os.path.getsize(zip_path)
    with zipfile.ZipFile(zip_path) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        check("bootstrap" in names, f"bootstrap at the zip's root (entries: {names})")
        unzipped = sum(i.file_size for i in infos)
        info = z.getinfo("bootstrap")
        mode = (info.external_attr >> 16) & 0o7777
        check(info.create_system == 3 and mode & 0o111 == 0o111,
              f"bootstrap is executable in the zip's external attributes (unix mode {oct(mode)})")
        z.extract(info, workdir)
    path = os.path.join(workdir, "bootstrap")
    os.chmod(path, 0o755)
    check(zipped < ZIP_LIMIT, f"zipped {zipped / 1e6:.1f} MB < 50 MB (direct upload)")
    check(unzipped < UNZIPPED_LIMIT, f"unzipped {unzipped / 1e6:.1f} MB < 250 MB")
    with open(path, "rb") as f:
        facts = elf_facts(f.read())
    check(facts["machine"] == EM_AARCH64, f"an aarch64 ELF (e_machine {facts['machine']})")
    check(facts["type"] in (2, 3), f"an executable (e_type {facts['type']})")
    check(facts["interp"] in (None, "/lib/ld-linux-aarch64.so.1"),
          f"the loader is AL2023's aarch64 one ({facts['interp']})")
    print(f"   needs {', '.join(facts['needed']) or 'nothing (static)'}")
    highest = max(facts["glibc"]) if facts["glibc"] else None
    shown = ".".join(map(str, highest)) if highest else "none"
    check(highest is None or highest <= MAX_GLIBC, f"highest GLIBC_ symbol version {shown} <= 2.34 (Amazon Linux 2023)")
    if facts["interp"]:
        check(bool(facts["glibc"]), "a dynamic glibc binary names its GLIBC_ versions (the parser found them)")
    cross = readelf_glibc(path)
    if cross is not None:
        check(cross == facts["glibc"], f"readelf lists the same {len(cross)} GLIBC_ versions")
    return path, {"zipped": zipped, "unzipped": unzipped, "glibc": shown}


# ---------------------------------------------------------------- the local AWS over HTTPS

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(tmp, host="127.0.0.1"):
    """moto (IAM enforced) on host:<free port> -> (process, url)."""
    port = free_port()
    log = open(os.path.join(tmp, f"moto-{host}.log"), "w")
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "localaws", "moto_server.py"),
                             "--host", host, "--port", str(port), "--exit-with-parent"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        localaws.wait(SimpleNamespace(endpoint=url, timeout=60))
    except BaseException:
        moto.terminate()
        raise
    return moto, url


def seed(url, tmp):
    """Tables orders, customers, payroll (events/env.json's and on-demand.json's) and a user that
    may describe and read the first two, not payroll (a must-deny target) -> the user's keys and ARN."""
    admin = localaws.bootstrap(SimpleNamespace(endpoint=url))
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/{}".format
    spec = {
        "users": [{"name": "artifact-canary", "policy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem"],
             "Resource": [arn("orders"), arn("customers")]}]}}],
        "tables": [{"name": t, "regions": [REGION], "key": [{"name": "pk", "type": "S"}]}
                   for t in ("orders", "customers", "payroll")],
    }
    spec_path = os.path.join(tmp, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    created = localaws.apply(SimpleNamespace(endpoint=url, admin_key=admin["access_key_id"],
                                             admin_secret=admin["secret_access_key"], spec=spec_path))
    return created["users"]["artifact-canary"]


def start_local_aws(tmp):
    """Seeded moto on loopback and a TLS front for localhost in front of it -> namespace."""
    moto, url = start_moto(tmp)
    try:
        user = seed(url, tmp)
        ca = tls_front.TestCa(tmp)
        cert, key = ca.server_cert(["localhost"], ["127.0.0.1"])
        front = tls_front.TlsFront(cert, key, ("127.0.0.1", int(url.rsplit(":", 1)[1]))).start()
    except BaseException:
        moto.terminate()
        raise
    return SimpleNamespace(moto=moto, url=url, https=f"https://localhost:{front.port}", front=front, ca=ca.pem,
                           user=user)


def base_env(local, tmp, ca_env, ca):
    """A clean environment for the binary: the user's keys, the region, the HTTPS endpoint, no
    profile files, and exactly one trust variable (ca_env=ca) or none (ca None)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": tmp,
        "LANG": "C.UTF-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(tmp, "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-credentials"),
        "AWS_ACCESS_KEY_ID": local.user["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": local.user["secret_access_key"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": local.https,
    }
    for var in TRUST_VARS:
        env.pop(var, None)
    if ca is not None:
        env[ca_env] = ca
    return env


def emulated(qemu, sysroot, bootstrap, *args):
    return [qemu, "-L", sysroot, bootstrap, *args]


# ---------------------------------------------------------------- 2. the command line

CLI_CONFIG = {
    "defaults": {"regions": [REGION], "probes": ["describe", "read"], "timeout_ms": 5000},
    "targets": [
        {"table": "orders"},
        {"table": "customers", "probes": ["describe"]},
        {"table": "payroll", "probes": ["read"], "expect": "deny"},
    ],
    "metrics": {"sink": "emf"},
}
CLI_EXPECTED = [("orders", "describe"), ("orders", "read"), ("customers", "describe"), ("payroll", "read")]


def probe_rows(report):
    return sorted((p.get("table"), p.get("probe") or p.get("kind"), p.get("outcome"), p.get("class"))
                  for p in report.get("probes", []))


def run_cli(args, local, bootstrap, tmp):
    print(f"== 2. the command line over HTTPS ({local.https}, trusted through {args.ca_env})")
    config = os.path.join(tmp, "cli.json")
    with open(config, "w") as f:
        json.dump(CLI_CONFIG, f)
    cmd = emulated(args.qemu, args.sysroot, bootstrap, "check", "--config", config, "--output", "json",
                   "--canary", "artifact-cli")
    handshakes = local.front.connections
    started = time.monotonic()
    p = subprocess.run(cmd, env=base_env(local, tmp, args.ca_env, local.ca), capture_output=True, text=True,
                       timeout=180, cwd=tmp)
    took = time.monotonic() - started
    try:
        report = json.loads(p.stdout)
    except ValueError:
        report = {}
    check(p.returncode == 0, f"check exits 0 ({took:.2f}s; stderr: {p.stderr.strip()[-600:]})")
    check(report.get("healthy") is True, f"the report is healthy: {json.dumps(report)[:1200]}")
    check(report.get("identity", {}).get("arn") == local.user["arn"], "the identity is the moto user")
    rows = probe_rows(report)
    check(sorted((t, k) for t, k, _o, _c in rows) == sorted(CLI_EXPECTED), f"the configured probes ran: {rows}")
    check(all(o == "ok" and c == "ok" for _t, _k, o, c in rows), "every probe is ok (payroll denied as expected)")
    check(local.front.connections > handshakes, "the calls went through the TLS front")
    check_trust_roots("check", report, args.ca_env, local.ca)
    emf = [json.loads(l) for l in p.stderr.splitlines() if l.startswith("{") and '"_aws"' in l]
    check(any("CloudWatchMetrics" in l.get("_aws", {}) and l.get("Canary") == "artifact-cli" for l in emf),
          "EMF lines on stderr (sink emf)")

    print("== 2b. the same run with no CA given (AWS_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR unset)")
    started = time.monotonic()
    p = subprocess.run(cmd + ["--sink", "none"], env=base_env(local, tmp, args.ca_env, None), capture_output=True,
                       text=True, timeout=180, cwd=tmp)
    untrusted_took = time.monotonic() - started
    try:
        report = json.loads(p.stdout)
    except ValueError:
        report = {}
    ident = report.get("identity", {})
    check(p.returncode == 1, f"an untrusted certificate makes the run unhealthy, exit 1 (rc={p.returncode}, "
                             f"{untrusted_took:.2f}s; stderr: {p.stderr.strip()[-300:]})")
    check(report.get("healthy") is False and ident.get("outcome") != "ok",
          f"the identity call failed: {json.dumps(ident)[:600]}")
    check(ident.get("class") == UNTRUSTED_CLASS, f"its class is {UNTRUSTED_CLASS}: {ident.get('class')}")
    check("AWS_CA_BUNDLE" in (ident.get("hint") or ""), f"its hint names AWS_CA_BUNDLE: {ident.get('hint')}")
    return took, untrusted_took


# ---------------------------------------------------------------- 3. the Lambda

class RuntimeApi:
    """The Lambda Runtime API (2018-06-01) on loopback: events queued by the test are handed out
    by `next`; responses, invocation errors and an init error are recorded."""

    def __init__(self, function_arn):
        self.events = queue.Queue()
        self.results = {}
        self.done = threading.Condition()
        self.init_error = None
        self.function_arn = function_arn
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                item = api.events.get()
                if item is None:  # stopping: hold the connection, never answer
                    return
                request_id, event, deadline_ms = item
                self._reply(200, event, [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                    ("Lambda-Runtime-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"),
                ])

            def do_POST(self):
                body = self._body()
                m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if m:
                    with api.done:
                        api.results[m.group(1)] = (m.group(2), body, dict(self.headers))
                        api.done.notify_all()
                    return self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                if self.path == "/2018-06-01/runtime/init/error":
                    with api.done:
                        api.init_error = (body, dict(self.headers))
                        api.done.notify_all()
                    return self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                self._reply(404, b'{"errorType":"NotFound"}')

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the bootstrap is killed with its long poll open: a reset is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="runtime-api").start()

    def invoke(self, event_bytes, timeout_s, proc):
        """Queues one event; waits for its response or error -> (kind, body, seconds)."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        self.events.put((request_id, event_bytes, int(time.time() * 1000) + timeout_s * 1000))
        with self.done:
            while request_id not in self.results and self.init_error is None:
                if proc.poll() is not None:
                    return "exited", f"the bootstrap exited with {proc.returncode}".encode(), time.monotonic() - started
                if time.monotonic() - started > timeout_s + 30:
                    return "timeout", b"no response", time.monotonic() - started
                self.done.wait(0.2)
            if self.init_error is not None:
                return "init_error", self.init_error[0], time.monotonic() - started
            kind, body, _headers = self.results[request_id]
        return kind, body, time.monotonic() - started

    def stop(self):
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


def check_trust_roots(name, report, ca_env, ca):
    """The report says which roots it trusted: the test CA's file, from the variable that named it."""
    roots = report.get("trust_roots") or {}
    check(roots.get("origin") == ca_env and roots.get("path") == ca and roots.get("certificates") == 1,
          f"{name}: the report's trust_roots are the test CA from {ca_env}: {roots}")


def check_function_report(name, report, config, user_arn):
    """A report the function returned: healthy, the user's identity, exactly the configured
    probes (defaults applied), every one ok (a must-deny target denied), metrics as EMF."""
    check(report.get("healthy") is True, f"{name}: the report is healthy: {json.dumps(report)[:1200]}")
    check(report.get("identity", {}).get("arn") == user_arn, f"{name}: the identity is the moto user")
    rows = probe_rows(report)
    expected = sorted((t["table"], k) for t in config["targets"] for k in t.get("probes", config["defaults"]["probes"]))
    check(sorted((t, k) for t, k, _o, _c in rows) == expected, f"{name}: probes {rows}")
    check(all(o == "ok" and c == "ok" for _t, _k, o, c in rows), f"{name}: every probe is ok")
    check((report.get("metrics") or {}).get("sink") == "emf", f"{name}: metrics went out as EMF")


def emf_lines(text):
    """The EMF lines (JSON objects with _aws.CloudWatchMetrics) among the lines of text."""
    out = []
    for raw in text.splitlines():
        raw = raw.strip()
        start = raw.find("{")
        if start < 0:
            continue
        try:
            line = json.loads(raw[start:])
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("_aws"), dict) and "CloudWatchMetrics" in line["_aws"]:
            out.append(line)
    return out


def function_env(args, local, tmp, runtime_port):
    """The function's environment in Lambda: template.yaml's variables with events/env.json's
    values (the endpoint replaced by the local HTTPS one), and what Lambda itself sets."""
    declared = json.load(open(os.path.join(ROOT, "events", "env.json")))["CanaryFunction"]
    env = base_env(local, tmp, args.ca_env, local.ca)
    env.update({k: v for k, v in declared.items() if k != "AWS_ENDPOINT_URL"})
    env.update({
        "AWS_ENDPOINT_URL": local.https,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",  # template.yaml MemorySize
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        "AWS_LAMBDA_LOG_FORMAT": "JSON",  # LoggingConfig.LogFormat: JSON
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": os.path.dirname(args.bootstrap),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
    })
    return env


def run_lambda(args, local, bootstrap, tmp):
    print(f"== 3. the Lambda: bootstrap against a local Runtime API, endpoint {local.https}")
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
    api = RuntimeApi(arn)
    env = function_env(args, local, tmp, api.port)
    out_path = os.path.join(tmp, "function.out")
    out = open(out_path, "wb")
    started = time.monotonic()
    proc = subprocess.Popen(emulated(args.qemu, args.sysroot, bootstrap), env=env, cwd=os.path.dirname(bootstrap),
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    timings = {}
    try:
        declared = json.loads(json.load(open(os.path.join(ROOT, "events", "env.json")))["CanaryFunction"]["CANARY_CONFIG"])
        for name in ("scheduled", "on-demand"):
            event = open(os.path.join(ROOT, "events", f"{name}.json"), "rb").read()
            kind, body, took = api.invoke(event, 30, proc)  # template.yaml Timeout: 30
            timings[name] = took
            if not check(kind == "response", f"{name}.json: the function responded ({kind}, {took:.2f}s): "
                                             f"{body.decode(errors='replace')[:600]}"):
                continue
            config = declared if name == "scheduled" else json.loads(event)["config"]
            report = json.loads(body)
            check_function_report(name, report, config, local.user["arn"])
            check_trust_roots(name, report, args.ca_env, local.ca)
        # An invalid override: the invocation fails through the Runtime API's error endpoint.
        bad = {"config": {"targets": [{"table": "orders", "regions": ["us-east-9"]}]}}
        kind, body, took = api.invoke(json.dumps(bad).encode(), 30, proc)
        timings["invalid override"] = took
        text = body.decode(errors="replace")
        check(kind == "error" and "InvalidConfigOverride" in text and "targets[0].regions[0]" in text,
              f"an invalid override is an invocation error naming the field ({kind}): {text[:300]}")
        timings["init+all three"] = time.monotonic() - started
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        api.stop()
        out.close()
    emf = emf_lines(open(out_path, encoding="utf-8", errors="replace").read())
    canary = json.load(open(os.path.join(ROOT, "events", "env.json")))["CanaryFunction"]["CANARY_NAME"]
    check(any(l.get("Canary") == canary and l.get("CanaryRuns") == 1.0 for l in emf),
          f"EMF lines on the function's stdout for the scheduled run (Canary={canary})")
    check(any(l.get("Canary") == f"{canary}/on-demand" and l.get("CanaryRuns") == 1.0 for l in emf),
          f"EMF lines for the on-demand run (Canary={canary}/on-demand)")
    check(api.init_error is None, "no init error")
    if failures:
        print(f"--- the function's output ({out_path}):")
        print(open(out_path, encoding="utf-8", errors="replace").read()[-3000:])
    return timings


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    ap.add_argument("--zip", default=os.path.join(target, "lambda", "dynamodb-auth-canary", "bootstrap.zip"))
    ap.add_argument("--ca-env", default="AWS_CA_BUNDLE", choices=["AWS_CA_BUNDLE", "SSL_CERT_FILE"])
    ap.add_argument("--sysroot", default="/usr/aarch64-linux-gnu")
    ap.add_argument("--qemu", default=shutil.which("qemu-aarch64-static") or "qemu-aarch64-static")
    args = ap.parse_args()
    if not os.path.isfile(args.zip):
        sys.exit(f"no {args.zip}: run `make build` first")
    for need in (args.qemu, os.path.join(args.sysroot, "lib", "ld-linux-aarch64.so.1")):
        if not os.path.exists(need):
            sys.exit(f"missing {need}: run `make setup-system` (qemu-user-static, libc6-arm64-cross)")
    total = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="artifact-test-")
    times = {}
    local = None
    try:
        t = time.monotonic()
        args.bootstrap, facts = check_zip(args.zip, tmp)
        times["1 zip+ELF checks"] = time.monotonic() - t
        t = time.monotonic()
        local = start_local_aws(tmp)
        times["moto up + seeded"] = time.monotonic() - t
        t = time.monotonic()
        cli_ok, cli_untrusted = run_cli(args, local, args.bootstrap, tmp)
        times["2 CLI check, trusted"] = cli_ok
        times["2 CLI check, untrusted"] = cli_untrusted
        times["2 CLI part"] = time.monotonic() - t
        t = time.monotonic()
        lam = run_lambda(args, local, args.bootstrap, tmp)
        times.update({f"3 Lambda invoke {k}": v for k, v in lam.items()})
        times["3 Lambda part"] = time.monotonic() - t
    finally:
        if local is not None:
            local.front.stop()
            local.moto.terminate()
            local.moto.wait(timeout=10)
    print(f"== timings (zip {facts['zipped'] / 1e6:.1f} MB, unzipped {facts['unzipped'] / 1e6:.1f} MB, "
          f"GLIBC_ <= {facts['glibc']})")
    for k, v in times.items():
        print(f"   {k:<32} {v:6.2f} s")
    print(f"   {'total':<32} {time.monotonic() - total:6.2f} s")
    print(f"artifact: {len(passes)} passed, {len(failures)} failed")
    if failures:
        print(f"artifact test FAILED (files kept in {tmp}): " + "; ".join(f[:120] for f in failures))
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"artifact test passed in {time.monotonic() - total:.1f}s")


if __name__ == "__main__":
    main()
