"""The coverage audit of the conformance vectors (issue 11 item 9): no expected value stays
unchecked by either the independent oracle or a hand-written check.

For every tests/vectors/*.json, every *value leaf* of `expected` must be covered by

- the oracle: a JSON pointer that check_vectors.py compared with the model and found equal
  (a pointer covers the whole value under it), or
- a hand check: a `checks` entry whose `path` is the leaf or one of its containers. The
  conformance runner compares a check's `value` with the whole JSON value at `path`
  (serde_json equality, tests/src/vectors.rs), so a check on a container covers every leaf
  under it; a check never covers a sibling or a parent.

A *leaf* is a scalar (string, number, boolean, null) or an empty object / array: `"rejected":
[]` or `"excluded": {}` says something (nothing was rejected) and is a value like any number.

A leaf is *metadata*, not a value, when it identifies the build or is prose for people:

- `/ok/engine/...` (the engine's name and version) and `.../sha256` (the program's digest);
- `/error/message`, `/ok/rejected/N/message`, `/ok/problems/N/message` (the message text;
  the code, field, line, column, id and position beside it are values);
- a program's `name` and `notes` in the `program` / `programs` calls (display prose);
- `/error/help` and `.../help` if present (the link to the docs).

Everything else is a value: money, decimals, counts, tiers, rates, times, statuses, reasons,
causes, keys, booleans, error codes and locations.

Prints each vector with unchecked value leaves (their pointers with -v) and the totals. Exit 1
when a vector has more unchecked value leaves than tests/model/coverage-allowlist.txt grants
it (a vector not listed is granted 0), or when the oracle disagrees with a vector. The allow
list only shrinks: `--write-allowlist` rewrites it from the current counts.

    python3 tests/model/coverage.py [-v] [--write-allowlist]
"""

import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_vectors  # noqa: E402

ROOT = check_vectors.ROOT
ALLOWLIST = os.path.join(ROOT, "tests", "model", "coverage-allowlist.txt")

METADATA = [re.compile(p) for p in (
    r"^/ok/engine(/|$)",
    r"(^|/)sha256$",
    r"^/error/message$",
    r"^/ok/(rejected|problems)/\d+/message$",
    r"(^|/)help$",
)]
# the program / programs calls echo program files: their display name and notes are prose
PROGRAM_PROSE = re.compile(r"^/ok(/\d+)?/(name|notes(/\d+)?)$")


def escape(key):
    return key.replace("~", "~0").replace("/", "~1")


def leaves(x, path=""):
    """(pointer, value) of every scalar or empty container under x."""
    if isinstance(x, dict) and x:
        for k, v in x.items():
            yield from leaves(v, path + "/" + escape(k))
    elif isinstance(x, list) and x:
        for i, v in enumerate(x):
            yield from leaves(v, "%s/%d" % (path, i))
    else:
        yield path, x


def is_metadata(call, pointer):
    if any(p.search(pointer) for p in METADATA):
        return True
    return call in ("program", "programs") and bool(PROGRAM_PROSE.match(pointer))


def under(pointer, container):
    return pointer == container or pointer.startswith(container + "/")


def audit(v):
    """-> (oracle status, value leaves, unchecked pointers, covered by oracle, by checks)."""
    c = check_vectors.Compare()
    status, _, _ = check_vectors.check_vector(v, c)
    oracle = c.pointers if status == "ok" else set()
    checks = [k["path"] for k in v.get("checks") or []]
    values = [p for p, _ in leaves(v["expected"]) if not is_metadata(v["call"], p)]
    by_oracle = by_checks = 0
    unchecked = []
    for p in values:
        if any(under(p, o) for o in oracle):
            by_oracle += 1
        elif any(under(p, k) for k in checks):
            by_checks += 1
        else:
            unchecked.append(p)
    return status, values, unchecked, by_oracle, by_checks


def read_allowlist():
    """-> ({vector: allowed unchecked leaves}, {vector: its reason (the line's comment)})."""
    allowed, reasons = {}, {}
    if os.path.exists(ALLOWLIST):
        with open(ALLOWLIST) as f:
            for line in f:
                body, _, why = line.partition("#")
                if body.strip():
                    name, n = body.split()
                    allowed[name] = int(n)
                    reasons[name] = why.strip()
    return allowed, reasons


def main(argv):
    verbose = "-v" in argv
    allowed, reasons = read_allowlist()
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "vectors", "*.json")))
    total = oracle = hand = 0
    counts, over, diffs = {}, [], []
    kinds = {}
    for f in files:
        with open(f) as fh:
            v = json.load(fh)
        status, values, unchecked, by_o, by_c = audit(v)
        if status == "diff":
            diffs.append(v["name"])
        total += len(values)
        oracle += by_o
        hand += by_c
        if unchecked:
            counts[v["name"]] = len(unchecked)
            print("%-58s %4d of %4d value leaves unchecked" % (v["name"], len(unchecked),
                                                              len(values)))
            if verbose:
                for p in unchecked:
                    print("    " + p)
            for p in unchecked:
                k = (v["call"], re.sub(r"/\d+", "/*", p))
                kinds[k] = kinds.get(k, 0) + 1
        if len(unchecked) > allowed.get(v["name"], 0):
            over.append("%s: %d unchecked, %d allowed" % (v["name"], len(unchecked),
                                                           allowed.get(v["name"], 0)))
    if verbose:
        for (call, p), n in sorted(kinds.items()):
            print("unchecked %-9s %-60s x%d" % (call, p, n))
    left = sum(counts.values())
    print("coverage: %d vectors, %d value leaves: %d by the model, %d by hand checks, "
          "%d unchecked in %d vectors (allow list: %d in %d vectors)" % (
              len(files), total, oracle, hand, left, len(counts), sum(allowed.values()),
              len(allowed)))
    if "--write-allowlist" in argv:
        with open(ALLOWLIST, "w") as f:
            f.write("# Vectors with value leaves that neither the model (tests/model/) nor a hand\n"
                    "# check covers, how many, and why: tests/model/coverage.py fails when a\n"
                    "# vector has more. Regenerate (only ever smaller; reasons are kept) with\n"
                    "#   python3 tests/model/coverage.py --write-allowlist\n")
            for name in sorted(counts):
                why = reasons.get(name)
                f.write("%s %d%s\n" % (name, counts[name], "  # " + why if why else ""))
        return 0
    for name in diffs:
        print("FAIL %s: the model disagrees (python3 tests/model/check_vectors.py)" % name)
    for o in over:
        print("FAIL " + o)
    shrunk = [n for n in allowed if counts.get(n, 0) < allowed[n]]
    if shrunk:
        print("note: %d vectors are below their allowance; shrink the list with "
              "--write-allowlist" % len(shrunk))
    return 1 if over or diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
