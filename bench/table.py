"""A benchmark result row and the table `make bench` prints and writes."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    group: str  # e.g. "daemon", "mesh", "trainer"
    name: str  # what was measured
    value: str  # the figure, formatted with its unit
    goal: str = ""  # the goal it is held against, if any
    met: bool | None = None  # whether the goal was met (None: no goal)
    note: str = ""


def render(rows: list[Row]) -> str:
    header = ("group", "measure", "value", "goal", "met", "note")
    body = [
        (r.group, r.name, r.value, r.goal, "" if r.met is None else ("yes" if r.met else "NO"), r.note)
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def write(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    head = f"# swarmd benchmarks\n\n{stamp} · {platform.node()} · {platform.processor() or platform.machine()}\n\n"
    path.write_text(head + render(rows) + "\n")
