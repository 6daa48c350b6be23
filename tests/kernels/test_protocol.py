from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosim_protocol.keys import Keys, namespace_user
from cosim_protocol.viewer import (
    BYTES_PER_BODY,
    FRAME_HEADER,
    ProtocolError,
    decode_frame,
    decode_scene,
    encode_pixels,
    encode_poses,
    encode_scene,
    is_sim_id,
    new_sim_id,
)


def test_pose_frame_round_trip() -> None:
    sim_id = new_sim_id()
    poses = np.random.default_rng(1).random((17, 7))
    data = encode_poses(sim_id, 42, 1.25, 1700000000.5, poses)
    assert len(data) == FRAME_HEADER.size + BYTES_PER_BODY * 17
    frame = decode_frame(data)
    assert (frame.number, frame.sim_time, frame.wall_time, frame.sim_id) == (
        42, 1.25, 1700000000.5, sim_id,
    )  # fmt: skip
    assert frame.poses is not None
    np.testing.assert_array_equal(frame.poses, poses.astype(np.float32))


def test_pixel_frame_round_trip() -> None:
    sim_id = new_sim_id()
    frame = decode_frame(encode_pixels(sim_id, 3, 0.5, 2.0, b"\xff\xd8jpeg", (64, 48)))
    assert (frame.jpeg, frame.width, frame.height, frame.kind) == (b"\xff\xd8jpeg", 64, 48, 1)


def test_scene_round_trip_with_buffers() -> None:
    verts = np.arange(12, dtype="<f4").reshape(4, 3)
    faces = np.array([[0, 1, 2], [0, 2, 3]], dtype="<u4")
    data = encode_scene(
        {"engine": "x", "meshes": [{"name": "m", "vertices": [0, 4], "faces": [1, 2]}]},
        [verts, faces],
    )
    scene, binary = decode_scene(data)
    mesh = scene["meshes"][0]
    got_v = np.frombuffer(binary, "<f4", count=12, offset=mesh["vertices"][0]).reshape(4, 3)
    got_f = np.frombuffer(binary, "<u4", count=6, offset=mesh["faces"][0]).reshape(2, 3)
    np.testing.assert_array_equal(got_v, verts)
    np.testing.assert_array_equal(got_f, faces)
    assert mesh["faces"][0] % 4 == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"CSF1" + b"\0" * 10,
        b"XXXX" + b"\0" * 60,
        encode_poses(new_sim_id(), 1, 0, 0, np.zeros((2, 7)))[:-4],
        encode_pixels(new_sim_id(), 1, 0, 0, b"abc", (1, 1)) + b"extra",
        encode_pixels(new_sim_id(), 1, 0, 0, b"abc", (1, 1))[:-1],
        b"CSF1\x07\0" + encode_poses(new_sim_id(), 1, 0, 0, np.zeros((0, 7)))[6:],  # kind 7
    ],
    # Named, not shown: the frames hold random sim ids, and parallel workers (pytest-xdist)
    # must collect the same test names.
    ids=["empty", "short", "magic", "poses-cut", "pixels-extra", "pixels-cut", "kind-7"],
)
def test_malformed_frames_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_frame(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"NOPE" + b"\0" * 8,
        b"CSSC" + b"\x02\0\0\0" + b"\0" * 4,
        b"CSSC\x01\0\0\0\x05\0\0\0{bad",
        b"CSSC\x01\0\0\0\x04\0\0\0\xff\xfe{}",  # not UTF-8
    ],
)
def test_malformed_scenes_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_scene(data)


def test_poses_must_be_n_by_7() -> None:
    with pytest.raises(ValueError):
        encode_poses(new_sim_id(), 1, 0, 0, np.zeros((3, 6)))


def test_redis_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    keys = Keys(namespace_user())
    sim = new_sim_id()
    assert is_sim_id(sim) and not is_sim_id(sim.upper()) and not is_sim_id(sim[:-1])
    assert keys.sims == "cosim:ada:sims"
    assert keys.meta(sim) == f"cosim:ada:sim:{sim}:meta"
    assert keys.frame(sim) == f"cosim:ada:sim:{sim}:frame"
    assert keys.frames(sim) == f"cosim:ada:sim:{sim}:frames"
    assert keys.control(sim) == f"cosim:ada:sim:{sim}:control"
    assert keys.scene("ab12") == "cosim:ada:scene:ab12"


def test_poses_encode_the_same_without_numpy() -> None:
    sim_id = new_sim_id()
    rows = [(0.5, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0), (1, 2, 3, 0.5, 0.5, 0.5, 0.5)]
    assert encode_poses(sim_id, 1, 0, 0, rows) == encode_poses(sim_id, 1, 0, 0, np.array(rows))
    assert decode_frame(encode_poses(sim_id, 1, 0, 0, rows)).pose_rows() == [
        tuple(float(x) for x in row) for row in rows
    ]
    with pytest.raises(ValueError):
        encode_poses(sim_id, 1, 0, 0, [(1, 2, 3)])


def test_protocol_package_imports_only_the_standard_library() -> None:
    """Every part may import cosim_protocol, so importing it must pull in no third-party or
    CoSim package (redis is imported only when a client is built)."""
    import cosim_protocol

    home = str(Path(cosim_protocol.__file__).parent.parent)
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"sys.path.insert(0, {home!r})\n"
        "import pkgutil, importlib, cosim_protocol\n"
        "for m in pkgutil.iter_modules(cosim_protocol.__path__):\n"
        "    importlib.import_module('cosim_protocol.' + m.name)\n"
        "new = {n.split('.')[0] for n in set(sys.modules) - before}\n"
        "bad = new - set(sys.stdlib_module_names) - {'cosim_protocol'}\n"
        "print(','.join(sorted(b for b in bad if not b.startswith('_'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"cosim_protocol imported {out}"
