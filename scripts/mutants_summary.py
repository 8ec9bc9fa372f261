#!/usr/bin/env python3
"""Per-file summary of one or more cargo-mutants runs.

Usage: mutants_summary.py [--current LIST] DIR [DIR ...]

Each DIR holds outcomes.json (e.g. mutants.out; after `make mutants`, give
mutants.out.old then mutants.out: the unit-test pass, then the full-suite pass
over what it missed). Prints a markdown table: per source file, the mutants
tested, caught, missed, timed out and unviable, and the score (caught +
timeout over caught + missed + timeout: unviable mutants do not build, so they
test nothing). A mutant tested in several runs counts once, by its latest
outcome (runs are read in order). Then the missed mutants, one per line.

--current LIST: LIST is the output of `cargo mutants --list` for the code as
it is now. Only those mutants count, and a mutant is matched across runs by
file, column and description (the k-th such mutant in the file), so a run
taken before a change that only moved lines still counts. Mutants of the
list that no run tested are printed as "not tested".
"""
import collections
import json
import os
import re
import sys

KINDS = {
    "CaughtMutant": "caught",
    "MissedMutant": "missed",
    "Timeout": "timeout",
    "Unviable": "unviable",
}

NAME = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<desc>.*)$")


def keyed(names):
    """(file, col, desc, k) for each name, in order; k counts repeats."""
    seen = collections.Counter()
    out = []
    for name in names:
        m = NAME.match(name)
        if not m:
            out.append((name, None))
            continue
        base = (m["file"], m["col"], m["desc"])
        out.append((name, base + (seen[base],)))
        seen[base] += 1
    return out


def outcomes(d):
    path = os.path.join(d, "outcomes.json")
    with open(path) as f:
        data = json.load(f)
    rows = []
    for o in data.get("outcomes", []):
        sc = o.get("scenario")
        if not isinstance(sc, dict) or "Mutant" not in sc:
            continue  # the baseline
        m = sc["Mutant"]
        name = m.get("name") or f"{m['file']}: {m.get('replacement', '')}"
        kind = KINDS.get(o.get("summary"))
        if kind:
            rows.append((m["file"], name, kind))
    return rows


def main(argv):
    current = None
    if len(argv) >= 2 and argv[0] == "--current":
        with open(argv[1]) as f:
            current = [l.rstrip("\n") for l in f if l.strip()]
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    latest = {}
    for d in argv:
        rows = outcomes(d)
        if current is None:
            for file, name, kind in rows:
                latest[(file, name)] = (file, name, kind)
            continue
        # Order each run's rows as cargo-mutants lists them (by line) before
        # counting repeats, so k means the same mutant in every run.
        def line_of(r):
            m = NAME.match(r[1])
            return (r[0], int(m["line"]) if m else 0, int(m["col"]) if m else 0)
        rows.sort(key=line_of)
        kinds = dict(zip((k for _, k in keyed([n for _, n, _ in rows])), rows))
        for name, key in keyed(current):
            if key in kinds:
                latest[key] = (kinds[key][0], name, kinds[key][2])
    if current is not None:
        for name, key in keyed(current):
            latest.setdefault(key, (name.split(":", 1)[0], name, "not tested"))
    per = collections.defaultdict(collections.Counter)
    for file, _, kind in latest.values():
        per[file][kind] += 1
    print("| file | tested | caught | missed | timeout | unviable | score |")
    print("|---|---|---|---|---|---|---|")
    total = collections.Counter()
    for file in sorted(per):
        c = per[file]
        total.update(c)
        print(row(file, c))
    print(row("**all**", total))
    for label in ("missed", "not tested"):
        names = sorted(n for _, n, kind in latest.values() if kind == label)
        if names:
            print()
            print(f"{label}:")
            for name in names:
                print(f"- {name}")
    return 0


def row(label, c):
    viable = c["caught"] + c["missed"] + c["timeout"]
    score = f"{100 * (c['caught'] + c['timeout']) / viable:.0f}%" if viable else "-"
    tested = viable + c["unviable"]
    return (f"| {label} | {tested} | {c['caught']} | {c['missed']} | {c['timeout']} | "
            f"{c['unviable']} | {score} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
