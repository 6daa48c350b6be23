"""Run the issue-13 benchmarks with --json and regenerate the README's benchmark table.

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--readme README.md]

Each script's last stdout line is its JSON figures; they are kept in benchmarks/results.json
(merged, so one benchmark can be re-run alone) and the table between the README's
``<!-- bench-table -->`` markers is rewritten from that file, each goal beside its figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _report import LOAD_NOTE, verdict

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
# benchmark -> (JSON key, what it is, goal or "" for a reported figure)
HEADLINES: dict[str, list[tuple[str, str, str]]] = {
    "rl_jobs": [
        ("ratio", "job steps/s / plain SB3 script, both 1 torch thread", ">= 1.0"),
        ("ratio_same_script", "job / the template's train.py run directly", ""),
        ("first_metric_s", "start request -> first metric (s)", ""),
    ],
    "snapshots": [
        ("first_ratio", "first snapshot / `tar | zstd -1 -T0 && sync out`", "<= 1.0"),
        ("incremental_ratio_vs_restic", "1 file changed / `restic backup`", "<= 0.33"),
        ("incremental_ratio_vs_borg", "1 file changed / `borg create`", "<= 0.33"),
        (
            "incremental_ratio_vs_git",
            "1 file changed / `git add -A && commit`, .cosim/ ignored",
            "<= 1.0",
        ),
        ("incremental_s", "snapshot after 1 file changed (s)", "< 0.5"),
        ("restore_ratio", "restore / `zstd -d | tar -x`", "<= 1.2"),
    ],
    "cpp_build": [
        ("hello_ratio", "hello cell through the kernel / plain `g++ && ./hello`", "<= 1.0"),
        ("hello_ratio_vs_pch", "/ g++ with the same PCH and gold", "<= 1.1"),
        ("first_cell_ms", "first cell, builds the PCH (ms)", ""),
        ("one_change_ratio", "`%%build`, 1 of 10 files changed / g++ by hand", "<= 1.2"),
        ("noop_rebuild_ms", "`%%build`, nothing changed (ms)", "< 50"),
    ],
    "viewer": [
        ("latency_p95_ms", "sync() -> paint p95 in CoSim's widget, hub + proxy (ms)", "< 30"),
        ("fps", "frames/s received by the widget", ">= 60"),
        ("painted_fps", "frames/s the widget drew (WebGL in software here)", ""),
        ("bytes_per_body", "bytes per body in received frames", "<= 28"),
        ("fast_client_fps_with_50_slow", "widget fps with 50 slow clients attached", ">= 0.9*fps"),
        ("relay_rss_growth_mb_with_50_slow", "relay RSS growth with them (MiB)", "< 50"),
        ("sync_overhead", "sim loop cost of v.sync()", "< 0.05"),
    ],
    "sim_control": [
        (
            "control_latency_p95_ms",
            "pause through the RTC document -> sim stops p95, 10 collaborators, hub + proxy (ms)",
            "< 100",
        ),
        ("control_overhead", "sim loop cost of an attached control document", "< 0.02"),
    ],
    "recording": [
        ("bytes_per_body_frame", "stored bytes per moving body per frame, humanoid", "<= 14"),
        ("size_ratio_vs_meshcat", "file / meshcat Animation of the same motion", "<= 0.05"),
        ("record_overhead", "sim steps/s cost of recording", "< 0.02"),
        ("seek_p95_ms", "seek in a 10-min recording -> frame drawn in Lab, p95 (ms)", "< 50"),
    ],
    "spawn": [
        ("ratio", "login -> launcher visible / stock JupyterHub + Lab", "<= 1.05"),
        ("cosim_s", "CoSim login -> launcher (s)", ""),
    ],
    "costguard": [
        ("decision_overhead_ms", "spawn decision with the cost guard, added (ms)", "< 20"),
        ("reservations_per_s", "GPU reservations/s, 50 spawn requests at once", ""),
        ("accounting_errors", "GPUs in use != reservations granted", "<= 0"),
    ],
    "courses": [
        ("collect_s", "collect 100 students x 5 notebooks through the exchange (s)", ""),
        ("collect_ratio", "/ copying a shared folder (nbgrader's exchange)", ""),
        ("submit_per_s", "submissions accepted per second", ""),
    ],
    "grading": [
        ("throughput_ratio", "pendulum submissions/s / `nbgrader autograde`, serial", ">= 1.0"),
        ("per_submission_s", "CoSim's grader, seconds per submission (sandboxed)", ""),
    ],
    "slam": [
        ("fps", "baseline RGB-D tracking, 640x480, images preloaded (frames/s)", ">= 30"),
        ("ate_rmse_m", "ATE RMSE on the generated sequence (m)", "< 0.05"),
        ("eval_ratio", "`cosim slam eval -a` (ATE+RPE) / `evo_ape -a`, 10,000 poses", "<= 1.0"),
    ],
}
# A run that starts with the 1-minute load average above the core count had other work competing
# for the CPU (below it, what remains is the decaying trace of the benchmark before it).
QUIET_LOAD = float(os.cpu_count() or 1)
START, END = "<!-- bench-table -->", "<!-- /bench-table -->"


def run(name: str, quick: bool) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / f"{name}.py"), "--json"] + (["--quick"] if quick else [])
    started, load = time.perf_counter(), os.getloadavg()[0]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=HERE.parent)
    sys.stdout.write(out.stdout)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        return {"error": f"exit {out.returncode}"}
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["_run"] = {"quick": quick, "seconds": round(time.perf_counter() - started),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "load_before": round(load, 1)}  # fmt: skip
    return figures


def cell(figures: dict[str, Any], key: str, goal: str) -> tuple[str, str]:
    value = figures.get(key)
    if not isinstance(value, int | float):
        return "not measured", "SHORT (no figure)" if goal else ""
    spread = figures.get("detail", {}).get(key, {}).get("spread")
    shown = f"{value:g}" + (f" (spread {spread:.0%})" if spread is not None else "")
    if not goal:
        return shown, "reported"
    if goal.startswith(">= 0.9*"):
        base = figures.get(goal.removeprefix(">= 0.9*"))
        goal = f">= {0.9 * base:.1f}" if isinstance(base, int | float) else goal
        if not isinstance(base, int | float):
            return shown, "SHORT (no baseline)"
    return shown, f"{verdict(float(value), goal)} ({goal})"


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| benchmark | figure | value (spread) | result (goal) |", "|---|---|---|---|"]
    for name, rows in HEADLINES.items():
        figures = results.get(name, {})
        for key, what, goal in rows:
            value, result = cell(figures, key, goal)
            what = what.replace("|", "\\|")  # a pipe inside a Markdown table cell
            lines.append(f"| `{name}.py` | `{key}`: {what} | {value} | {result} |")
    runs, loaded = [], []
    for name, f in sorted(results.items()):
        if "_run" not in f:
            continue
        load = f["_run"].get("load_before")
        runs.append(f"{name}: {f['_run']['date']}{' (--quick)' if f['_run']['quick'] else ''}"
                    f", load {'unknown' if load is None else load} before")  # fmt: skip
        if load is None or load > QUIET_LOAD:
            loaded.append(name)
    note = (f" **{LOAD_NOTE}**: {', '.join(loaded)} (load above {QUIET_LOAD:g}, the core count, "
            "when started, or not recorded); re-run them on a quiet machine with `make bench`."
            if loaded else " Every run started with nothing else competing for the CPU (load "
            f"below {QUIET_LOAD:g}, the core count).")  # fmt: skip
    lines += ["", f"Runs: {'; '.join(runs)}.{note}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick size")
    parser.add_argument("--only", nargs="*", default=None, help="benchmarks to run (default all)")
    parser.add_argument("--readme", type=Path, default=None, help="rewrite this file's table")
    parser.add_argument("--table-only", action="store_true", help="no runs, only the table")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if not args.table_only:
        for name in args.only or list(HEADLINES):
            results[name] = run(name, args.quick)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    text = table(results)
    print(text)
    if args.readme:
        readme = args.readme.read_text()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        if not pattern.search(readme):
            raise SystemExit(f"{args.readme} has no {START} ... {END} markers")
        args.readme.write_text(pattern.sub(lambda _m: f"{START}\n{text}\n{END}", readme))


if __name__ == "__main__":
    main()
