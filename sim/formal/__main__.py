"""``python -m modsnn.sim.formal [CHECK ...]``: run the formal checks, print a table, exit 1 on any failure."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .checks import CHECKS, check_named
from .harness import FormalToolMissing, Result, formal_root, run_check


def _table(results: list[Result]) -> str:
    rows = [("block", "property", "result", "mode", "depth", "seconds")]
    for r in results:
        for n, prop in enumerate(r.check.properties):
            first = n == 0
            rows.append((r.check.block if first else "", prop, r.status if first else "",
                         r.check.mode if first else "", str(r.check.depth) if first else "",
                         f"{r.seconds:.1f}" if first else ""))
        for failed in r.failed:
            rows.append(("", f"  failed: {failed}", "", "", "", ""))
        if r.trace is not None:
            rows.append(("", f"  counterexample: {r.trace}", "", "", "", ""))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    known = ", ".join(c.name for c in CHECKS)
    parser = argparse.ArgumentParser(prog="python -m modsnn.sim.formal",
                                     description="Prove properties of the gateware blocks with SymbiYosys "
                                                 f"(smtbmc yices). Checks: {known}.")
    parser.add_argument("checks", nargs="*", metavar="CHECK",
                        help="checks to run (default: all block checks; the toys toy_buffer and "
                             "toy_buffer_broken, which fails by design, run only by name)")
    parser.add_argument("--build", type=Path, default=None,
                        help="build folder (default: $MODSNN_BUILD/formal, or build/formal in the repository)")
    parser.add_argument("--list", action="store_true", help="list the checks and their properties, run nothing")
    args = parser.parse_args(argv)
    try:
        checks = [check_named(name) for name in args.checks] if args.checks else list(CHECKS)
    except ValueError as error:
        parser.error(str(error))
    if args.list:
        for c in checks:
            print(f"{c.name}: {c.block} ({c.mode}, depth {c.depth})")
            for prop in c.properties:
                print(f"    {prop}")
        return 0
    root = args.build if args.build is not None else formal_root()
    results = []
    begin = time.monotonic()
    for check in checks:
        try:
            result = run_check(check, root)
        except FormalToolMissing as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{check.name}: {result.status} ({result.seconds:.1f} s)", flush=True)
        results.append(result)
    print()
    print(_table(results))
    bad = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(bad)}/{len(results)} checks pass in {time.monotonic() - begin:.1f} s; "
          f"folders under {root}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
