"""Autograding throughput: CoSim's grader against nbgrader's own ``autograde``, same submissions.

One nbgrader course folder holds the example assignment templates/pendulum-assignment (released
with ``generate_assignment``) and N submissions (good, wasteful and idle controllers in turn).
Each round grades every submission twice, the order of the two sides alternating:

- CoSim: ``CourseGrader.autograde(assignment, student)`` for each student from as many threads
  as the sandbox's account pool holds (default: one per CPU, at least 2), as the exchange's
  grading workers do it: nbgrader's autograde with each notebook run in the sandbox (own
  account, PID and network namespaces, limits), then ``generate_feedback``;
- nbgrader: ``nbgrader autograde pendulum --force`` then ``nbgrader generate_feedback pendulum
  --force`` on the same folder, as an instructor runs them by hand (serial, kernels unsandboxed).

After each side the gradebook is checked: every submission scored as its controller should.

- throughput_ratio: submissions/s with CoSim / submissions/s with nbgrader's CLI (goal >= 1.0)
- per_submission_s: CoSim's seconds per submission (wall clock over the class, runs overlapping)

--quick grades 1 submission instead of 50, to end within a minute on a quiet 2-core machine
(each side's fixed start-up then weighs more, and nothing runs side by side; the output says
so). A full run (50 submissions, 3 rounds of both sides) takes about 3 x 50 x (CoSim's +
nbgrader's seconds per submission), plus a few seconds of setup; the output estimates it.

    python benchmarks/grading.py [--quick] [--json] [--submissions N]   (as root: the sandbox)
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _harness  # noqa: F401 - tests/ on sys.path
import nbformat
from _report import alternate, figure, headline, median, ratio_rounds, report

from cosim_hub.courses.gradeflow import default_pool_size
from cosim_hub.courses.grading import CourseGrader, SandboxLimits

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "pendulum-assignment"
COURSE, ASSIGNMENT = "bench", "pendulum"
CONTROLLERS = {  # name -> (solution cell, expected score of 8)
    "good": ("def controller(qpos, qvel):\n"
             "    return 2.0 * qpos[0] + 40.0 * qpos[1] + 3.0 * qvel[0] + 6.0 * qvel[1]", 8.0),
    "wasteful": ("import numpy as np\ndef controller(qpos, qvel):\n    return 20.0 * np.sign("
                 "qpos[1] + 0.2 * qvel[1] + 0.05 * qpos[0] + 0.1 * qvel[0])", 6.0),
    "idle": ("def controller(qpos, qvel):\n    return 0.0", 0.0),
}  # fmt: skip


def make_course(root: Path, grader: CourseGrader, count: int) -> dict[str, float]:
    """Release the assignment and place ``count`` submissions; returns student -> expected."""
    shutil.copytree(TEMPLATE, root / "source" / ASSIGNMENT)
    release = grader.generate(ASSIGNMENT)
    expected = {}
    incoming = root.parent / "incoming"
    kinds = list(CONTROLLERS)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        student = f"s{i:03d}-{kind}"
        nb = nbformat.read(release / f"{ASSIGNMENT}.ipynb", as_version=4)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        cell.source = CONTROLLERS[kind][0]
        folder = incoming / student
        shutil.copytree(release, folder)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
        grader.submit(ASSIGNMENT, student, folder, "2026-11-30 10:00:00 UTC")
        expected[student] = CONTROLLERS[kind][1]
    return expected


def check(grader: CourseGrader, expected: dict[str, float], side: str) -> None:
    got = {s: grader.scores(ASSIGNMENT, s)["score"] for s in expected}
    if got != expected:
        raise SystemExit(f"{side} graded differently than expected: {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 submission instead of 50")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--submissions", type=int, help="how many (default 50, --quick 1)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the grading sandbox switches to its own accounts")
    warnings.filterwarnings("ignore")  # nbgrader 0.9.6's SQLAlchemy 2 warnings
    count = args.submissions or (1 if args.quick else 50)
    began = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-grading-"))
    root = base / "course"
    prefix = f"gb{secrets.token_hex(2)}-"
    pool = default_pool_size()  # what the exchange uses by default
    grader = CourseGrader(root, COURSE, limits=SandboxLimits(), account_prefix=prefix)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    course_args = [f"--CourseDirectory.root={root}", f"--CourseDirectory.course_id={COURSE}"]
    try:
        started = time.perf_counter()
        expected = make_course(root, grader, count)
        setup_s = time.perf_counter() - started

        def cosim() -> float:
            start = time.perf_counter()
            with ThreadPoolExecutor(pool) as workers:  # the exchange's grading workers
                list(workers.map(lambda student: grader.autograde(ASSIGNMENT, student), expected))
            took = time.perf_counter() - start
            check(grader, expected, "CoSim")
            return took

        def nbgrader_cli() -> float:
            start = time.perf_counter()
            for step in ("autograde", "generate_feedback"):
                subprocess.run(
                    [str(bin_dir / "nbgrader"), step, ASSIGNMENT, "--force", *course_args],
                    cwd=root, env=env, check=True, capture_output=True,
                )  # fmt: skip
            took = time.perf_counter() - start
            check(grader, expected, "nbgrader")
            return took

        rounds = alternate(args.rounds, {"cosim": cosim, "nbgrader": nbgrader_cli})
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(prefix):
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)

    total_s = time.perf_counter() - began
    ratios = ratio_rounds(rounds["nbgrader"], rounds["cosim"])  # = CoSim's throughput / theirs
    per_sub = [s / count for s in rounds["cosim"]]
    figures = {
        "throughput_ratio": round(median(ratios), 3),
        "per_submission_s": round(median(per_sub), 3),
        "nbgrader_per_submission_s": round(median(rounds["nbgrader"]) / count, 3),
        "submissions": count,
        "detail": {
            "pool": pool,
            "runs_at_once": grader.accounts.peak_busy,
            "total_s": round(total_s, 1),
            "throughput_ratio": figure(ratios),
            "per_submission_s": figure(per_sub),
            "nbgrader_per_submission_s": figure([s / count for s in rounds["nbgrader"]]),
            "setup_s": round(setup_s, 1),
        },
    }
    print(f"{count} submissions of {ASSIGNMENT} ({', '.join(CONTROLLERS)} controllers in turn), "
          f"{args.rounds} rounds, alternating; CoSim over {pool} sandbox accounts "
          f"({grader.accounts.peak_busy} runs at once at most); setup {setup_s:.0f} s, "
          f"whole run {total_s:.0f} s")  # fmt: skip
    if count != 50:
        quick = " (--quick)" if args.quick else ""
        print(f"note: {count} submission(s), not the issue's 50{quick}")
    if 10 <= count < 50:  # enough to spread nbgrader's start-up; fewer would inflate this
        full = args.rounds * 50 * (median(per_sub) + median(rounds["nbgrader"]) / count)
        print(f"a 50-submission run would take about {full / 60:.0f} min at these rates")
    rows = [
        headline("throughput_ratio", ratios, ">= 1.0"),
        headline("per_submission_s", per_sub, "> 0", " s"),
        headline("nbgrader_per_submission_s", [s / count for s in rounds["nbgrader"]], "> 0", " s"),
    ]
    if count < 10:
        print(f"note: with {count} submission(s) nbgrader's fixed start-up (two CLI runs, its "
              "gradebook opened) is not spread over a class, which flatters CoSim's ratio; "
              "the 50-submission run is the figure")  # fmt: skip
    report(rows, figures, args.json)


if __name__ == "__main__":
    main()
