"""Workspace snapshots against the tools people use instead, on the same generated workspace.

- first_ratio: first snapshot time / `tar -c | zstd -1 && sync` of the same tree
- incremental_s: snapshot after changing one file; incremental_ratio_vs_git: that time /
  `git add -A && git commit` of the same change in a git repo of the same tree (medians of 5)
- restore_ratio: restore into a new folder / `zstd -d | tar -x` of the same tree (medians of 3)
- storage_ratio: store size after 10 snapshots with 1 % of files changed each / ten tar.zst files

    python benchmarks/snapshots.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cosim.snapshots import create, restore

WORDS = b"robot joint torque reward policy episode sensor camera frame pose lidar map".split()


def generate(root: Path, files: int, total_bytes: int, rng: random.Random) -> list[Path]:
    """Source-like text (compressible) and binary data (not), in nested folders."""
    paths = []
    per_file = int(total_bytes / files / 0.75)  # 90 % text at per_file/2, 10 % binary at 3x
    for i in range(files):
        folder = root / f"pkg{i % 40}" / f"mod{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 10 == 0:
            path = folder / f"weights{i}.bin"
            path.write_bytes(rng.randbytes(per_file * 3))
        else:
            path = folder / f"file{i}.py"
            words = [rng.choice(WORDS) for _ in range(per_file // 6)]
            path.write_bytes(b" ".join(words)[: per_file // 2])
        paths.append(path)
    return paths


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sh(cmd: str, cwd: Path) -> None:
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, capture_output=True)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 files, 100 MB")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    files, size = (2_000, 100 * 2**20) if args.quick else (10_000, 1024 * 2**20)
    rng = random.Random(42)
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-snap-"))
    try:
        ws = base / "ws"
        paths = generate(ws, files, size, rng)
        tree_bytes = du(ws)
        sh("sync", base)

        # Both sides end durable (a snapshot syncs before its manifest), so the baseline syncs too.
        tar_s = timed(
            lambda: sh(f"tar -C {ws} -c . | zstd -1 -q -o {base}/first.tar.zst && sync", base)
        )
        first_s = timed(lambda: create(ws, "first"))

        sh("git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm init", ws)
        # One changed file at a time, both tools on the same change; medians of five rounds.
        ours, theirs = [], []
        for changed in paths[1:6]:
            changed.write_bytes(changed.read_bytes() + b" changed")
            sh("sync", base)  # each side starts with nothing dirty: a snapshot fsyncs, git not
            ours.append(timed(lambda: create(ws, "one file changed")))
            sh("sync", base)
            theirs.append(timed(lambda: sh("git add -A && git -c user.email=b@b -c "
                                           "user.name=b commit -qm change", ws)))  # fmt: skip
        incremental_s, git_s = statistics.median(ours), statistics.median(theirs)
        shutil.rmtree(ws / ".git")

        # Alternating, each after a sync (the kernel's writeback of the last run's files would
        # otherwise land on whichever runs next); medians of three.
        ours, theirs = [], []
        for _ in range(3):
            sh("sync", base)
            ours.append(timed(lambda: restore(ws, "latest", target=base / "restored")))
            sh("sync && mkdir untar", base)
            theirs.append(timed(lambda: sh("zstd -d -q -c first.tar.zst | tar -C untar -x", base)))
            shutil.rmtree(base / "restored")
            shutil.rmtree(base / "untar")
        restore_s, untar_s = statistics.median(ours), statistics.median(theirs)

        tar_sizes = [(base / "first.tar.zst").stat().st_size]
        for i in range(9):
            for path in rng.sample(paths, max(1, files // 100)):
                path.write_bytes(path.read_bytes()[:-8] + rng.randbytes(8))
            create(ws, f"step {i}")
            sh(f"tar -C {ws} --exclude=./.cosim -c . | zstd -1 -q -o {base}/s{i}.tar.zst", base)
            tar_sizes.append((base / f"s{i}.tar.zst").stat().st_size)
        store_bytes = du(ws / ".cosim" / "snapshots")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    figures = {
        "first_ratio": round(first_s / tar_s, 3),
        "incremental_s": round(incremental_s, 3),
        "incremental_ratio_vs_git": round(incremental_s / git_s, 3),
        "restore_ratio": round(restore_s / untar_s, 3),
        "storage_ratio": round(store_bytes / sum(tar_sizes), 3),
    }
    print(f"workspace: {files:,} files, {tree_bytes / 2**20:,.0f} MiB")
    rows = [
        ("first snapshot", first_s, "tar -c | zstd -1 && sync", tar_s, "first_ratio", "<= 1.0"),
        ("snapshot after 1 file changed", incremental_s, "git add -A && git commit", git_s,
         "incremental_ratio_vs_git", "<= 1.0"),
        ("restore to a new folder", restore_s, "zstd -d | tar -x", untar_s, "restore_ratio",
         "<= 1.2"),
    ]  # fmt: skip
    print(f"{'operation':<32}{'CoSim':>9}  {'baseline':<26}{'':>9}  ratio")
    for name, ours, base_name, theirs, key, goal in rows:
        print(f"{name:<32}{ours:8.3f}s  {base_name:<26}{theirs:8.3f}s  "
              f"{figures[key]:.3f} ({goal})")  # fmt: skip
    print(f"{'10 snapshots, 1% changes each':<32}{store_bytes / 2**20:8.1f}M  "
          f"{'ten tar.zst archives':<26}{sum(tar_sizes) / 2**20:8.1f}M  "
          f"{figures['storage_ratio']:.3f}")  # fmt: skip
    print(f"incremental snapshot: {incremental_s:.3f} s (goal < 0.5 s on 1 GB)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
