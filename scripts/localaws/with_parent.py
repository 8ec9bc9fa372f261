#!/usr/bin/env python3
"""Run a command and kill it when this wrapper's parent dies.

The Rust integration tests start dynalite through it, so a test process that
ends (or is killed) never leaves a server behind.
Usage: with_parent.py CMD [ARGS...]
"""
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: with_parent.py CMD [ARGS...]")
    parent = os.getppid()
    child = subprocess.Popen(sys.argv[1:])

    def stop(*_):
        child.terminate()
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != parent:
            stop()
        time.sleep(0.3)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
