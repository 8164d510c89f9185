"""`python -m labkit.conformance qtt|rqtt PATH… [--json OUT]`: run ksqlDB's test cases against the engine.

Prints one line per failing case and the summary `N passed, M failed, K skipped`; skips are only for
formats that need a schema registry (or cases disabled upstream, or whose expected error upstream never checks),
each with its reason.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from labkit.conformance.cases import discover, load_cases


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases; exit code 0 when none failed."""
    parser = argparse.ArgumentParser(prog="python -m labkit.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("qtt", "rqtt"))
    parser.add_argument("paths", nargs="+", type=Path, help="case files or folders of them")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write one result object per case variant")
    parser.add_argument("-k", dest="keyword", help="only cases whose '<file> - <name>' contains this text")
    parser.add_argument("--show-skips", action="store_true", help="also print one line per skipped case")
    args = parser.parse_args(argv)

    files = discover(args.paths)
    if not files:
        print(f"No .json case files under {', '.join(map(str, args.paths))}.", file=sys.stderr)
        return 2
    if args.kind == "qtt":
        from labkit.conformance.qtt import run_qtt_case as run_case
    else:
        from labkit.conformance.rqtt import run_rqtt_case as run_case
    from labkit.engine.testing import make_driver

    results = []
    counts: Counter[str] = Counter()
    for path in files:
        for case in load_cases(path, args.kind):
            if args.keyword and args.keyword not in case.full_name:
                continue
            outcome = run_case(case, make_driver)
            counts[outcome.status] += 1
            results.append({"file": case.file, "name": case.name, "status": outcome.status, "reason": outcome.reason})
            if outcome.status == "fail" or (outcome.status == "skip" and args.show_skips):
                print(f"{outcome.status.upper()} {case.full_name}: {outcome.reason}", flush=True)
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0 if counts["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
