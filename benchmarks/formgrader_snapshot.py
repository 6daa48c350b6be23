"""The formgrader snapshot of a large class: what the exchange sends an instructor's server when
formgrader opens on a copy (``GET .../grading/<a>/snapshot``, cosim_protocol.formgrader).

A generated class: one nbgrader assignment of N notebooks (the test assignment's notebook), one
student's submission really autograded in the sandbox (so the autograded notebooks, feedback
and gradebook rows are nbgrader's own), then copied to every other student with their gradebook
submissions added. Each round times each side, then runs it again under tracemalloc for its
peak of Python allocations (the JSON text, the base64 strings, the decoded files):

- exchange: ``CourseGrader.snapshot`` + the JSON encoding tornado does before sending, as the
  exchange answers (the HTTP hop through the proxy is not in it);
- open: the instructor's server decoding that JSON and its base64 files (before writing them);
- before: the same with the feedback HTML in it, as snapshots were until they left it out
  (formgrader never reads feedback), the baseline of ``snapshot_ratio``.

Figures: ``snapshot_mib`` (the JSON's size), ``snapshot_ratio`` (now / before, bytes),
``exchange_s`` and ``exchange_peak_mib`` (peak of the allocations the answer makes),
``open_s`` and ``open_peak_mib``. Default 200 students x 5 notebooks; --quick 40 x 5.

    python benchmarks/formgrader_snapshot.py [--quick] [--json] [--students N]  (as root)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness  # noqa: F401 - tests/ on sys.path
from _report import alternate, figure, headline, ratio_rounds, report

# nbgrader and the grader are imported where used: --help answers at once.
COURSE, ASSIGNMENT = "big", "hw"


def make_class(root: Path, students: int, notebooks: int) -> None:
    import nbformat

    from cosim_hub.courses.grading import CourseGrader, SandboxLimits
    from cosim_testing.nbgrader_assignment import RIGHT, answered, source_notebook

    prefix = f"fs{secrets.token_hex(2)}-"
    grader = CourseGrader(root, COURSE, limits=SandboxLimits(), account_prefix=prefix,
                          concurrency=1)  # fmt: skip
    try:
        source = root / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        for i in range(notebooks):
            nbformat.write(source_notebook(), source / f"nb{i}.ipynb")
        release = grader.generate(ASSIGNMENT)
        handed_in = root.parent / "incoming"
        shutil.copytree(release, handed_in)
        for i in range(notebooks):
            nb = nbformat.read(release / f"nb{i}.ipynb", as_version=4)
            nbformat.write(answered(nb, RIGHT), handed_in / f"nb{i}.ipynb")
        grader.submit(ASSIGNMENT, "s000", handed_in, "2026-11-30 10:00:00 UTC")
        grader.autograde(ASSIGNMENT, "s000")
    finally:
        grader.accounts.stop()
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(prefix):
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE) as gb:
        for n in range(1, students):
            student = f"s{n:03d}"
            gb.update_or_create_student(student)
            gb.add_submission(ASSIGNMENT, student)
            for kind in ("submitted", "autograded", "feedback"):
                shutil.copytree(
                    root / kind / "s000" / ASSIGNMENT, root / kind / student / ASSIGNMENT
                )


def exchange_side(grader: Any, root: Path, with_feedback: bool) -> bytes:
    """The exchange's answer: the snapshot (``with_feedback``: as snapshots were) as JSON."""
    snap = grader.snapshot(ASSIGNMENT)
    if with_feedback:
        for path in sorted(root.glob(f"feedback/*/{ASSIGNMENT}/**/*")):
            if path.is_file():
                rel = path.relative_to(root).as_posix()
                snap["files"][rel] = base64.b64encode(path.read_bytes()).decode()
    return json.dumps(snap).replace("</", "<\\/").encode()  # tornado's json_encode


def open_side(body: bytes) -> int:
    """The instructor's server: the JSON and its base64 files decoded (before writing them)."""
    files = {k: base64.b64decode(v) for k, v in json.loads(body)["files"].items()}
    return len(files)


def traced_peak_mib(fn: Callable[[], object]) -> float:
    """Peak of the Python allocations ``fn()`` makes, in a pass of its own (tracing slows it)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 students instead of 200")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--students", type=int, help="how many (default 200, --quick 40)")
    parser.add_argument("--notebooks", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the grading sandbox switches to its own accounts")
    warnings.filterwarnings("ignore")  # nbgrader 0.9.6's SQLAlchemy 2 warnings
    students = args.students or (40 if args.quick else 200)
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-fgsnap-"))
    try:
        began = time.perf_counter()
        make_class(base / "course", students, args.notebooks)
        setup_s = time.perf_counter() - began
        from cosim_hub.courses.grading import CourseGrader

        root = base / "course"
        grader = CourseGrader(root, COURSE, account_prefix="fsx-", concurrency=1)
        got: dict[str, list[dict[str, float]]] = {"exchange": [], "open": [], "before": []}

        def side(with_feedback: bool) -> float:
            began = time.perf_counter()
            body = exchange_side(grader, root, with_feedback)
            exchange_s = time.perf_counter() - began
            peak = traced_peak_mib(lambda: exchange_side(grader, root, with_feedback))
            name = "before" if with_feedback else "exchange"
            got[name].append({"s": exchange_s, "peak_mib": peak, "bytes": len(body)})
            if not with_feedback:
                began = time.perf_counter()
                assert open_side(body)
                open_s = time.perf_counter() - began
                peak = traced_peak_mib(lambda: open_side(body))
                got["open"].append({"s": open_s, "peak_mib": peak})
            return exchange_s

        alternate(args.rounds, {"now": lambda: side(False), "before": lambda: side(True)})
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def values(name: str, key: str, scale: float = 1.0) -> list[float]:
        return [r[key] / scale for r in got[name]]

    size = values("exchange", "bytes", 2**20)
    ratios = ratio_rounds(values("exchange", "bytes"), values("before", "bytes"))
    figures = {
        "students": students, "notebooks": args.notebooks, "setup_s": round(setup_s, 1),
        "snapshot_mib": figure(size), "snapshot_ratio": figure(ratios, 4),
        "before_mib": figure(values("before", "bytes", 2**20)),
        "exchange_s": figure(values("exchange", "s")),
        "exchange_peak_mib": figure(values("exchange", "peak_mib")),
        "before_exchange_s": figure(values("before", "s")),
        "before_exchange_peak_mib": figure(values("before", "peak_mib")),
        "open_s": figure(values("open", "s")), "open_peak_mib": figure(values("open", "peak_mib")),
    }  # fmt: skip
    print(f"{students} students x {args.notebooks} notebooks, {args.rounds} rounds alternating; "
          f"setup {setup_s:.0f} s (one real autograde, then copies)")  # fmt: skip
    rows = [
        headline("snapshot_mib", size, "> 0", " MiB"),
        headline("snapshot_ratio", ratios, "< 1.0"),
        headline("exchange_s", values("exchange", "s"), "> 0", " s"),
        headline("exchange_peak_mib", values("exchange", "peak_mib"), ">= 0", " MiB"),
        headline("before_exchange_s", values("before", "s"), "> 0", " s"),
        headline("before_exchange_peak_mib", values("before", "peak_mib"), ">= 0", " MiB"),
        headline("open_s", values("open", "s"), "> 0", " s"),
        headline("open_peak_mib", values("open", "peak_mib"), ">= 0", " MiB"),
    ]
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    main()
