"""The harness of the moto deployment tests (deploy_test.py, target_role_test.py): a moto
launcher that waits until it answers, and a runner of named, timed steps that stops moto,
shows its log on failure, keeps or removes the temp dir, and prints a summary.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

# localaws.py is in scripts/localaws/ (the local AWS the tests and the demo start)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "scripts", "localaws"))
import localaws  # noqa: E402


class Fail(Exception):
    """A check that did not hold: its message is the failure."""


def need(cond, message):
    if not cond:
        raise Fail(message)


def start_moto(argv, logdir):
    """Starts `argv + [port]` (a moto launcher) on a free loopback port, its output in
    logdir/moto.log; returns (process, url) once it answers, within 60 s."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(logdir, "moto.log"), "wb")
    proc = subprocess.Popen(argv + [str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        need(proc.poll() is None, f"moto exited with {proc.returncode}; log: {log.name}")
        try:
            localaws.wait(argparse.Namespace(endpoint=url, timeout=0.1))
            return proc, url
        except SystemExit:
            need(time.monotonic() < deadline, f"moto not answering on {url} after 60 s")


def run(name, a, tmp, body):
    """Runs body(step, summary) with the steps timed; `a.moto` (set by the body) is stopped
    whatever happens. Returns whether it passed, after printing the summary."""
    times, summary, ok = [], [], False

    def step(key, title):
        times.append((key, title, time.monotonic()))
        print(f"== {title}", flush=True)

    try:
        body(step, summary)
        ok = True
    except Exception as e:  # Fail, or boto, moto, I/O: a failure with the step named
        why = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
        print(f"{name}: FAILED at '{times[-1][1] if times else 'start'}': {why}", file=sys.stderr)
    finally:
        if getattr(a, "moto", None) is not None:
            a.moto.terminate()
            try:
                a.moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                a.moto.kill()
        if not ok:
            try:
                with open(os.path.join(tmp, "moto.log"), errors="replace") as f:
                    print("-- moto log (tail):\n" + "\n".join(f.read().splitlines()[-25:]), file=sys.stderr)
            except OSError:
                pass
        if a.keep_logs or not ok:
            print(f"{name}: logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ends = [t for _, _, t in times[1:]] + [time.monotonic()]
    print("== summary")
    for line in summary:
        print(f"   {line}")
    print("   timings: " + ", ".join(f"{k} {end - t:.1f}s" for (k, _, t), end in zip(times, ends))
          + f"; total {ends[-1] - (times[0][2] if times else ends[-1]):.1f}s")
    return ok
