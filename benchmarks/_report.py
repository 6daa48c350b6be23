"""What every benchmark shares: alternating rounds, one median/spread, and how a run ends
(a name/value/note table, then with --json one JSON line)."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

# run_all.py says this beside runs that started on a busy machine (see README, `make bench`).
LOAD_NOTE = "machine shared and loaded while measured"


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took (wall clock)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(
    rounds: int,
    sides: dict[str, Callable[[], float]],
    before_round: Callable[[int], object] | None = None,
) -> dict[str, list[float]]:
    """Run every side once per round, rotating who goes first (round r starts at side r mod n),
    so warm caches and the machine's drift land on each side alike. Each side returns its
    figure for that round; ``before_round(r)`` (untimed) prepares what all sides then share."""
    names = list(sides)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        if before_round is not None:
            before_round(r)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            results[name].append(sides[name]())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> float:
    """Relative spread of the rounds: (max - min) / median, the one measure every script uses."""
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


def ratio_rounds(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    """Per-round ratios ours/theirs (the rounds were run side by side, so pair them)."""
    return [a / b for a, b in zip(ours, theirs, strict=True)]


def figure(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, spread and the rounds themselves, for the JSON detail of one figure."""
    return {
        "median": round(median(values), digits),
        "spread": round(spread(values), 3),
        "rounds": [round(v, digits) for v in values],
    }


def verdict(value: float, goal: str) -> str:
    """'ok' or 'SHORT' for a goal written as '<= 1.0', '< 30', '>= 60', '> 0'."""
    op, _, bound = goal.partition(" ")
    limit = float(bound)
    met = {"<=": value <= limit, "<": value < limit, ">=": value >= limit, ">": value > limit}[op]
    return "ok" if met else "SHORT"


def headline(name: str, values: Sequence[float], goal: str, unit: str = "") -> tuple[str, str, str]:
    """One table row for a headline figure: median, goal, verdict and spread."""
    mid = median(values)
    note = f"goal {goal}: {verdict(mid, goal)}; spread {spread(values):.0%} over {len(values)}"
    return (name, f"{mid:,.3f}{unit}", note)


def report(
    rows: list[tuple[str, str, str]],
    figures: dict[str, Any],
    as_json: bool,
    quick: bool | None = None,
) -> None:
    """Print the table, then with ``as_json`` the figures as one JSON line. ``quick`` (when
    given) goes into the figures as ``"quick"``, so a --quick run's JSON says it was one."""
    if quick is not None:
        figures["quick"] = quick
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    # The figures mean little on a busy machine: say how busy it was.
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    if quick:
        print("(--quick: fewer and shorter rounds than the full run; same path, same sides)")
    if as_json:
        print(json.dumps(figures))
