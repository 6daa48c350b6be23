"""C++ builds through the cosim-cpp kernel against g++ by hand, same files, flags and machine.

Every figure goes through the real kernel (execute_request -> reply, as Lab sends a cell), with
the kernel's default flags on both sides. Two baselines:

- plain: `g++ FLAGS hello.cpp -o hello && ./hello`, what a user types
- pch: the same with what CoSim adds by itself: the same precompiled standard headers
  (`-include cosim_pch.hpp`, built once by hand, untimed) and the gold linker

- hello_ratio: a hello-world cell (a new string each time) / plain; hello_ratio_vs_pch: / pch
- first_cell_ms: the session's first hello cell, which also builds the precompiled header
  (reported apart; `pch_build_ms` is that header built by hand)
- noop_rebuild_ms: a `%%build` cell on a 10-file project with nothing changed
- one_change_ratio: a `%%build` cell after one of the 10 files changed / `g++ FLAGS -c that.cpp
  && g++ *.o -o app` by hand (plain); one_change_ratio_vs_pch likewise with PCH and gold

Sides alternate who goes first; figures are medians of per-round ratios, with their spread.
--quick runs 3 rounds instead of 15 (same cells, same commands). Untimed set-up overlaps: the
by-hand objects compile in parallel while the project's kernel does its first build.

    python benchmarks/cpp_build.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import alternate, figure, headline, median, ratio_rounds, report, timed

from cosim_cpp.build import PCH_HEADERS, CoSimCppBuild
from cosim_cpp.toolchain import gold_linker

FLAGS = " ".join(shlex.quote(f) for f in CoSimCppBuild().flags)
GOLD = "-fuse-ld=gold" if gold_linker() else ""
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


def sh(cmd: str, cwd: Path) -> None:
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, capture_output=True)


class Kernel:
    """One cosim-cpp kernel session in ``cwd``; ``cell`` times one execute_request -> reply."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(
            kernel_name="cosim-cpp", cwd=str(cwd), startup_timeout=60
        )

    def cell(self, code: str) -> float:
        start = time.perf_counter()
        reply = self.kc.execute(code, reply=True, timeout=120)
        elapsed = time.perf_counter() - start
        assert reply["content"]["status"] == "ok", reply["content"]
        return elapsed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def make_pch(folder: Path) -> tuple[str, float]:
    """The same standard headers CoSim precompiles, built by hand: the -include flag, seconds."""
    folder.mkdir()
    header = folder / "cosim_pch.hpp"
    header.write_text("".join(f"#include <{h}>\n" for h in PCH_HEADERS))
    seconds = timed(lambda: sh(f"g++ {FLAGS} -x c++-header {header} -o {header}.gch", folder))
    return f"-include {header}", seconds


def project(src: Path, files: int) -> None:
    src.mkdir(parents=True)
    (src / "robot.hpp").write_text("#pragma once\n#include <string>\n#include <vector>\n")
    for i in range(files - 1):
        (src / f"part{i}.cpp").write_text(UNIT.format(i=i))
    (src / "main.cpp").write_text('#include "robot.hpp"\nint main() { return 0; }\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds = 3 if args.quick else 15
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-cpp-"))
    base.chmod(0o755)  # as root, programs run as an unprivileged account that must enter it
    counter = iter(range(1, 10_000))
    try:
        include, pch_s = make_pch(base / "pch")
        hello_dir = base / "by-hand"
        hello_dir.mkdir()
        (base / "kernel").mkdir(mode=0o755)
        kernel = Kernel(base / "kernel")
        try:
            first_cell = kernel.cell(HELLO.format(n=0))

            def by_hand(extra: str) -> float:
                (hello_dir / "hello.cpp").write_text(HELLO.format(n=next(counter)))
                return timed(lambda: sh(f"g++ {FLAGS} {extra} hello.cpp -o hello && ./hello",
                                        hello_dir))  # fmt: skip

            hello = alternate(rounds, {
                "cosim": lambda: kernel.cell(HELLO.format(n=next(counter))),
                "plain": lambda: by_hand(""),
                "pch": lambda: by_hand(f"{include} {GOLD}"),
            })  # fmt: skip
        finally:
            kernel.close()

        # A 10-file project in a fresh kernel's folder; by hand: the same sources, own objects.
        work = base / "project"
        work.mkdir(mode=0o755)
        project(work / "src", 10)
        hand = {"plain": base / "hand-plain", "pch": base / "hand-pch"}
        # Untimed: the by-hand objects, one compiler per core, while the kernel builds the
        # project once (nothing timed runs until both are done).
        compiles = []
        for name, folder in hand.items():
            extra = include if name == "pch" else ""
            folder.mkdir()
            compiles += [f"cd {folder} && g++ {FLAGS} {extra} -I{work}/src -c {f} -o {f.stem}.o"
                         for f in sorted((work / "src").glob("*.cpp"))]  # fmt: skip
        log = base / "prebuild.log"
        kernel = Kernel(work)
        prebuild: subprocess.Popen[bytes] | None = None
        try:
            with open(log, "wb") as err:
                prebuild = subprocess.Popen(
                    ["xargs", "-0", f"-P{os.cpu_count() or 1}", "-n1", "bash", "-c"],
                    stdin=subprocess.PIPE, stdout=err, stderr=subprocess.STDOUT,
                )  # fmt: skip
            assert prebuild.stdin is not None
            prebuild.stdin.write("\0".join(compiles).encode())
            prebuild.stdin.close()
            kernel.cell("%%build app")
            if prebuild.wait() != 0:
                raise RuntimeError(f"by-hand compile failed: {log.read_text()[-2000:]}")
            noop = [kernel.cell("%%build app") for _ in range(rounds)]
            changed = work / "src" / "part3.cpp"

            def change(r: int) -> None:  # an edit saved from Lab's editor: untimed
                changed.write_text(UNIT.format(i=3) + f"int changed{r}() {{ return {r}; }}\n")

            def relink(name: str) -> float:
                extra = f"{include} " if name == "pch" else ""
                link = GOLD if name == "pch" else ""
                cmd = f"g++ {FLAGS} {extra}-I{work}/src -c {changed} -o part3.o && "
                return timed(lambda: sh(cmd + f"g++ *.o -o app {link}", hand[name]))

            one = alternate(rounds, {
                "cosim": lambda: kernel.cell("%%build app"),
                "plain": lambda: relink("plain"),
                "pch": lambda: relink("pch"),
            }, before_round=change)  # fmt: skip
        finally:
            kernel.close()
            if prebuild is not None:
                prebuild.wait()  # a few seconds at most, before its folder goes
    finally:
        shutil.rmtree(base, ignore_errors=True)

    r: dict[str, list[float]] = {
        "hello_ratio": ratio_rounds(hello["cosim"], hello["plain"]),
        "hello_ratio_vs_pch": ratio_rounds(hello["cosim"], hello["pch"]),
        "one_change_ratio": ratio_rounds(one["cosim"], one["plain"]),
        "one_change_ratio_vs_pch": ratio_rounds(one["cosim"], one["pch"]),
    }
    figures: dict[str, Any] = {k: round(median(v), 3) for k, v in r.items()}
    figures |= {
        "first_cell_ms": round(first_cell * 1000, 1),
        "pch_build_ms": round(pch_s * 1000, 1),
        "noop_rebuild_ms": round(median(noop) * 1000, 2),
        "detail": {k: figure(v) for k, v in r.items()}
        | {f"hello_{k}_ms": figure([x * 1000 for x in v], 1) for k, v in hello.items()}
        | {f"one_change_{k}_ms": figure([x * 1000 for x in v], 1) for k, v in one.items()},
    }

    def ms(values: list[float]) -> str:
        return f"{median(values) * 1000:.1f} ms"

    rows = [
        ("hello cell, execute -> reply", ms(hello["cosim"]), f"flags {FLAGS}"),
        ("g++ hello.cpp && ./hello", ms(hello["plain"]), "same flags"),
        ("  + same PCH and linker", ms(hello["pch"]), f"-include cosim_pch.hpp {GOLD}"),
        headline("hello_ratio", r["hello_ratio"], "<= 1.0"),
        headline("hello_ratio_vs_pch", r["hello_ratio_vs_pch"], "<= 1.1"),
        ("first cell (builds the PCH)", f"{first_cell * 1000:.0f} ms",
         f"the header by hand: {pch_s * 1000:.0f} ms"),
        ("%%build, 10 files, no change", ms(noop), "goal < 50 ms"),
        ("%%build, 1 of 10 files changed", ms(one["cosim"]), ""),
        ("g++ -c file && g++ *.o", ms(one["plain"]), "same flags"),
        ("  + same PCH and linker", ms(one["pch"]), ""),
        headline("one_change_ratio", r["one_change_ratio"], "<= 1.2"),
        headline("one_change_ratio_vs_pch", r["one_change_ratio_vs_pch"], "<= 1.2"),
    ]  # fmt: skip
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
