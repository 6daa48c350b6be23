"""The two pictures of a SLAM run, as PNG and SVG: top view (estimate after alignment vs ground
truth) and the absolute error over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLOT_FILES = ("trajectory.png", "trajectory.svg", "error.png", "error.svg")


def write_plots(folder: Path, ev: Any, title: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    arrays = ev.arrays
    written = []
    fig, ax = plt.subplots(figsize=(6, 5.5))
    gt, est = arrays["gt_xyz"], arrays["est_xyz"]
    ax.plot(gt[:, 0], gt[:, 1], "--", color="0.4", label="ground truth")
    ax.plot(est[:, 0], est[:, 1], color="tab:blue", label="estimate (aligned)")
    ax.plot(gt[0, 0], gt[0, 1], "o", color="0.4")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"{title}  ATE RMSE {ev.ate['rmse'] * 100:.2f} cm".strip())
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    for ext in ("png", "svg"):
        fig.savefig(folder / f"trajectory.{ext}", dpi=100, bbox_inches="tight")
        written.append(folder / f"trajectory.{ext}")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = arrays.get("seconds_from_start")
    ax.plot(x if x is not None else range(len(arrays["ate"])), arrays["ate"] * 100)
    ax.axhline(ev.ate["rmse"] * 100, color="tab:red", ls=":", label="RMSE")
    ax.set_xlabel("time (s)" if x is not None else "frame")
    ax.set_ylabel("absolute error (cm)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    for ext in ("png", "svg"):
        fig.savefig(folder / f"error.{ext}", dpi=100, bbox_inches="tight")
        written.append(folder / f"error.{ext}")
    plt.close(fig)
    return written
