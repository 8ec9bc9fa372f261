#!/usr/bin/env python3
"""Per-file summary of one or more cargo-mutants runs.

Usage: mutants_summary.py DIR [DIR ...]   (each DIR holds outcomes.json, e.g. mutants.out)

After `make mutants`, give mutants.out.old then mutants.out: the unit-test
pass, then the full-suite pass over the mutants it missed.

Prints a markdown table: per source file, the mutants tested, caught, missed,
timed out and unviable, and the score (caught + timeout over caught + missed +
timeout: unviable mutants do not build, so they test nothing). A mutant tested
in several runs counts once, by its latest outcome (runs are read in order).
Then the missed mutants, one per line.
"""
import collections
import json
import os
import sys

KINDS = {
    "CaughtMutant": "caught",
    "MissedMutant": "missed",
    "Timeout": "timeout",
    "Unviable": "unviable",
}


def outcomes(d):
    path = os.path.join(d, "outcomes.json")
    if not os.path.exists(path):
        # cargo-mutants writes none when it had nothing to test (a full
        # pass after unit tests that caught every mutant).
        print(f"{d}: no outcomes.json (nothing tested there)", file=sys.stderr)
        return
    with open(path) as f:
        data = json.load(f)
    for o in data.get("outcomes", []):
        sc = o.get("scenario")
        if not isinstance(sc, dict) or "Mutant" not in sc:
            continue  # the baseline
        m = sc["Mutant"]
        name = m.get("name") or f"{m['file']}: {m.get('replacement', '')}"
        kind = KINDS.get(o.get("summary"))
        if kind:
            yield m["file"], name, kind


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    latest = {}
    for d in sys.argv[1:]:
        for file, name, kind in outcomes(d):
            latest[(file, name)] = kind
    per = collections.defaultdict(collections.Counter)
    for (file, _), kind in latest.items():
        per[file][kind] += 1
    print("| file | tested | caught | missed | timeout | unviable | score |")
    print("|---|---|---|---|---|---|---|")
    total = collections.Counter()
    for file in sorted(per):
        c = per[file]
        total.update(c)
        print(row(file, c))
    print(row("**all**", total))
    missed = sorted(name for (_, name), kind in latest.items() if kind == "missed")
    if missed:
        print()
        print("missed:")
        for name in missed:
            print(f"- {name}")
    return 0


def row(label, c):
    viable = c["caught"] + c["missed"] + c["timeout"]
    score = f"{100 * (c['caught'] + c['timeout']) / viable:.0f}%" if viable else "-"
    tested = viable + c["unviable"]
    return (f"| {label} | {tested} | {c['caught']} | {c['missed']} | {c['timeout']} | "
            f"{c['unviable']} | {score} |")


if __name__ == "__main__":
    sys.exit(main())
