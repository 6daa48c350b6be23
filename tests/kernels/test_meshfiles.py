"""The .obj and .stl readers PyBullet scenes rely on (PyBullet only gives a mesh's file name)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cosim.meshfiles import read_mesh

OBJ = """# a unit square as a quad, and a triangle written with slashes and negative indices
o square
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0 1.0
vt 0 0
vn 0 0 1
f 1 2 3 4
\tv 2 0 0
v 2 1 0 0.5 0.5 0.5
f 2/1/1 -2//1 -1/1
"""


def test_obj_polygons_are_fan_triangulated(tmp_path: Path) -> None:
    path = tmp_path / "square.obj"
    path.write_text(OBJ)
    verts, faces = read_mesh(str(path))
    assert verts.dtype == np.dtype("<f4") and faces.dtype == np.dtype("<u4")
    assert verts.shape == (6, 3) and verts[5].tolist() == [2, 1, 0]
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3], [1, 4, 5]]


def test_obj_faces_must_name_existing_vertices(tmp_path: Path) -> None:
    path = tmp_path / "bad.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nf 1 2 3\n")
    with pytest.raises(ValueError, match="does not exist"):
        read_mesh(str(path))


TRIANGLES = np.array(
    [[[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype="<f4"
)


def test_binary_stl(tmp_path: Path) -> None:
    path = tmp_path / "tet.stl"
    records = b"".join(struct.pack("<3f", 0, 0, 1) + tri.tobytes() + b"\0\0" for tri in TRIANGLES)
    path.write_bytes(b"solid but binary".ljust(80, b" ") + struct.pack("<I", 2) + records)
    verts, faces = read_mesh(str(path))
    np.testing.assert_array_equal(verts, TRIANGLES.reshape(-1, 3))
    assert faces.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_ascii_stl(tmp_path: Path) -> None:
    path = tmp_path / "tet.STL"
    facets = "".join(
        "facet normal 0 0 1\n outer loop\n"
        + "".join(f"  vertex {x} {y} {z}\n" for x, y, z in tri)
        + " endloop\nendfacet\n"
        for tri in TRIANGLES.tolist()
    )
    path.write_text(f"solid tet\n{facets}endsolid tet\n")
    verts, faces = read_mesh(str(path))
    np.testing.assert_array_equal(verts, TRIANGLES.reshape(-1, 3))
    assert faces.shape == (2, 3)


def test_other_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mesh.dae"
    path.write_text("<COLLADA/>")
    with pytest.raises(ValueError, match="unsupported mesh format"):
        read_mesh(str(path))
