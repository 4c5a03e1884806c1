"""Run the benchmarks and print one table; also written to out/bench.md.

    python -m bench                 # everything
    python -m bench daemon mesh     # only these groups
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from bench.table import Row, render, write

# group name → module under bench/
GROUPS = ["daemon", "control", "mesh", "multihost", "chain", "trainer"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", help=f"groups to run (default: all of {', '.join(GROUPS)})")
    parser.add_argument("--out", type=Path, default=Path("out/bench.md"))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    rows: list[Row] = []
    for group in args.groups or GROUPS:
        print(f"==> bench {group}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        module = importlib.import_module(f"bench.{group}")
        try:
            rows += module.run(args)
        except Exception as e:  # noqa: BLE001 - one failing group must not hide the others
            rows.append(Row(group, "FAILED", type(e).__name__, note=str(e)[:120]))
        print(f"    {group} took {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    print(render(rows))
    write(rows, args.out)
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0 if all(r.name != "FAILED" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
