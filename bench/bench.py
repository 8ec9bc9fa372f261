#!/usr/bin/env python3
"""Benchmark of `check` against a fast fake AWS, side by side with a threaded boto3 peer.

Usage: bench.py --binary PATH [--repeat 5] [--one-probe-runs 20]
                [--rows 64:50,1024:50,4096:0] [--workdir DIR]
(bench/bench.sh builds the release binary and runs this; `make bench` runs that.)

Servers: two bench/fake_aws.py on loopback, one answering after 50 ms, one at
once. Every request of every region goes to the same server (the canary's
--endpoint-url, the peer's endpoint_url).

Work: a row "N probes over 4 regions" is N/4 tables `bench-0000`.. each listed
in all four REGIONS (one DescribeTable per (table, region)), plus the identity
(GetCallerIdentity) and the metrics (PutMetricData) of the run. The canary runs
`check --config C --endpoint-url URL --output json --sink cloudwatch --region
us-east-1` with `concurrency` left at its default; the peer is
bench/boto3_peer.py (32 threads) on the same configuration file.

Per row both run --repeat times, alternately (so a noisy moment hits both),
each timed as a whole process by a small C launcher (see LAUNCHER_C): wall
time from fork to reap (CLOCK_MONOTONIC), peak RSS (ru_maxrss) and CPU
(ru_utime + ru_stime) of that child alone, from wait4(). CPU per probe is the
process's whole CPU (start, identity and publishing included) over N. The
1-probe time is `check` of one table in one region against the instant
server, median of --one-probe-runs runs (after one unmeasured run).

Every run is checked: the canary must exit 0 with a healthy JSON report of N
ok probes whose metrics went to CloudWatch, the peer must exit 0 with N ok, and
the fake server must have seen exactly 1 GetCallerIdentity, N DescribeTable and
at least 1 PutMetricData. Any other run stops the benchmark (exit 1, naming
the run and keeping its output): it must not measure failures. The goals are
reported (met/MISSED), not enforced.

Latency (--ratio-runs): 64 probes over 4 regions at 50 ms with `--sink none`
(identity overlapping the probes, nothing published), against one round
trip: a 1-probe check at 50 ms, also `--sink none`. Both are the run's own
`duration_ms` (from its first call to its last answer); the process's wall
time is printed beside them.

Lambda init (--init-runs): the binary started as a Lambda function
(AWS_LAMBDA_RUNTIME_API pointing at a small Runtime API in this driver, the
function's environment from events/env.json), timed from just before the
process is spawned to its first `GET /2018-06-01/runtime/invocation/next`;
the process is then killed.

SDK floor (--floor PATH): bench/floor, the same DescribeTable calls with a
bare SDK client and nothing of the canary, unpaced; its CPU per call is the
floor under `check`'s.

Goals: a table of each goal of the issue, the figure before this work (the
run at commit 3d3e4e3, BEFORE below) and this run's.

Noise: the last line gives the CPU the rest of the machine used meanwhile
(/proc/stat busy time less this driver's and its children's), in CPUs.

Environment of both, from scratch (PATH, LANG, LC_ALL, TMPDIR kept): dummy keys
AKIDEXAMPLE/secret, AWS_EC2_METADATA_DISABLED=true, an empty HOME,
AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE naming files that do not exist.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
HOME_REGION = "us-east-1"
RUN_TIMEOUT_S = 120
DEADLINE_MS = 110_000
PEER_THREADS = 32
# the goals (reported, not enforced)
GOAL_RATIO = 3.0
GOAL_RSS_MB = 30.0
GOAL_CPU_US = 60.0
GOAL_ONE_PROBE_MS = 5.0
GOAL_LATENCY_RATIO = 1.5
PUBLISHED_INIT_MS = 14.0  # Rust on Lambda, p50 init, as published
RATIO_PROBES, RATIO_DELAY_MS = 64, 50
# This benchmark at commit 3d3e4e3 (before the work of issue 22), same machine (2 cores).
BEFORE = {
    "cpu": "255 µs",
    "latency": "1.62× (85 ms / 52 ms)",
    "one": "8.2 ms",
    "init": "7.4 ms",
    "ratio64": "5.38×",
    "ratio1024": "4.35×",
    "rss": "18.4 MB",
}


def config(probes):
    if probes % len(REGIONS):
        raise SystemExit(f"bench: {probes} probes cannot be spread evenly over {len(REGIONS)} regions")
    return {
        "targets": [{"table": f"bench-{i:04d}", "regions": REGIONS, "probes": ["describe"]}
                    for i in range(probes // len(REGIONS))],
        "deadline_ms": DEADLINE_MS,
    }


def one_probe_config():
    return {"targets": [{"table": "bench-one", "regions": [HOME_REGION], "probes": ["describe"]}],
            "deadline_ms": DEADLINE_MS}


class Fake:
    """A bench/fake_aws.py child; stops with us (and --exit-with-parent if we are killed)."""

    def __init__(self, python, delay_ms, log):
        self.delay_ms = delay_ms
        self.proc = subprocess.Popen(
            [python, os.path.join(HERE, "fake_aws.py"), "--delay-ms", str(delay_ms), "--exit-with-parent"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise SystemExit(f"bench: fake_aws.py (delay {delay_ms} ms) did not print its port: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self):
        with urllib.request.urlopen(self.url + "/__fake/stats", timeout=5) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Peak RSS must be measured from a small parent. A child's ru_maxrss includes the high-water
# RSS of the process image exec() replaced: a child forked (or vforked) by this Python driver
# reports at least the driver's own RSS (20-60 MB here, more after parsing large reports),
# whatever it used itself (`/bin/true` measures 62 MB from a driver of 62 MB). So every run
# goes through this launcher (~1 MB), compiled with the C compiler cargo links with, which
# forks, execs, reaps with wait4() and writes the child's own figures.
LAUNCHER_C = r"""
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* spawn_rusage OUT CMD ARG...: run CMD (stdio inherited); write "wall_ns maxrss_kib
   utime_us stime_us" to OUT; exit with CMD's status. CMD dies with this process. */
int main(int argc, char **argv) {
  struct timespec t0, t1;
  struct rusage ru;
  int status;
  FILE *f;
  pid_t pid;
  if (argc < 3) return 125;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid = fork();
  if (pid < 0) return 126;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  if (wait4(pid, &status, 0, &ru) < 0) return 126;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  f = fopen(argv[1], "w");
  if (f == NULL) return 126;
  fprintf(f, "%lld %ld %lld %lld\n",
          (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec), ru.ru_maxrss,
          (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec);
  fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
"""


def build_launcher(workdir):
    src = os.path.join(workdir, "spawn_rusage.c")
    exe = os.path.join(workdir, "spawn_rusage")
    with open(src, "w") as f:
        f.write(LAUNCHER_C)
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench: cannot compile the measuring launcher with {cc}: {r.stderr.strip()}")
    return exe


def run_once(launcher, argv, env, out_path):
    """Run argv under the launcher; return (exit code, wall s, peak RSS MiB, CPU s, stdout text)."""
    usage_path = out_path + ".rusage"
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        p = subprocess.Popen([launcher, usage_path] + argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
        try:
            rc = p.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            p.kill()  # the child has PR_SET_PDEATHSIG: it dies with the launcher
            p.wait()
            raise SystemExit(f"bench: {argv[0]} still running after {RUN_TIMEOUT_S} s; output in {out_path}")
    with open(usage_path) as f:
        wall_ns, rss_kib, utime_us, stime_us = (int(x) for x in f.read().split())
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    return rc, wall_ns / 1e9, rss_kib / 1024, (utime_us + stime_us) / 1e6, stdout


def canary_problems(stdout, n, sink="cloudwatch"):
    try:
        rep = json.loads(stdout)
    except ValueError as e:
        return [f"no JSON report ({e})"]
    problems = []
    ident = rep.get("identity", {})
    if ident.get("outcome") != "ok":
        problems.append(f"identity {ident.get('class')}: {ident.get('message')}")
    probes = rep.get("probes", [])
    if len(probes) != n:
        problems.append(f"{len(probes)} probes, expected {n}")
    bad = [p for p in probes if p.get("outcome") != "ok"]
    for p in bad[:3]:
        problems.append(f"{p['table']}/{p['region']}/{p['probe']}: {p['outcome']} {p['class']} {p.get('message')}")
    if len(bad) > 3:
        problems.append(f"... and {len(bad) - 3} more failed probes")
    m = rep.get("metrics") or {}
    if sink == "cloudwatch" and (m.get("sink") != "cloudwatch" or m.get("fallback_reason") or not m.get("requests")):
        problems.append(f"metrics not published to CloudWatch: {m}")
    if sink == "none" and m.get("sink") != "none":
        problems.append(f"metrics sink is not none: {m}")
    if not rep.get("healthy"):
        problems.append("report not healthy")
    return problems


def peer_problems(stdout, n):
    try:
        s = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        return [f"no JSON summary ({e})"]
    return [] if s.get("ok") == n and s.get("failed") == 0 else [f"summary {s}"]


def server_problems(before, after, n, sink="cloudwatch"):
    d = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    problems = []
    if d.get("GetCallerIdentity", 0) != 1:
        problems.append(f"server saw {d.get('GetCallerIdentity', 0)} GetCallerIdentity, expected 1")
    if d.get("DescribeTable", 0) != n:
        problems.append(f"server saw {d.get('DescribeTable', 0)} DescribeTable, expected {n}")
    if sink == "cloudwatch" and d.get("PutMetricData", 0) < 1:
        problems.append("server saw no PutMetricData")
    if sink == "none" and d.get("PutMetricData", 0):
        problems.append("server saw PutMetricData with sink none")
    if d.get("unknown", 0):
        problems.append(f"server saw {d['unknown']} unknown requests")
    return problems


class Unhealthy(Exception):
    """A run that failed: the benchmark stops rather than measure failures."""


class Bench:
    def __init__(self, a):
        self.a = a
        self.workdir = a.workdir or tempfile.mkdtemp(prefix="canary-bench.")
        home = os.path.join(self.workdir, "home")
        os.makedirs(home, exist_ok=True)
        # An environment from scratch: nothing of the caller's (AWS_*, CANARY_*, RUST_LOG, proxies,
        # SSL_CERT_*) changes what is measured; both sides get the same.
        env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.update({
            "HOME": home,
            "AWS_CONFIG_FILE": os.path.join(self.workdir, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.workdir, "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
        })
        self.env = env
        self.launcher = build_launcher(self.workdir)

    def write_config(self, name, cfg):
        path = os.path.join(self.workdir, f"config-{name}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def canary_argv(self, cfg_path, fake, sink="cloudwatch"):
        return [self.a.binary, "check", "--config", cfg_path, "--endpoint-url", fake.url, "--output", "json",
                "--sink", sink, "--region", HOME_REGION]

    def peer_argv(self, cfg_path, fake):
        return [self.a.python, os.path.join(HERE, "boto3_peer.py"), "--config", cfg_path,
                "--endpoint-url", fake.url, "--region", HOME_REGION, "--threads", str(PEER_THREADS)]

    def measured(self, who, argv, fake, n, tag, sink="cloudwatch", report=None):
        before = fake.stats()
        rc, wall, rss, cpu, stdout = run_once(self.launcher, argv, self.env,
                                              os.path.join(self.workdir, f"out-{tag}.json"))
        problems = canary_problems(stdout, n, sink) if who == "canary" else peer_problems(stdout, n)
        problems += server_problems(before, fake.stats(), n, sink)
        if rc != 0:
            problems.insert(0, f"exit status {rc}")
        if problems:
            raise Unhealthy(f"{who} run {tag} is not healthy: " + "; ".join(problems)
                            + f"\n  its output: {self.workdir}/out-{tag}.json(.err)")
        if report is not None:
            report.append(json.loads(stdout))
        return wall, rss, cpu

    def latency(self, fake, runs):
        """(run ms, wall ms) of 64 probes and of 1 probe at the fake's delay, sink none: medians."""
        out = {}
        for name, n, cfg in (("many", RATIO_PROBES, config(RATIO_PROBES)), ("one", 1, one_probe_config())):
            path = self.write_config(f"latency-{name}", cfg)
            argv = self.canary_argv(path, fake, sink="none")
            self.measured("canary", argv, fake, n, f"latency-{name}-warmup", sink="none")
            reports, walls = [], []
            for r in range(runs):
                wall, _, _ = self.measured("canary", argv, fake, n, f"latency-{name}-{r}", sink="none",
                                           report=reports)
                walls.append(wall * 1000)
            out[name] = ([rep["duration_ms"] for rep in reports], walls)
        return out

    def lambda_init(self, runs):
        """Milliseconds from spawning the binary as a Lambda function to its first `next` request."""
        import http.server
        import threading
        seen = []
        got = threading.Event()

        class RuntimeApi(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path == "/2018-06-01/runtime/invocation/next":
                    seen.append(time.monotonic())
                    got.set()
                self.send_response(503)  # never an event: the process is killed before it asks again
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with open(os.path.join(os.path.dirname(HERE), "events", "env.json"), encoding="utf-8") as f:
            declared = json.load(f)["CanaryFunction"]
        env = dict(self.env)
        env.update({k: v for k, v in declared.items() if k != "AWS_ENDPOINT_URL"})
        env.update({
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never called before `next`
            "AWS_REGION": HOME_REGION,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "canary-bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        })
        out = []
        try:
            for r in range(runs + 1):
                got.clear()
                seen.clear()
                t0 = time.monotonic()
                p = subprocess.Popen([self.a.binary], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ok = got.wait(timeout=10)
                p.kill()
                p.wait()
                if not ok:
                    raise Unhealthy("the Lambda never asked the Runtime API for an event")
                if r:  # the first is a warm-up (page cache)
                    out.append((seen[0] - t0) * 1000)
        finally:
            server.shutdown()
        return out

    def floor(self, fake, runs):
        """CPU µs per call of bench/floor (the bare SDK) at 4096 calls, no delay; and the canary's own
        figure for the same calls unpaced (describe_per_second 2500) for comparison."""
        if not self.a.floor:
            return None
        cpus = []
        for r in range(runs):
            p = subprocess.run([self.a.floor, "--endpoint-url", fake.url, "--probes", "4096"], env=self.env,
                               capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
            try:
                res = json.loads(p.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = {}
            if p.returncode != 0 or res.get("ok") != 4096:
                raise Unhealthy(f"sdk-floor run {r} failed ({p.returncode}): {p.stdout} {p.stderr[-500:]}")
            cpus.append(res["process_cpu_us_per_probe"])
        cfg = config(4096)
        cfg["describe_per_second"] = 2500
        path = self.write_config("unpaced", cfg)
        unpaced = [self.measured("canary", self.canary_argv(path, fake), fake, 4096, f"unpaced-{r}")[2]
                   / 4096 * 1e6 for r in range(runs)]
        return cpus, unpaced

    def row(self, n, fake, repeat):
        cfg = self.write_config(f"{n}-{fake.delay_ms}", config(n))
        res = {"canary": [], "peer": []}
        for r in range(repeat):
            res["canary"].append(self.measured("canary", self.canary_argv(cfg, fake), fake, n,
                                               f"canary-{n}-{fake.delay_ms}-{r}"))
            res["peer"].append(self.measured("peer", self.peer_argv(cfg, fake), fake, n,
                                             f"peer-{n}-{fake.delay_ms}-{r}"))
        return res

    def one_probe(self, fake, runs):
        cfg = self.write_config("one", one_probe_config())
        argv = self.canary_argv(cfg, fake)
        self.measured("canary", argv, fake, 1, "one-warmup")  # page cache, not counted
        return [self.measured("canary", argv, fake, 1, f"one-{r}") for r in range(runs)]

    def start_floor(self, runs):
        """Wall seconds of `--version`: starting the process and nothing else (the floor under
        the 1-probe check)."""
        out = os.path.join(self.workdir, "version")
        walls = []
        for r in range(runs + 1):
            rc, wall, _, _, _ = run_once(self.launcher, [self.a.binary, "--version"], self.env, out)
            if rc != 0:
                raise Unhealthy(f"{self.a.binary} --version exited {rc}")
            if r:
                walls.append(wall)
        return walls


def machine_busy_s():
    """CPU seconds all CPUs spent busy since boot (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s():
    """CPU seconds of this driver and every child it reaped (launchers, runs, servers)."""
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        u = resource.getrusage(who)
        t += u.ru_utime + u.ru_stime
    return t


def spread(xs, fmt, unit):
    """median (min–max) unit"""
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))}) {unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--python", default=sys.executable, help="the interpreter for the servers and the peer")
    ap.add_argument("--rows", default="64:50,1024:50,4096:0", help="probes:delay_ms,...")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each side per row")
    ap.add_argument("--one-probe-runs", type=int, default=20)
    ap.add_argument("--ratio-runs", type=int, default=7, help="runs of the 64-probe latency row and its round trip")
    ap.add_argument("--init-runs", type=int, default=20, help="Lambda cold starts timed")
    ap.add_argument("--floor", help="bench/floor's binary (the bare SDK); left out when not given")
    ap.add_argument("--workdir", help="keep configurations and outputs here (default: a temporary directory, "
                    "removed after a healthy run)")
    a = ap.parse_args()
    rows = [tuple(int(x) for x in r.split(":")) for r in a.rows.split(",")]
    b = Bench(a)
    t_start = time.monotonic()
    busy0, own0 = machine_busy_s(), own_cpu_s()
    log = open(os.path.join(b.workdir, "fake_aws.log"), "ab")
    fakes = {}
    try:
        for d in sorted({d for _, d in rows} | {0, RATIO_DELAY_MS}):
            fakes[d] = Fake(a.python, d, log)
        results = []
        for n, d in rows:
            print(f"== {n} probes over {len(REGIONS)} regions, delay {d} ms: {a.repeat} runs each",
                  file=sys.stderr, flush=True)
            results.append((n, d, b.row(n, fakes[d], a.repeat)))
        print(f"== 1-probe check, {a.one_probe_runs} runs", file=sys.stderr, flush=True)
        one = b.one_probe(fakes[0], a.one_probe_runs)
        floor = b.start_floor(a.one_probe_runs)
        print(f"== {RATIO_PROBES} probes at {RATIO_DELAY_MS} ms vs one round trip, sink none, {a.ratio_runs} runs each",
              file=sys.stderr, flush=True)
        lat = b.latency(fakes[RATIO_DELAY_MS], a.ratio_runs)
        print(f"== Lambda init, {a.init_runs} runs", file=sys.stderr, flush=True)
        init = b.lambda_init(a.init_runs)
        if a.floor:
            print("== SDK floor (bench/floor) and the canary unpaced, 4096 calls, 3 runs each", file=sys.stderr,
                  flush=True)
        sdk_floor = b.floor(fakes[0], 3)
    except Unhealthy as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        for f in fakes.values():
            f.stop()
    elapsed = time.monotonic() - t_start
    busy1, own1 = machine_busy_s(), own_cpu_s()

    f2 = "{:.2f}".format
    f1 = "{:.1f}".format
    f0 = "{:.0f}".format
    print()
    print(f"`check` ({os.path.basename(a.binary)}, default `concurrency`) vs threaded boto3 ({PEER_THREADS} "
          f"threads), fake AWS on loopback, {len(REGIONS)} regions; median (min–max) of the runs; "
          f"ratio = boto3 wall / canary wall (medians)")
    print()
    print("| probes | delay | canary wall | boto3 peer wall | ratio | canary peak RSS | canary CPU/probe "
          "| boto3 CPU/probe | runs |")
    print("|---|---|---|---|---|---|---|---|---|")
    goals = []
    for n, d, res in results:
        cw = [w for w, _, _ in res["canary"]]
        pw = [w for w, _, _ in res["peer"]]
        rss = [r for _, r, _ in res["canary"]]
        cpu = [c / n * 1e6 for _, _, c in res["canary"]]
        pcpu = [c / n * 1e6 for _, _, c in res["peer"]]
        ratio = statistics.median(pw) / statistics.median(cw)
        print(f"| {n} | {d} ms | {spread(cw, f2, 's')} | {spread(pw, f2, 's')} | {ratio:.2f}× "
              f"| {spread(rss, f1, 'MB')} | {spread(cpu, f0, 'µs')} | {spread(pcpu, f0, 'µs')} | {len(cw)} |")
        if d > 0:
            goals.append((f"{n} probes at {d} ms: ≥ {GOAL_RATIO:.0f}× faster than boto3", ratio >= GOAL_RATIO,
                          f"{ratio:.2f}×"))
        if n == max(r[0] for r in rows):
            goals.append((f"peak RSS at {n} probes ≤ {GOAL_RSS_MB:.0f} MB", max(rss) <= GOAL_RSS_MB,
                          f"{statistics.median(rss):.1f} MB, max {max(rss):.1f}"))
        if d == 0:
            goals.append((f"CPU per probe at {n} probes, no delay ≤ {GOAL_CPU_US:.0f} µs",
                          statistics.median(cpu) <= GOAL_CPU_US, f"{statistics.median(cpu):.0f} µs"))
    one_ms = [w * 1000 for w, _, _ in one]
    print()
    print(f"1-probe check (identity, 1 DescribeTable, PutMetricData; no delay): "
          f"{spread(one_ms, f1, 'ms')} wall, {spread([c * 1000 for _, _, c in one], f1, 'ms')} CPU, "
          f"{spread([r for _, r, _ in one], f1, 'MB')} peak RSS; {len(one_ms)} runs; "
          f"process start alone (`--version`): {spread([w * 1000 for w in floor], f1, 'ms')}")
    goals.append((f"1-probe check ≤ {GOAL_ONE_PROBE_MS:.0f} ms", statistics.median(one_ms) <= GOAL_ONE_PROBE_MS,
                  f"{statistics.median(one_ms):.1f} ms"))
    many_run, many_wall = lat["many"]
    one_run, one_wall = lat["one"]
    lat_ratio = statistics.median(many_run) / statistics.median(one_run)
    print()
    print(f"{RATIO_PROBES} probes over {len(REGIONS)} regions at {RATIO_DELAY_MS} ms, sink none: run "
          f"{spread(many_run, f1, 'ms')}, process {spread(many_wall, f1, 'ms')}; one round trip (1 probe, same "
          f"server): run {spread(one_run, f1, 'ms')}, process {spread(one_wall, f1, 'ms')}; ratio of the runs "
          f"{lat_ratio:.2f}×, of the processes {statistics.median(many_wall) / statistics.median(one_wall):.2f}×")
    goals.append((f"{RATIO_PROBES} probes over {len(REGIONS)} regions at {RATIO_DELAY_MS} ms ≤ "
                  f"{GOAL_LATENCY_RATIO}× one round trip", lat_ratio <= GOAL_LATENCY_RATIO,
                  f"{lat_ratio:.2f}× ({statistics.median(many_run):.0f} ms / {statistics.median(one_run):.0f} ms)"))
    print(f"Lambda init (spawn to the first Runtime API `next`): {spread(init, f1, 'ms')}, {len(init)} runs; "
          f"published p50 init of Rust on Lambda: about {PUBLISHED_INIT_MS:.0f} ms (on AWS, not comparable "
          f"one to one: this machine, no sandbox, no code download)")
    goals.append(("Lambda init, reported against ~14 ms published", None, f"{statistics.median(init):.1f} ms"))
    if sdk_floor:
        fl, unpaced = sdk_floor
        print(f"SDK floor (bench/floor, bare client, 4096 DescribeTable unpaced): {spread(fl, f0, 'µs')} CPU per call; "
              f"`check` unpaced (describe_per_second 2500): {spread(unpaced, f0, 'µs')} per probe")
    print()
    keyed = {
        "CPU per probe": "cpu", "1-probe check": "one", "Lambda init": "init", "peak RSS": "rss",
        f"{RATIO_PROBES} probes over": "latency", "64 probes at": "ratio64", "1024 probes at": "ratio1024",
    }
    print("| goal | before (3d3e4e3) | after (this run) | |")
    print("|---|---|---|---|")
    for what, ok, value in goals:
        before = next((BEFORE[v] for k, v in keyed.items() if what.startswith(k)), "")
        verdict = "reported" if ok is None else ("met" if ok else "MISSED")
        print(f"| {what} | {before} | {value} | {verdict} |")
    print()
    other = "unknown"
    if busy0 is not None and busy1 is not None:
        # what the rest of the machine used meanwhile: the noise of these numbers
        other = f"{max(0.0, (busy1 - busy0) - (own1 - own0)) / elapsed:.2f}"
    print(f"{os.cpu_count()} CPUs; other processes used {other} CPUs on average meanwhile (noise); "
          f"benchmark took {elapsed:.0f} s")
    if not a.workdir:
        shutil.rmtree(b.workdir, ignore_errors=True)  # kept when a run failed, or with --workdir
    return 0


if __name__ == "__main__":
    sys.exit(main())
