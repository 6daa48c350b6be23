"""C++ builds against plain g++ in the same run, on the same machine and files.

- hello_ratio: a hello-world cell through the cosim-cpp kernel (execute_request -> reply, a new
  string each time so nothing is cached but the precompiled standard headers) / `g++ hello.cpp
  -o hello && ./hello`; interleaved pairs, median ratio
- noop_rebuild_ms: rebuilding a 10-file project with nothing changed (median)
- one_change_ratio: one file changed, cosim_cpp.build / `g++ -c that.cpp && g++ *.o -o app`
  by hand with the same flags; interleaved pairs, median ratio

    python benchmarks/cpp_build.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from snapshots import sh, timed

from cosim_cpp.build import BuildRequest, CoSimCppBuild, build, find_sources

FLAGS = CoSimCppBuild().flags
BY_HAND_HELLO = "g++ hello.cpp -o hello && ./hello"
HELLO = '#include <iostream>\nint main() {{ std::cout << "hello {n}" << std::endl; }}\n'
UNIT = """#include <algorithm>
#include <string>
#include <vector>
#include "robot.hpp"
std::string part{i}(const std::vector<double>& q) {{
  std::vector<double> s(q);
  std::sort(s.begin(), s.end());
  return "part{i}:" + std::to_string(s.empty() ? 0.0 : s.back() * {i});
}}
"""


def hello_pairs(workspace: Path, rounds: int) -> tuple[list[float], list[float], float]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="cosim-cpp", cwd=str(workspace), startup_timeout=60)
    try:

        def cell(n: int) -> float:
            start = time.perf_counter()
            reply = kc.execute(HELLO.format(n=n), reply=True, timeout=120)
            elapsed = time.perf_counter() - start
            assert reply["content"]["status"] == "ok", reply["content"]
            return elapsed

        first = cell(0)  # builds the precompiled header once per flag set: not counted
        (workspace / "plain").mkdir()
        plain = workspace / "plain" / "hello.cpp"
        ours, theirs = [], []
        for n in range(1, rounds + 1):
            plain.write_text(HELLO.format(n=n))
            pair = [
                (ours, lambda n=n: cell(n)),
                (theirs, lambda: timed(lambda: sh(BY_HAND_HELLO, plain.parent))),
            ]
            for bucket, fn in pair if n % 2 else reversed(pair):
                bucket.append(fn())
        return ours, theirs, first
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def project(root: Path, files: int) -> list[Path]:
    src = root / "src"
    src.mkdir(parents=True)
    (src / "robot.hpp").write_text("#pragma once\n#include <string>\n#include <vector>\n")
    for i in range(files - 1):
        (src / f"part{i}.cpp").write_text(UNIT.format(i=i))
    (src / "main.cpp").write_text('#include "robot.hpp"\nint main() { return 0; }\n')
    return find_sources(src)


def rebuild_figures(root: Path, rounds: int) -> tuple[list[float], list[float], list[float]]:
    sources = project(root, 10)
    request = BuildRequest(root=root, sources=sources, flags=FLAGS, jobs=1)
    first = asyncio.run(build(request))
    assert first.ok, first.output

    noop = []
    for _ in range(rounds * 4):
        start = time.perf_counter()
        result = asyncio.run(build(request))
        noop.append(time.perf_counter() - start)
        assert result.compiled == [] and not result.linked

    # The by-hand baseline: the same flags, objects of its own, the changed file and a link.
    by_hand = root / "by-hand"
    by_hand.mkdir()
    flags = " ".join(FLAGS)
    sh(f"for f in {root}/src/*.cpp; do g++ {flags} -I{root}/src -c $f -o $(basename $f .cpp).o; "
       "done", by_hand)  # fmt: skip
    changed = root / "src" / "part3.cpp"
    ours, theirs = [], []
    for n in range(rounds):
        changed.write_text(UNIT.format(i=3) + f"int changed{n}() {{ return {n}; }}\n")

        def by_hand_build() -> float:
            return timed(lambda: sh(f"g++ {flags} -I{root}/src -c {changed} -o part3.o && "
                                    "g++ *.o -o app", by_hand))  # fmt: skip

        def cosim_build() -> float:
            start = time.perf_counter()
            result = asyncio.run(build(request))
            assert result.compiled == ["src/part3.cpp"] and result.linked, result.output
            return time.perf_counter() - start

        pair = [(ours, cosim_build), (theirs, by_hand_build)]
        for bucket, fn in pair if n % 2 else reversed(pair):
            bucket.append(fn())
    return noop, ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds = 8 if args.quick else 20
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-cpp-"))
    base.chmod(0o755)  # as root, programs run as an unprivileged account that must enter it
    try:
        (base / "kernel").mkdir(mode=0o755)
        hello_ours, hello_gxx, first_cell = hello_pairs(base / "kernel", rounds)
        noop, change_ours, change_hand = rebuild_figures(base / "project", rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def ratio(ours: list[float], theirs: list[float]) -> float:
        return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))

    figures = {
        "hello_ratio": round(ratio(hello_ours, hello_gxx), 3),
        "noop_rebuild_ms": round(statistics.median(noop) * 1000, 2),
        "one_change_ratio": round(ratio(change_ours, change_hand), 3),
    }
    ms = lambda xs: f"{statistics.median(xs) * 1000:7.1f} ms"  # noqa: E731
    rows = [
        ("hello cell, execute -> reply", ms(hello_ours), "g++ hello.cpp && ./hello",
         ms(hello_gxx), f"{figures['hello_ratio']:.3f} (goal <= 1.0)"),
        ("10-file rebuild, no change", ms(noop), "", "", "goal < 50 ms"),
        ("10-file build, 1 file changed", ms(change_ours), "g++ -c file && g++ *.o",
         ms(change_hand), f"{figures['one_change_ratio']:.3f} (goal <= 1.2)"),
    ]  # fmt: skip
    print(f"{'operation':<32}{'CoSim':>11}  {'baseline':<26}{'':>11}  ratio")
    for name, ours, base_name, theirs, note in rows:
        print(f"{name:<32}{ours:>11}  {base_name:<26}{theirs:>11}  {note}")
    print(f"first cell of a session (builds the precompiled header): {first_cell:.2f} s")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
