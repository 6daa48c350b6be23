"""Workspace snapshots against the tools people use instead, on the same generated workspace.

Every side gets the same tree, the same change and a clean start (`sync` before each timed run,
so no one pays for another's writeback); the side that goes first rotates from round to round;
figures are medians of the per-round ratios, with their spread.

- first_ratio: first snapshot into an empty store / `tar -c | zstd -1 -T0 -o X && sync X`
  (zstd at CoSim's level, all cores, and an fsync of its own output, as a snapshot ends durable)
- incremental_ratio_vs_restic / _vs_borg / _vs_git: snapshot after one file changed /
  `restic backup` (default settings), `borg create` (`--encryption=none`, default lz4; borg's
  fastest local setting) and `git add -A && git commit` (`.cosim/` in `.gitignore`), each into
  its own repository that already holds the first snapshot
- restore_ratio: restore into a new folder / `zstd -d | tar -x` of the same tree
- storage_ratio: store size after 10 snapshots with 1 % of files changed each / ten tar.zst files

    python benchmarks/snapshots.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from _report import alternate, figure, headline, median, ratio_rounds, report, timed

from cosim.snapshots import create, restore

WORDS = b"robot joint torque reward policy episode sensor camera frame pose lidar map".split()
ENV = {
    **os.environ,
    "RESTIC_PASSWORD": "bench",
    "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
}


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
    # What a git user keeps out of the repository: CoSim's own store.
    (root / ".gitignore").write_text(".cosim/\n")
    return paths


def sh(cmd: str, cwd: Path) -> None:
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, capture_output=True, env=ENV)


def clean_then(cmd: str, cwd: Path) -> float:
    """`sync` (untimed), then the seconds ``cmd`` takes."""
    sh("sync", cwd)
    return timed(lambda: sh(cmd, cwd))


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
    ws = base / "ws"
    try:
        paths = generate(ws, files, size, rng)
        tree_bytes = du(ws)

        def cosim_first() -> float:
            shutil.rmtree(ws / ".cosim", ignore_errors=True)
            sh("sync", base)
            return timed(lambda: create(ws, "first"))

        first = alternate(3, {
            "cosim": cosim_first,
            "tar": lambda: clean_then(f"tar -C {ws} --exclude=./.cosim -c . | zstd -1 -T0 -q "
                                      f"-f -o {base}/first.tar.zst && sync first.tar.zst", base),
        })  # fmt: skip

        # Each tool's repository starts with the first snapshot (untimed).
        sh(f"restic init -q -r {base}/restic && restic backup -q -r {base}/restic "
           f"--exclude {ws}/.cosim {ws}", base)  # fmt: skip
        sh(f"borg init -e none {base}/borg && borg create {base}/borg::s0 {ws} "
           f"--exclude {ws}/.cosim", base)  # fmt: skip
        sh("git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm init", ws)

        def change_one_file(r: int) -> None:
            path = paths[1 + r]
            path.write_bytes(path.read_bytes() + b" changed")

        def cosim_incremental() -> float:
            sh("sync", base)
            return timed(lambda: create(ws, "one file changed"))

        borg_names = iter(range(1, 1000))
        incremental = alternate(5, {
            "cosim": cosim_incremental,
            "restic": lambda: clean_then(f"restic backup -q -r {base}/restic "
                                         f"--exclude {ws}/.cosim {ws}", base),
            "borg": lambda: clean_then(f"borg create {base}/borg::s{next(borg_names)} {ws} "
                                       f"--exclude {ws}/.cosim", base),
            "git": lambda: clean_then("git add -A && git -c user.email=b@b -c user.name=b "
                                      "commit -qm change", ws),
        }, before_round=change_one_file)  # fmt: skip
        shutil.rmtree(ws / ".git")

        def cosim_restore() -> float:
            shutil.rmtree(base / "restored", ignore_errors=True)
            sh("sync", base)
            return timed(lambda: restore(ws, "latest", target=base / "restored"))

        def untar() -> float:
            shutil.rmtree(base / "untar", ignore_errors=True)
            (base / "untar").mkdir()
            return clean_then("zstd -d -q -c first.tar.zst | tar -C untar -x", base)

        restores = alternate(3, {"cosim": cosim_restore, "tar": untar})
        shutil.rmtree(base / "restored")
        shutil.rmtree(base / "untar")

        tar_sizes = [(base / "first.tar.zst").stat().st_size]
        for i in range(9):
            for path in rng.sample(paths, max(1, files // 100)):
                path.write_bytes(path.read_bytes()[:-8] + rng.randbytes(8))
            create(ws, f"step {i}")
            sh(f"tar -C {ws} --exclude=./.cosim -c . | zstd -1 -T0 -q -o {base}/s{i}.tar.zst", base)
            tar_sizes.append((base / f"s{i}.tar.zst").stat().st_size)
        store_bytes = du(ws / ".cosim" / "snapshots")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    first_r = ratio_rounds(first["cosim"], first["tar"])
    inc = {k: ratio_rounds(incremental["cosim"], incremental[k]) for k in ("restic", "borg", "git")}
    restore_r = ratio_rounds(restores["cosim"], restores["tar"])
    storage = store_bytes / sum(tar_sizes)
    figures = {
        "first_ratio": round(median(first_r), 3),
        "incremental_s": round(median(incremental["cosim"]), 3),
        "incremental_ratio_vs_restic": round(median(inc["restic"]), 3),
        "incremental_ratio_vs_borg": round(median(inc["borg"]), 3),
        "incremental_ratio_vs_git": round(median(inc["git"]), 3),
        "restore_ratio": round(median(restore_r), 3),
        "storage_ratio": round(storage, 3),
        "detail": {
            "first_ratio": figure(first_r),
            **{f"incremental_ratio_vs_{k}": figure(v) for k, v in inc.items()},
            "restore_ratio": figure(restore_r),
            "seconds": {f"first_{k}": figure(v) for k, v in first.items()}
            | {f"incremental_{k}": figure(v) for k, v in incremental.items()}
            | {f"restore_{k}": figure(v) for k, v in restores.items()},
        },
    }
    print(f"workspace: {files:,} files, {tree_bytes / 2**20:,.0f} MiB")

    def secs(values: list[float]) -> str:
        return f"{median(values):.3f} s"

    rows = [
        ("first snapshot (CoSim)", secs(first["cosim"]), ""),
        ("tar | zstd -1 -T0 && sync out", secs(first["tar"]), ""),
        headline("first_ratio", first_r, "<= 1.0"),
        ("snapshot, 1 file changed (CoSim)", secs(incremental["cosim"]), "goal < 0.5 s on 1 GiB"),
        ("restic backup", secs(incremental["restic"]), ""),
        ("borg create (-e none)", secs(incremental["borg"]), ""),
        ("git add -A && git commit", secs(incremental["git"]), ".cosim/ ignored"),
        headline("incremental_ratio_vs_restic", inc["restic"], "<= 0.33"),
        headline("incremental_ratio_vs_borg", inc["borg"], "<= 0.33"),
        headline("incremental_ratio_vs_git", inc["git"], "<= 1.0"),
        ("restore to a new folder (CoSim)", secs(restores["cosim"]), ""),
        ("zstd -d | tar -x", secs(restores["tar"]), ""),
        headline("restore_ratio", restore_r, "<= 1.2"),
        ("storage_ratio (10 snapshots / 10 tar.zst)", f"{storage:.3f}", ""),
    ]
    report(rows, figures, args.json)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
