"""The sim viewer's wire formats (pose/pixel frames, scenes), shared by the kernel and the server.

Standard library only: numpy is imported lazily, only by callers that hand in or ask for arrays
(``encode_poses`` with an array, ``Frame.poses``), so the server and hub can decode without it.

All integers and floats are little-endian. Quaternions on the wire are (x, y, z, w), three.js
order; positions are metres in the simulator's world frame (z up).

Pose frame (``FRAME_MAGIC``), one per ``sync()`` that publishes::

    offset size  field
    0      4     magic b"CSF1"
    4      2     kind: 0 = poses, 1 = JPEG pixels
    6      2     flags (reserved, 0)
    8      8     frame number (u64, starts at 1)
    16     8     sim time in seconds (f64)
    24     8     publish wall time, Unix seconds (f64; for latency measurement)
    32     4     count: poses -> number of bodies; pixels -> JPEG byte length (u32)
    36     4     width, height for pixels (u16 each); 0 for poses
    40     16    sim id (16 raw bytes of the uuid4)
    56     ...   poses: count x 7 float32 (px, py, pz, qx, qy, qz, qw), in the scene's order
                 of *dynamic* bodies (static bodies never move and are never sent);
                 pixels: the JPEG bytes

So a pose frame is 56 + 28 * n bytes: 28 bytes per moving body.

Scene (``SCENE_MAGIC``), published once per model under its content hash::

    0   4   magic b"CSSC"
    4   4   version (u32) = 1
    8   4   JSON length in bytes (u32)
    12  ... UTF-8 JSON, then zero padding to a multiple of 4
    ... binary section: mesh buffers (float32 vertices xyz, uint32 triangle indices, optional
        float32 normals), each starting at a multiple of 4 bytes from the binary section start

Scene JSON::

    {"engine": "mujoco" | "pybullet", "name": str,
     "bodies": [{"name": str, "dynamic": bool, "pos": [3], "quat": [4]}],  # initial pose
     "geoms": [{"body": int, "type": "plane"|"sphere"|"capsule"|"ellipsoid"|"cylinder"|"box"|
                "mesh"|"hfield", "size": [...], "pos": [3], "quat": [4], "rgba": [4],
                "mesh": int | null, "group": int}],  # pos/quat relative to the body;
                # group: MuJoCo's geom group (viewers hide 3 and up, as MuJoCo's does)
     "meshes": [{"name": str, "vertices": [offset, count], "faces": [offset, count],
                 "normals": [offset, count] | null}],
                 # offsets in bytes from the binary section's start; counts: vertices and
                 # normals in xyz triples (float32), faces in triangles (3 x uint32)
     "cameras": [{"name": str, "body": int, "pos": [3], "quat": [4], "fovy": float}],
     "lights": [{"name": str, "body": int, "pos": [3], "dir": [3], "directional": bool}],
     "extent": float}                          # scene size, for the default camera distance

Geom sizes: sphere [r]; capsule [r, half_length] (along local z); cylinder [r, half_length]
(along z); ellipsoid [rx, ry, rz]; box [hx, hy, hz] (half sizes); plane [hx, hy] (0 = infinite);
mesh [sx, sy, sz] scale; hfield [hx, hy, z_top, z_bottom] with the mesh of its surface.

Redis names for sims and scenes: ``cosim_protocol.keys``.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SCHEMA_VERSION = 1
FRAME_MAGIC = b"CSF1"
END_MESSAGE = b"END"
SCENE_MAGIC = b"CSSC"
SCENE_VERSION = 1
KIND_POSES = 0
KIND_PIXELS = 1
FRAME_HEADER = struct.Struct("<4sHHQddIHH16s")
assert FRAME_HEADER.size == 56
BYTES_PER_BODY = 28
MIME_TYPE = "application/vnd.cosim.viewer+json"


class ProtocolError(ValueError):
    """Bytes that are not a valid frame or scene."""


def new_sim_id() -> str:
    return uuid.uuid4().hex


def is_sim_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class Frame:
    kind: int
    number: int
    sim_time: float
    wall_time: float
    sim_id: str
    pose_bytes: bytes | None = None  # n x 7 little-endian float32
    jpeg: bytes | None = None
    width: int = 0
    height: int = 0

    @property
    def poses(self) -> np.ndarray | None:
        """The poses as an (n, 7) float32 array (imports numpy)."""
        if self.pose_bytes is None:
            return None
        import numpy as np

        return np.frombuffer(self.pose_bytes, dtype="<f4").reshape(-1, 7)

    def pose_rows(self) -> list[tuple[float, ...]]:
        """The poses as 7-tuples, without numpy."""
        if self.pose_bytes is None:
            return []
        return list(struct.iter_unpack("<7f", self.pose_bytes))


def _pose_body(poses: Any) -> tuple[int, bytes]:
    """(count, little-endian float32 bytes) of an (n, 7) array or a sequence of 7-sequences."""
    if hasattr(poses, "__array__"):  # numpy (or array-like): one copy, no Python loop
        import numpy as np

        body = np.ascontiguousarray(poses, dtype="<f4")
        if body.ndim != 2 or body.shape[1] != 7:
            raise ValueError(f"poses must have shape (n, 7), not {body.shape}")
        return body.shape[0], body.tobytes()
    rows = [tuple(row) for row in poses]
    if any(len(row) != 7 for row in rows):
        raise ValueError("every pose must have 7 numbers (px, py, pz, qx, qy, qz, qw)")
    return len(rows), b"".join(struct.pack("<7f", *row) for row in rows)


def encode_poses(sim_id: str, number: int, sim_time: float, wall_time: float, poses: Any) -> bytes:
    """``poses``: (n, 7) array (any float dtype) or rows of px, py, pz, qx, qy, qz, qw."""
    count, body = _pose_body(poses)
    header = FRAME_HEADER.pack(
        FRAME_MAGIC, KIND_POSES, 0, number, sim_time, wall_time, count, 0, 0,
        bytes.fromhex(sim_id),
    )  # fmt: skip
    return header + body


def encode_pixels(
    sim_id: str, number: int, sim_time: float, wall_time: float, jpeg: bytes, size: Sequence[int]
) -> bytes:
    width, height = int(size[0]), int(size[1])
    header = FRAME_HEADER.pack(
        FRAME_MAGIC, KIND_PIXELS, 0, number, sim_time, wall_time, len(jpeg), width, height,
        bytes.fromhex(sim_id),
    )  # fmt: skip
    return header + jpeg


def decode_frame(data: bytes) -> Frame:
    if len(data) < FRAME_HEADER.size:
        raise ProtocolError(f"frame too short: {len(data)} bytes")
    magic, kind, _flags, number, sim_time, wall, count, w, h, sid = FRAME_HEADER.unpack_from(data)
    if magic != FRAME_MAGIC:
        raise ProtocolError("not a CoSim frame (bad magic)")
    payload = memoryview(data)[FRAME_HEADER.size :]
    if kind == KIND_POSES:
        if len(payload) != count * BYTES_PER_BODY:
            raise ProtocolError(f"frame says {count} bodies but has {len(payload)} pose bytes")
        return Frame(kind, number, sim_time, wall, sid.hex(), pose_bytes=bytes(payload))
    if kind == KIND_PIXELS:
        if len(payload) != count:
            raise ProtocolError(f"frame says {count} JPEG bytes but has {len(payload)}")
        return Frame(
            kind, number, sim_time, wall, sid.hex(), jpeg=bytes(payload), width=w, height=h
        )
    raise ProtocolError(f"unknown frame kind {kind}")


def encode_scene(scene: dict[str, Any], buffers: Sequence[Any]) -> bytes:
    """Pack scene JSON and mesh buffers. ``scene["meshes"]`` offsets must index ``buffers``:
    this function rewrites each ``[buffer_index, count]`` pair to ``[byte_offset, count]``."""
    blobs: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    for buf in buffers:
        raw = buf.tobytes() if hasattr(buf, "tobytes") else bytes(buf)  # numpy: C order
        offsets.append(pos)
        pad = (-len(raw)) % 4
        blobs.append(raw + b"\0" * pad)
        pos += len(raw) + pad
    meshes = []
    for mesh in scene.get("meshes", []):
        fixed = dict(mesh)
        for field in ("vertices", "faces", "normals"):
            ref = mesh.get(field)
            if ref is not None:
                fixed[field] = [offsets[ref[0]], ref[1]]
        meshes.append(fixed)
    text = json.dumps({**scene, "meshes": meshes}, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    return SCENE_MAGIC + struct.pack("<II", SCENE_VERSION, len(text)) + text + b"".join(blobs)


def decode_scene(data: bytes) -> tuple[dict[str, Any], memoryview]:
    """Scene JSON and the binary section (mesh offsets are relative to its start)."""
    if len(data) < 12 or data[:4] != SCENE_MAGIC:
        raise ProtocolError("not a CoSim scene (bad magic)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != SCENE_VERSION:
        raise ProtocolError(f"scene version {version} is not supported (this CoSim reads 1)")
    try:
        scene = json.loads(bytes(data[12 : 12 + length]))
    except ValueError as err:
        raise ProtocolError(f"scene JSON is invalid: {err}") from None
    return scene, memoryview(data)[12 + length :]
