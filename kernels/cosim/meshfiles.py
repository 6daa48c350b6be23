"""Minimal .obj and .stl readers: vertices (float32 xyz) and triangles (uint32)."""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

import numpy as np


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "v":
            verts.append([float(v) for v in fields[1:4]])  # ignores optional w or vertex colours
        elif fields[0] == "f":
            # "f a b c", "f a/b c/d ...", "f a//n": the vertex index comes first; negative
            # indices count back from the last vertex read so far. Polygons become fans.
            idx = []
            for token in fields[1:]:
                i = int(token.split("/")[0])
                idx.append(i - 1 if i > 0 else len(verts) + i)
            faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    indices = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if indices.size and (indices.min() < 0 or indices.max() >= len(verts)):
        raise ValueError(f"{path}: a face refers to a vertex that does not exist")
    return np.asarray(verts, "<f4").reshape(-1, 3), indices.astype("<u4")


def _read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    count = struct.unpack_from("<I", raw, 80)[0] if len(raw) >= 84 else -1
    if len(raw) == 84 + 50 * count:  # binary STL
        rec = np.frombuffer(
            raw,
            dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]),
            count=count,
            offset=84,
        )
        verts = rec["v"].reshape(-1, 3)
    else:
        text = raw.decode(errors="replace").split()
        verts = np.asarray(
            [
                [float(text[i + 1]), float(text[i + 2]), float(text[i + 3])]
                for i, tok in enumerate(text)
                if tok == "vertex"
            ],
            "<f4",
        ).reshape(-1, 3)
    faces = np.arange(len(verts), dtype="<u4").reshape(-1, 3)
    return np.ascontiguousarray(verts, "<f4"), faces


@lru_cache(maxsize=64)
def read_mesh(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a mesh file; raises ValueError for formats we do not read."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".obj":
        return _read_obj(p)
    if suffix == ".stl":
        return _read_stl(p)
    raise ValueError(f"unsupported mesh format {suffix!r} ({path})")
