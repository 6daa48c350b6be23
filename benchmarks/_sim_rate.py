"""Sim steps per second with and without something attached to sync(): the measure behind every
``*_overhead`` figure (viewer, control document, recording).

Two ways to compare. ``paired_rounds`` times each side on its own, in alternating runs: the
fair one when only one side does wall-clock work (a viewer publishes 60 frames per wall
second; taking turns with a bare loop would give it twice the frames per second of its own
time). ``overhead_rounds`` lets the two sides take turns every ``BLOCK`` steps of one sim: far
less noise, and fair when both sides do the same wall-clock work (two viewers, one with a
control document)."""

from __future__ import annotations

import time
from typing import Any

import mujoco

BLOCK = 50  # steps between clock reads


def _block(model: Any, data: Any, viewer: Any | None) -> float:
    start = time.perf_counter()
    for _ in range(BLOCK):
        mujoco.mj_step(model, data)
        if viewer is not None:
            viewer.sync()
    return time.perf_counter() - start


def steps_per_second(model: Any, data: Any, seconds: float, viewer: Any | None) -> float:
    """One timed run of ``seconds``; ``viewer`` None steps the bare sim."""
    spent = 0.0
    blocks = 0
    while spent < seconds:
        spent += _block(model, data, viewer)
        blocks += 1
    return blocks * BLOCK / spent


def interleaved_rates(
    model: Any, data: Any, seconds: float, first: Any | None, second: Any | None
) -> tuple[float, float]:
    """Steps/s of ``first`` and ``second`` (None: the bare sim) taking turns every ``BLOCK``
    steps of the same sim for ``seconds`` in all. Both meet the same moments of the machine (a
    load spike, a frequency change) and the same sim states, so their ratio carries far less
    noise than two separately timed runs."""
    spent = [0.0, 0.0]
    blocks = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        spent[0] += _block(model, data, first)
        spent[1] += _block(model, data, second)
        blocks += 1
    return blocks * BLOCK / spent[0], blocks * BLOCK / spent[1]


def overhead_rounds(
    model: Any, data: Any, base: Any | None, attached: Any, rounds: int, seconds: float
) -> tuple[list[float], list[float], list[float]]:
    """``rounds`` interleaved runs from a reset sim, which side opens alternating: the base's
    and the attached side's steps/s, and each round's ratio attached / base."""
    interleaved_rates(model, data, seconds, base, attached)  # warm-up, not counted
    without, with_, ratios = [], [], []
    for i in range(rounds):
        mujoco.mj_resetData(model, data)
        if i % 2 == 0:
            plain, extra = interleaved_rates(model, data, seconds, base, attached)
        else:
            extra, plain = interleaved_rates(model, data, seconds, attached, base)
        without.append(plain)
        with_.append(extra)
        ratios.append(extra / plain)
    return without, with_, ratios


def paired_rounds(
    model: Any, data: Any, base: Any | None, attached: Any, rounds: int, seconds: float
) -> tuple[list[float], list[float], list[float]]:
    """``rounds`` pairs of separate runs of ``seconds`` each from a reset sim, which side goes
    first alternating: the base's and the attached side's steps/s, and each pair's ratio."""
    steps_per_second(model, data, seconds, attached)  # warm-up, not counted
    without, with_, ratios = [], [], []
    for i in range(rounds):
        pair = [(without, base), (with_, attached)]
        for bucket, side in pair if i % 2 == 0 else reversed(pair):
            mujoco.mj_resetData(model, data)
            bucket.append(steps_per_second(model, data, seconds, side))
        ratios.append(with_[-1] / without[-1])
    return without, with_, ratios
