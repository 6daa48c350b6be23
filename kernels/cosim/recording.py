"""Sim recordings: the writer the viewer feeds, and ``cosim.Recording`` to read them back.

The file layout is ``cosim_protocol.recording``'s; this module adds zstd and numpy. The writer
is split across threads on purpose: the sim thread only appends the frame bytes it already
made for the live view to a deque (``add_frame``); the viewer's publisher thread compresses and
writes them (``pump``), so a slow or full disk never slows the sim.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import io
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import zstandard

import cosim_protocol
from cosim_protocol import recording as fmt
from cosim_protocol.viewer import FRAME_HEADER, FRAME_MAGIC, KIND_POSES, decode_scene

BLOCK_FRAMES = 120  # frames per block: ~2 s at 60 fps, a few KB compressed
BLOCK_SECONDS = 1.0  # ... or less: a killed kernel loses at most this much
ZSTD_LEVEL = 9  # ~1 ms per block here; level 19 saves ~5 % more at 10x the time
CODING = fmt.FLAG_DELTA | fmt.FLAG_TRANSPOSE | fmt.FLAG_SHUFFLE
MAX_QUEUE = 60 * 600  # frames waiting for the disk (10 min at 60 fps) before recording stops


class Recorder:
    """Writes one ``.cosimrec`` file. ``add_*`` from any thread; ``pump`` from one thread."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any], scene: bytes):
        self.path = Path(path)
        self.header = header
        self.n = len(header["bodies"])
        self._scene = scene
        self._queue: collections.deque[bytes | dict[str, Any]] = collections.deque()
        self._file: io.BufferedWriter | None = None
        self._blocks: list[fmt.Block] = []
        self._offset = 0
        self._frames: list[bytes] = []
        self._events: list[dict[str, Any]] = []
        self._block_started = 0.0
        self._last: tuple[int, float] = (0, 0.0)  # frame number and sim time, for events
        self._cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._stop = threading.Event()
        self._writing = threading.Lock()  # pump() from the publisher, or stop_recording()'s rescue
        self.finished = threading.Event()
        self.error: str | None = None
        self.frames_written = 0
        # Opened here, in the caller's thread, so a bad path fails where the user asked for it.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by pump(final=True)

    # -- any thread -------------------------------------------------------------------------
    def add_frame(self, frame: bytes) -> None:
        if len(self._queue) < MAX_QUEUE:
            self._queue.append(frame)
        elif self.error is None:
            self.error = "the disk fell behind by more than 10 minutes of frames"
            self._stop.set()

    def add_event(self, kind: str, user: str | None = None, **detail: Any) -> None:
        """A control event at the latest frame (the hook for sim-control messages)."""
        self._queue.append({"kind": kind, "user": user, "detail": detail, "wall": time.time()})

    def control(self, command: dict[str, Any]) -> None:
        """A control message the publisher received (``{"cmd": ..., "user": ...}``)."""
        cmd = command.get("cmd")
        if isinstance(cmd, str):
            user = command.get("user")
            detail = {k: v for k, v in command.items() if k not in ("cmd", "user")}
            self.add_event(cmd, user if isinstance(user, str) else None, **detail)

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the writing thread -----------------------------------------------------------------
    def pump(self, final: bool = False) -> None:
        """Write what is queued; blocks go out when full or old. ``final`` (or a requested
        stop) writes the rest, the index and the footer, and closes the file."""
        with self._writing:
            if not self.finished.is_set():
                self._pump(final or self._stop.is_set())

    def _pump(self, final: bool) -> None:
        try:
            if self._offset == 0:
                self._write(fmt.encode_header(self.header))
                self._write_block(fmt.BLOCK_SCENE, self._scene)
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, dict):
                    self._events.append({"t": self._last[1], "frame": self._last[0], **item})
                else:
                    self._take_frame(item)
            full = len(self._frames) >= BLOCK_FRAMES
            old = self._frames and time.monotonic() - self._block_started >= BLOCK_SECONDS
            if full or old or final:
                self._flush()
            if final:
                self._finish()
        except Exception as err:  # a full disk, a removed directory: stop, never raise
            self._fail(err)

    def _take_frame(self, frame: bytes) -> None:
        magic, kind, _f, number, sim_time, _w, count, _x, _y, _sid = FRAME_HEADER.unpack_from(frame)
        if magic != FRAME_MAGIC or kind != KIND_POSES or count != self.n:
            return
        if not self._frames:
            self._block_started = time.monotonic()
        self._frames.append(frame)
        self._last = (number, sim_time)
        if len(self._frames) >= BLOCK_FRAMES:
            self._flush()

    def _flush(self) -> None:
        if self._events:
            events, self._events = self._events, []
            raw = fmt.encode_events(events)
            self._write_block(
                fmt.BLOCK_EVENTS, raw, count=len(events), first_frame=int(events[0]["frame"]),
                t0=float(events[0]["t"]), t1=float(events[-1]["t"]),
            )  # fmt: skip
        if not self._frames:
            return
        frames, self._frames = self._frames, []
        heads = [FRAME_HEADER.unpack_from(f) for f in frames]
        k, size = len(frames), FRAME_HEADER.size
        poses = b"".join(memoryview(f)[size:] for f in frames)
        raw = fmt.encode_frames(
            [h[3] for h in heads], [h[4] for h in heads], [h[5] for h in heads],
            fmt.delta_encode(poses, k, self.n, CODING), self.n,
        )  # fmt: skip
        self._write_block(
            fmt.BLOCK_FRAMES, raw, flags=CODING, count=k, first_frame=heads[0][3],
            t0=heads[0][4], t1=heads[-1][4],
        )  # fmt: skip
        self.frames_written += k

    def _write_block(self, type_: int, raw: bytes, **fields: Any) -> None:
        stored = self._cctx.compress(raw)
        data = fmt.encode_block(type_, stored, raw_len=len(raw), codec=fmt.CODEC_ZSTD, **fields)
        offset = self._offset
        self._write(data)
        block = fmt.Block(
            offset, type_, fmt.CODEC_ZSTD, fields.get("flags", 0), len(stored), len(raw), 0,
            fields.get("count", 0), fields.get("first_frame", 0), fields.get("t0", 0.0),
            fields.get("t1", 0.0),
        )  # fmt: skip
        self._blocks.append(block)

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self._file.flush()  # a whole block reaches the OS: a killed kernel keeps it
        self._offset += len(data)

    def _finish(self) -> None:
        self._write(fmt.encode_index(self._blocks, self._offset))
        assert self._file is not None
        self._file.close()
        self._file = None
        self.finished.set()

    def _fail(self, err: BaseException) -> None:
        if self.error is None:
            self.error = f"{type(err).__name__}: {err}"
        self._queue.clear()
        self._frames.clear()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        self.finished.set()


def recording_header(scene: bytes, meta: dict[str, Any], rate: float) -> dict[str, Any]:
    """The file header for a viewer's sim: its moving bodies' names in frame order."""
    bodies = [b["name"] for b in decode_scene(scene)[0]["bodies"] if b["dynamic"]]
    return {
        "engine": meta["engine"],
        "title": meta["title"],
        "sim_id": meta["sim_id"],
        "created": time.time(),
        "bodies": bodies,
        "rate": rate,
        "writer": f"cosim {cosim_protocol.__version__}",
    }


# -- reading ----------------------------------------------------------------------------------
class Track(NamedTuple):
    """Every frame of a recording: ``frame`` (k,) u64, ``time`` (k,) sim s, ``wall`` (k,) Unix
    s, ``poses`` (k, n, 7) float32 (px, py, pz, qx, qy, qz, qw)."""

    frame: np.ndarray
    time: np.ndarray
    wall: np.ndarray
    poses: np.ndarray


@dataclass(frozen=True)
class _Frames:
    numbers: np.ndarray
    times: np.ndarray
    walls: np.ndarray
    poses: np.ndarray


class Recording:
    """A ``.cosimrec`` file opened for reading. Raises ``RecordingError`` with the reason for a
    file it cannot read; a file cut short (a killed kernel) opens with its complete blocks and
    ``truncated`` set."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as err:
            raise fmt.RecordingError(f"cannot open {self.path}: {err.strerror}") from None
        try:
            self._load()
        except BaseException:
            self._file.close()
            raise
        self._block = lru_cache(maxsize=32)(self._read_frames)

    def _load(self) -> None:
        size = os.fstat(self._file.fileno()).st_size
        self.size = size
        self.header, start = fmt.read_header(self._file, size)
        self.bodies: list[str] = list(self.header["bodies"])
        blocks, self.truncated = fmt.read_index(self._file, start, size)
        scenes = [b for b in blocks if b.type == fmt.BLOCK_SCENE]
        if not scenes:
            raise fmt.RecordingError("truncated: the file ends before its scene block")
        self.scene_bytes = self._payload(scenes[0])
        self.scene, _ = decode_scene(self.scene_bytes)
        self.events: list[dict[str, Any]] = []
        for b in blocks:
            if b.type == fmt.BLOCK_EVENTS:
                self.events.extend(fmt.decode_events(self._payload(b)))
        self._frame_blocks = [b for b in blocks if b.type == fmt.BLOCK_FRAMES]
        self._starts = [0]
        for b in self._frame_blocks:
            self._starts.append(self._starts[-1] + b.count)
        self._t0s = [b.t0 for b in self._frame_blocks]

    # -- what the file holds -------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return self._starts[-1]

    @property
    def start_time(self) -> float:
        return self._frame_blocks[0].t0 if self._frame_blocks else 0.0

    @property
    def end_time(self) -> float:
        return self._frame_blocks[-1].t1 if self._frame_blocks else 0.0

    @property
    def duration(self) -> float:
        """Sim seconds from the first frame to the last."""
        return self.end_time - self.start_time

    def info(self) -> dict[str, Any]:
        """What ``cosim rec info`` prints."""
        return {
            "path": str(self.path),
            "version": fmt.SCHEMA_VERSION,
            "engine": self.header.get("engine"),
            "title": self.header.get("title"),
            "created": self.header.get("created"),
            "bodies": len(self.bodies),
            "frames": self.frame_count,
            "blocks": len(self._frame_blocks),
            "start_time": self.start_time,
            "duration": self.duration,
            "events": len(self.events),
            "bytes": self.size,
            "truncated": self.truncated,
        }

    # -- frames ---------------------------------------------------------------------------
    def _payload(self, block: fmt.Block) -> bytes:
        stored = fmt.read_stored(self._file, block)
        if block.raw > fmt.MAX_RAW_BLOCK:
            raise fmt.RecordingError(
                f"block at {block.offset} claims {block.raw} bytes (limit {fmt.MAX_RAW_BLOCK})"
            )
        if block.codec == fmt.CODEC_NONE:
            raw = stored
        else:
            raw = _bounded_unzstd(stored, block.raw, block.offset)
        if len(raw) != block.raw:
            raise fmt.RecordingError(
                f"block at {block.offset} holds {len(raw)} bytes, not the {block.raw} it declares"
            )
        return raw

    def _read_frames(self, i: int) -> _Frames:
        block, n = self._frame_blocks[i], len(self.bodies)
        numbers, times, walls, coded = fmt.split_frames(self._payload(block), block.count, n)
        plain = fmt.delta_decode(coded, block.count, n, block.flags)
        return _Frames(
            np.frombuffer(numbers, "<u8"),
            np.frombuffer(times, "<f8"),
            np.frombuffer(walls, "<f8"),
            np.frombuffer(plain, "<f4").reshape(block.count, n, 7),
        )

    def _frame(self, j: int) -> tuple[float, np.ndarray]:
        i = bisect.bisect_right(self._starts, j) - 1
        frames = self._block(i)
        return float(frames.times[j - self._starts[i]]), frames.poses[j - self._starts[i]]

    def frame(self, j: int) -> np.ndarray:
        """The poses of frame ``j`` (0-based), (n, 7) float32."""
        if not 0 <= j < self.frame_count:
            raise IndexError(f"frame {j} is outside 0..{self.frame_count - 1}")
        return self._frame(j)[1]

    def pose_at(self, t: float) -> np.ndarray:
        """Every body's pose at sim time ``t``, (n, 7): positions interpolated linearly and
        quaternions spherically between the frames around ``t`` (clamped to the ends). Sim
        time is assumed to rise through the file: after a reset inside one recording (time
        back to 0) use ``frame(j)`` or ``to_numpy()``."""
        if self.frame_count == 0:
            raise ValueError("the recording holds no frames")
        i = max(bisect.bisect_right(self._t0s, t) - 1, 0)
        frames = self._block(i)
        k = int(np.searchsorted(frames.times, t, side="right")) - 1
        j = self._starts[i] + max(k, 0)
        t0, p0 = self._frame(j)
        if t <= t0 or j + 1 >= self.frame_count:
            return p0.astype(np.float64)
        t1, p1 = self._frame(j + 1)
        if t >= t1:
            return p1.astype(np.float64)
        return interpolate(p0, p1, (t - t0) / (t1 - t0))

    def to_numpy(self) -> Track:
        parts = [self._block(i) for i in range(len(self._frame_blocks))]
        n = len(self.bodies)
        if not parts:
            empty = np.zeros(0)
            return Track(empty.astype("<u8"), empty, empty, np.zeros((0, n, 7), "<f4"))
        return Track(
            np.concatenate([p.numbers for p in parts]),
            np.concatenate([p.times for p in parts]),
            np.concatenate([p.walls for p in parts]),
            np.concatenate([p.poses for p in parts]),
        )

    def play(self, **kwargs: Any) -> Any:
        """Show the recording inline like a live sim: its frames are published at their
        recorded pace (``speed`` times faster) to the viewers. Returns the player; ``stop()``."""
        from .replay import Player

        return Player(self, **kwargs)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<cosim.Recording {str(self.path)!r} {self.frame_count} frames, "
            f"{len(self.bodies)} bodies, {self.duration:.2f} s>"
        )


def _bounded_unzstd(stored: bytes, declared: int, offset: int) -> bytes:
    """Decompress at most ``declared`` + 1 bytes: a bomb is caught without inflating it."""
    out = bytearray()
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=False)
        while len(out) <= declared:
            chunk = reader.read(min(declared + 1 - len(out), 1 << 20))
            if not chunk:
                break
            out += chunk
    except zstandard.ZstdError as err:
        raise fmt.RecordingError(f"block at {offset} cannot be decompressed: {err}") from None
    if len(out) > declared:
        raise fmt.RecordingError(
            f"block at {offset} decompresses past the {declared} bytes it declares "
            "(a decompression bomb or a damaged file)"
        )
    return bytes(out)


def interpolate(p0: np.ndarray, p1: np.ndarray, a: float) -> np.ndarray:
    """Poses between ``p0`` and ``p1`` (n, 7) at fraction ``a``: lerp positions, slerp
    quaternions (shortest arc)."""
    p0, p1 = p0.astype(np.float64), p1.astype(np.float64)
    out = np.empty_like(p0)
    out[:, :3] = p0[:, :3] + (p1[:, :3] - p0[:, :3]) * a
    q0, q1 = p0[:, 3:], p1[:, 3:].copy()
    dot = np.sum(q0 * q1, axis=1)
    q1[dot < 0] *= -1
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    near = sin < 1e-6
    safe = np.where(near, 1.0, sin)
    w0 = np.where(near, 1 - a, np.sin((1 - a) * theta) / safe)
    w1 = np.where(near, a, np.sin(a * theta) / safe)
    q = q0 * w0[:, None] + q1 * w1[:, None]
    out[:, 3:] = q / np.linalg.norm(q, axis=1, keepdims=True)
    return out
