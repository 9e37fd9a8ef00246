#!/usr/bin/env python3
"""Summary of one Autobahn TestSuite run, and its verdict.

    summary.py REPORT_DIR [--role NAME]

REPORT_DIR is what run.sh wrote (target/autobahn-reports/server, .../client):
index.json with one entry per case, one JSON file per case, and wstest.log, from
which the list of cases the suite planned to run is taken. NAME (default: the
directory's name) only labels the output.

Prints a table per case group (1.*, 2.*, ... 13.*), the totals per behaviour and
per close result, each failing case with what the suite expected and what it
observed, and the planned cases that have no result. The last line reads
    autobahn server: 517 cases, 517 passed, 0 failed

A case passes when its behaviour is OK, NON-STRICT or INFORMATIONAL and its
close is not FAILED or UNCLEAN. Everything else fails, UNIMPLEMENTED included:
duplex implements permessage-deflate, so 12.* and 13.* must run. A planned case
without a result (the implementation under test stopped) fails too.

Exit status: 0 every case passed; 1 some case failed or is missing; 2 no
readable report.
"""

import argparse
import ast
import json
import os
import re
import sys
from collections import Counter, defaultdict

PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
BEHAVIORS = PASSING + ("UNIMPLEMENTED", "FAILED")
CLOSES = ("OK", "INFORMATIONAL", "WRONG CODE", "FAILED BY CLIENT", "UNCLEAN", "FAILED")
BAD_CLOSES = ("FAILED", "UNCLEAN")
# Worth a look, but the RFC allows them: listed, not counted as failures.
CLOSE_WARNINGS = ("WRONG CODE", "FAILED BY CLIENT")
DETAILED = 40  # failing cases shown in full; the rest by id only


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else 0 for p in case_id.split("."))


def group_of(case_id):
    return case_id.split(".")[0]


def id_list(ids, limit=60):
    ids = list(ids)
    text = " ".join(ids[:limit])
    return text + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def clip(value, limit=300):
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def planned_cases(report_dir):
    """The case ids the suite said it would run ("Cases = [...]" in its log)."""
    try:
        with open(os.path.join(report_dir, "wstest.log"), errors="replace") as f:
            found = re.search(r"^Cases = (\[.*\])\s*$", f.read(), re.M)
    except OSError:
        return []
    return [str(c) for c in ast.literal_eval(found.group(1))] if found else []


def fails(result):
    """Whether a case counts as failed (its behaviour or its close)."""
    behavior, close = result.get("behavior"), result.get("behaviorClose")
    return (behavior not in PASSING) or (close in BAD_CLOSES)


def case_report(report_dir, result):
    try:
        with open(os.path.join(report_dir, result["reportfile"])) as f:
            return json.load(f)
    except (OSError, ValueError, KeyError):
        return None


def print_failure(report_dir, case_id, result):
    behavior, close = result.get("behavior"), result.get("behaviorClose")
    print(f"  {case_id}: behavior {behavior}, close {close}")
    detail = case_report(report_dir, result)
    if detail is None:
        print("      (no case report: " + str(result.get("reportfile")) + ")")
        return
    print("      case:        " + clip(detail.get("description", ""), 200))
    if behavior not in PASSING:
        print("      expectation: " + clip(detail.get("expectation", ""), 200))
        print("      result:      " + clip(detail.get("result", ""), 200))
        print("      expected:    " + clip(detail.get("expected")))
        print("      observed:    " + clip(detail.get("received")))
    if close in BAD_CLOSES:
        want = detail.get("expectedClose") or {}
        print("      close:       " + clip(detail.get("resultClose", ""), 200))
        print(
            "      expected close code(s) %s%s; observed code %s, %s"
            % (
                want.get("closeCode"),
                ", clean" if want.get("requireClean") else "",
                detail.get("remoteCloseCode"),
                "clean"
                if detail.get("wasClean")
                else "not clean (%s)" % detail.get("wasNotCleanReason"),
            )
        )


def summarize_agent(report_dir, agent, results, planned):
    """Prints one implementation's results; returns (failing ids, missing ids)."""
    ids = sorted(results, key=case_key)
    missing = sorted(set(planned) - set(results), key=case_key)
    failing = [c for c in ids if fails(results[c])]

    rows = defaultdict(Counter)
    for c in ids:
        r, row = results[c], rows[group_of(c)]
        row["cases"] += 1
        behavior = r.get("behavior")
        row[behavior if behavior in BEHAVIORS else "FAILED"] += 1
        row["BAD CLOSE"] += r.get("behaviorClose") in BAD_CLOSES
        row["ms"] += r.get("duration") or 0
    for c in missing:
        rows[group_of(c)]["cases"] += 1
        rows[group_of(c)]["MISSING"] += 1

    total = len(set(ids) | set(missing))
    print(f"\n== agent {agent}: {len(ids)} cases run" + (f" of {len(planned)} planned" if planned else ""))
    columns = ("cases",) + BEHAVIORS + ("BAD CLOSE", "MISSING")
    widths = [max(5, len(c)) for c in columns]
    print("group  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths)) + "     time")
    sums = Counter()
    for group in sorted(rows, key=lambda g: case_key(g)):
        row = rows[group]
        sums.update(row)
        cells = "  ".join(str(row[c]).rjust(w) for c, w in zip(columns, widths))
        print(f"{group + '.*':<5}  {cells}  {row['ms'] / 1000:6.1f}s")
    cells = "  ".join(str(sums[c]).rjust(w) for c, w in zip(columns, widths))
    print(f"{'all':<5}  {cells}  {sums['ms'] / 1000:6.1f}s")

    behaviors = Counter(results[c].get("behavior") for c in ids)
    closes = Counter(results[c].get("behaviorClose") for c in ids)
    others = {k: v for k, v in behaviors.items() if k not in BEHAVIORS}
    print("behavior: " + "  ".join(f"{b} {behaviors[b]}" for b in BEHAVIORS)
          + "".join(f"  {k} {v}" for k, v in sorted(others.items(), key=str)))
    print("close:    " + "  ".join(f"{c} {closes[c]}" for c in CLOSES))

    for label, pick in (
        ("non-strict (passes; the RFC prefers stricter)", lambda r: r.get("behavior") == "NON-STRICT"),
        ("informational (no verdict)", lambda r: r.get("behavior") == "INFORMATIONAL"),
        ("close warnings (not failures)", lambda r: r.get("behaviorClose") in CLOSE_WARNINGS),
    ):
        hits = [c for c in ids if pick(results[c])]
        if hits:
            print(f"{label}: {id_list(hits)}")

    unimplemented = [c for c in failing if results[c].get("behavior") == "UNIMPLEMENTED"]
    others = [c for c in failing if c not in unimplemented]
    if others:
        print(f"\nFAILED: {len(others)} cases")
        for c in others[:DETAILED]:
            print_failure(report_dir, c, results[c])
        if len(others) > DETAILED:
            print(f"  and {len(others) - DETAILED} more: {id_list(others[DETAILED:])}")
    if unimplemented:
        detail = case_report(report_dir, results[unimplemented[0]]) or {}
        print(f"\nFAILED as UNIMPLEMENTED: {len(unimplemented)} cases in "
              + ", ".join(sorted({group_of(c) + ".*" for c in unimplemented}, key=case_key))
              + " (duplex implements permessage-deflate: was it not negotiated?)")
        print(f"  {id_list(unimplemented)}")
        if detail.get("result"):
            print(f"  the suite says, e.g. for {unimplemented[0]}: {clip(detail['result'], 200)}")
    if missing:
        print(f"\nMISSING: {len(missing)} planned cases have no result"
              " (did the implementation under test stop? see wstest.log and the logs beside it)")
        print(f"  {id_list(missing)}")
    return total, failing, missing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir")
    parser.add_argument("--role", help="label for the output (default: the directory's name)")
    args = parser.parse_args()
    report_dir = os.path.abspath(args.report_dir)
    role = args.role or os.path.basename(report_dir.rstrip("/"))
    planned = planned_cases(report_dir)

    try:
        with open(os.path.join(report_dir, "index.json")) as f:
            index = json.load(f) or {}
    except (OSError, ValueError) as e:
        print(f"no readable report in {report_dir}: {e}")
        print(f"autobahn {role}: {len(planned)} cases, 0 passed, 0 failed, no report")
        return 2

    if not index:
        index = {"(no implementation reported)": {}}
    cases = passed = failed = missed = 0
    for agent in sorted(index):
        total, failing, missing = summarize_agent(report_dir, agent, index[agent], planned)
        cases += total
        failed += len(failing)
        missed += len(missing)
        passed += total - len(failing) - len(missing)

    print(f"\nreport: {os.path.join(report_dir, 'index.html')}")
    print(f"autobahn {role}: {cases} cases, {passed} passed, {failed} failed"
          + (f", {missed} missing" if missed else ""))
    return 1 if failed or missed or cases == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
