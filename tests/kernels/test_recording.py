"""Sim recordings: real MuJoCo (Gymnasium's humanoid) and PyBullet runs recorded through
``cosim.viewer(..., record=...)`` against a real redis-server, read back with
``cosim.Recording``; a killed kernel; every malformed file the reader must refuse."""

from __future__ import annotations

import json
import struct
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import pybullet as pb
import pybullet_data
import pytest
import redis
import zstandard
from viewer_testing import KEYS, drain, wait_for

import cosim
from cosim.recording import Recording, interpolate
from cosim_cli import main as cosim_cli
from cosim_protocol import recording as fmt
from cosim_protocol.viewer import decode_frame

HUMANOID = Path(cosim.model_path("humanoid.xml"))
F32 = dict(rtol=0, atol=2e-6)  # float32 rounding of poses within a few metres


def _xyzw(data: mujoco.MjData, bodies: np.ndarray) -> np.ndarray:
    return np.concatenate([data.xpos[bodies], data.xquat[bodies][:, [1, 2, 3, 0]]], axis=1)


def _record_humanoid(path: Path, url: str, seconds: float = 10.0) -> tuple[Any, dict[float, Any]]:
    """Run the humanoid with random controls for ``seconds`` of sim time, recording; return the
    viewer and the poses the sim had at each published frame's time."""
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(16)
    bodies = np.arange(1, model.nbody)
    seen: dict[float, Any] = {}
    v = cosim.viewer(model, data, redis_url=url, display=False, rate=1000, record=path)
    while data.time < seconds:
        data.ctrl[:] = rng.uniform(-0.4, 0.4, size=model.nu)
        mujoco.mj_step(model, data)
        before = v.frame_number
        v.sync()
        if v.frame_number != before:
            seen[float(data.time)] = _xyzw(data, bodies).copy()
    return v, seen


def _check_poses(rec: Recording, seen: dict[float, Any]) -> None:
    times = sorted(seen)
    rng = np.random.default_rng(7)
    for t in rng.choice(times, size=20, replace=False):
        np.testing.assert_allclose(rec.pose_at(float(t)), seen[float(t)], **F32)
    # Between two frames: lerp and slerp of its neighbours, and still unit quaternions.
    i = len(times) // 2
    t0, t1 = times[i], times[i + 1]
    mid = rec.pose_at((t0 + t1) / 2)
    expected = interpolate(seen[t0].astype("<f4"), seen[t1].astype("<f4"), 0.5)
    np.testing.assert_allclose(mid, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(mid[:, 3:], axis=1), 1.0, atol=1e-6)


def test_humanoid_recording_holds_every_published_frame(
    cosim_redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "runs" / "walk.cosimrec"
    v, seen = _record_humanoid(path, cosim_redis_url)
    assert v.stop_recording() == path
    published = v.frame_number
    v.close()
    with cosim.Recording(path) as rec:
        assert rec.frame_count == published == len(seen)
        assert not rec.truncated
        model = mujoco.MjModel.from_xml_path(str(HUMANOID))
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, 14)]
        assert rec.bodies == names
        assert rec.header["engine"] == "mujoco" and rec.header["sim_id"] == v.sim_id
        assert rec.scene["bodies"][1]["name"] == "torso"
        assert rec.duration == pytest.approx(max(seen) - min(seen))
        assert rec.duration > 9.9
        _check_poses(rec, seen)
        track = rec.to_numpy()
        assert track.poses.shape == (published, 13, 7) and track.poses.dtype == np.float32
        assert list(track.frame) == list(range(1, published + 1))
        np.testing.assert_array_equal(track.time, sorted(seen))
        assert [e["kind"] for e in rec.events] == ["start", "end"]
        assert rec.pose_at(-5.0) == pytest.approx(track.poses[0])
        assert rec.pose_at(1e9) == pytest.approx(track.poses[-1])


def test_pybullet_recording_matches_the_sim(cosim_redis_url: str, tmp_path: Path) -> None:
    cid = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        pb.setGravity(0, 0, -9.8, physicsClientId=cid)
        pb.loadURDF("plane.urdf", physicsClientId=cid)
        kuka = pb.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
        for j in range(7):
            pb.setJointMotorControl2(kuka, j, pb.POSITION_CONTROL, targetPosition=1.0,
                                     physicsClientId=cid)  # fmt: skip
        path = tmp_path / "kuka.cosimrec"
        v = cosim.viewer(cid, redis_url=cosim_redis_url, display=False, rate=1000, record=path)
        seen: dict[float, Any] = {}
        dt = pb.getPhysicsEngineParameters(physicsClientId=cid)["fixedTimeStep"]
        steps = 0
        while steps * dt < 10.0:
            pb.stepSimulation(physicsClientId=cid)
            steps += 1
            before = v.frame_number
            v.sync()
            if v.frame_number != before:
                states = [pb.getLinkState(kuka, j, computeForwardKinematics=True,
                                          physicsClientId=cid) for j in range(7)]  # fmt: skip
                seen[steps * dt] = np.array([[*s[4], *s[5]] for s in states])
        v.close()  # close() finishes the recording too
        with Recording(path) as rec:
            assert rec.frame_count == v.frame_number == len(seen)
            assert rec.header["engine"] == "pybullet" and len(rec.bodies) == 7
            _check_poses(rec, seen)
    finally:
        pb.disconnect(cid)


def test_stop_from_a_viewer_is_a_recorded_event(cosim_redis_url: str, tmp_path: Path) -> None:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    client = redis.Redis.from_url(cosim_redis_url)
    v = cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, rate=1000)
    assert v.stop_recording() is None
    v.record(tmp_path / "stop.cosimrec")
    with pytest.raises(RuntimeError, match="already recording"):
        v.record(tmp_path / "other.cosimrec")
    sent = False
    while v.running:
        mujoco.mj_step(model, data)
        v.sync()
        if data.time > 0.5 and not sent:
            sent = True
            client.publish(KEYS.control(v.sim_id), json.dumps({"cmd": "stop", "user": "ada"}))
        assert data.time < 600, "stop never arrived"
    path = v.stop_recording()
    v.close()
    assert path is not None
    with Recording(path) as rec:
        kinds = [(e["kind"], e["user"]) for e in rec.events]
        assert kinds == [("start", None), ("stop", "ada"), ("end", None)]
        stop = rec.events[1]
        assert 0.5 < stop["t"] <= rec.end_time + 1e-9 and stop["frame"] >= 1


def test_record_keeps_frames_while_redis_is_away(tmp_path: Path) -> None:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    with pytest.warns(RuntimeWarning, match="cannot reach Redis"):
        v = cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False,
                         rate=1000, record=tmp_path / "offline.cosimrec")  # fmt: skip
    for _ in range(500):
        mujoco.mj_step(model, data)
        v.sync()
    path = v.stop_recording()
    v.close()
    with Recording(path) as rec:  # type: ignore[arg-type]
        assert rec.frame_count == v.frame_number > 0


def test_unwritable_path_warns_and_the_sim_runs(tmp_path: Path) -> None:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CoSim viewer cannot reach Redis")
        with pytest.warns(RuntimeWarning, match="cannot record to .*blocked"):
            v = cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False,
                             record=blocked / "run.cosimrec")  # fmt: skip
    for _ in range(100):
        mujoco.mj_step(model, data)
        v.sync()
    assert v.stop_recording() is None and v.running
    v.close()


def test_full_disk_warns_once_stops_recording_and_the_sim_runs(
    cosim_redis_url: str,
) -> None:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    v = cosim.viewer(
        model, data, redis_url=cosim_redis_url, display=False, rate=1000, record="/dev/full"
    )  # fmt: skip  (every write: ENOSPC)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not caught:
            mujoco.mj_step(model, data)
            v.sync()
        for _ in range(2000):  # the sim keeps going, and no second warning comes
            mujoco.mj_step(model, data)
            v.sync()
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert "stopped recording to /dev/full" in str(caught[0].message)
    assert "No space left" in str(caught[0].message)
    assert v.running and v.stop_recording() is None
    v.close()


KERNEL_CELL = """
import mujoco, numpy as np, cosim
m = mujoco.MjModel.from_xml_path({model!r}); d = mujoco.MjData(m)
v = cosim.viewer(m, d, redis_url={url!r}, display=False, rate=1000, record={path!r})
rng = np.random.default_rng(0)
while True:
    d.ctrl[:] = rng.uniform(-0.4, 0.4, size=m.nu)
    mujoco.mj_step(m, d)
    v.sync()
"""


def _frames_on_disk(path: Path) -> int:
    try:
        with Recording(path) as rec:
            return rec.frame_count
    except fmt.RecordingError:  # nothing complete yet
        return 0


def test_killed_kernel_leaves_every_complete_block(cosim_redis_url: str, tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    path = tmp_path / "killed.cosimrec"
    # In tmp_path: a viewer in a kernel writes its sim-control.json into the kernel's folder.
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60, cwd=str(tmp_path))
    try:
        cell = KERNEL_CELL.format(model=str(HUMANOID), url=cosim_redis_url, path=str(path))
        kc.execute(cell)
        assert wait_for(lambda: _frames_on_disk(path) >= 300, timeout=120), "no blocks written"
        written = _frames_on_disk(path)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)  # SIGKILL: no finally, no finalizer, no footer
    data = path.read_bytes()
    assert data[-16:-12] != fmt.FOOTER_MAGIC
    with Recording(path) as rec:
        assert rec.frame_count >= written  # every block written before the kill
        track = rec.to_numpy()
        assert list(track.frame) == list(range(1, rec.frame_count + 1))
        assert rec.events[0]["kind"] == "start"
    # Cut inside the last block as well: that block is dropped, the rest still reads.
    with Recording(path) as rec:
        last = rec._frame_blocks[-1]
        kept = rec.frame_count - last.count
    path.write_bytes(data[: last.offset + 100])
    with Recording(path) as rec:
        assert rec.truncated and rec.frame_count == kept


# -- malformed files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    path = tmp_path_factory.mktemp("rec") / "good.cosimrec"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False,
                         rate=1000, record=path)  # fmt: skip
    for _ in range(2000):
        mujoco.mj_step(model, data)
        v.sync()
    v.close()
    yield path.read_bytes()


def _footer_offset(data: bytes) -> int:
    return int(struct.unpack_from("<Q", data, len(data) - 8)[0])


def _bomb(data: bytes) -> bytes:
    """The first frames block replaced by a small zstd frame that inflates to 256 MB while its
    header declares 1 KB."""
    start = fmt.FILE_HEADER.size + struct.unpack_from("<I", data, 12)[0]
    scene = fmt.BLOCK_HEADER.unpack_from(data, start)
    at = start + fmt.BLOCK_HEADER.size + scene[4]
    stored = zstandard.ZstdCompressor(level=3, write_content_size=False).compress(
        b"\0" * (256 * 1024 * 1024)
    )
    block = fmt.encode_block(fmt.BLOCK_FRAMES, stored, raw_len=1024, codec=fmt.CODEC_ZSTD,
                             flags=0, count=1, first_frame=1)  # fmt: skip
    return data[:at] + block


def _future(data: bytes) -> bytes:
    return data[:8] + struct.pack("<H", fmt.SCHEMA_VERSION + 1) + data[10:]


def _index_past_end(data: bytes) -> bytes:
    return data[:-8] + struct.pack("<Q", len(data) + 4096)


def _entry_past_end(data: bytes) -> bytes:
    at = _footer_offset(data)
    head = fmt.BLOCK_HEADER.unpack_from(data, at)
    payload = bytearray(data[at + 48 : at + 48 + head[4]])
    struct.pack_into("<Q", payload, fmt.INDEX_ENTRY.size, len(data) * 10)  # second entry
    block = fmt.encode_block(fmt.BLOCK_INDEX, bytes(payload), raw_len=len(payload),
                             count=head[7])  # fmt: skip
    return data[:at] + block + data[-16:]


MALFORMED = {
    "empty": (lambda d: b"", "truncated: 0 bytes"),
    "wrong magic": (lambda d: b"PK\x03\x04" + d[4:], "not a CoSim recording"),
    "header cut": (lambda d: d[:40], "ends inside its header"),
    "no scene": (
        lambda d: d[: fmt.FILE_HEADER.size + struct.unpack_from("<I", d, 12)[0] + 30],
        "ends before its scene block",
    ),
    "future version": (_future, "newer than this CoSim reads"),
    "index past the end": (_index_past_end, "block index points past the end"),
    "index entry past the end": (_entry_past_end, "entry 1 points past the end"),
    "decompression bomb": (_bomb, "decompresses past the 1024 bytes it declares"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_gives_its_message(good_file: bytes, tmp_path: Path, case: str) -> None:
    make, message = MALFORMED[case]
    path = tmp_path / "bad.cosimrec"
    path.write_bytes(make(good_file))
    started = time.monotonic()
    with pytest.raises(fmt.RecordingError, match=message), Recording(path) as rec:
        rec.to_numpy()  # blocks are read lazily: reading every frame must fail too
    assert time.monotonic() - started < 5


def test_cli_info(good_file: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.cosimrec"
    path.write_bytes(good_file)
    assert cosim_cli(["rec", "info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] > 0 and info["bodies"] == 13 and info["engine"] == "mujoco"
    assert info["body_names"][0] == "torso" and not info["truncated"]
    assert cosim_cli(["rec", "info", str(path)]) == 0
    assert "frames" in capsys.readouterr().out
    path.write_bytes(_future(good_file))
    assert cosim_cli(["rec", "info", str(path)]) == 1
    assert "newer than this CoSim reads" in capsys.readouterr().err


def test_pure_python_coding_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    for k, n in [(1, 1), (5, 3), (120, 13)]:
        poses = rng.normal(size=(k, n, 7)).astype("<f4").tobytes()
        for flags in range(8):
            coded = fmt.delta_encode(poses, k, n, flags)
            with monkeypatch.context() as m:
                m.setattr(fmt, "_numpy", lambda: None)
                assert fmt.delta_encode(poses, k, n, flags) == coded
                assert fmt.delta_decode(coded, k, n, flags) == poses
            assert fmt.delta_decode(coded, k, n, flags) == poses


def test_play_publishes_the_recorded_frames(
    good_file: bytes, tmp_path: Path, cosim_redis_url: str
) -> None:
    path = tmp_path / "good.cosimrec"
    path.write_bytes(good_file)
    client = redis.Redis.from_url(cosim_redis_url)
    with Recording(path) as rec:
        player = rec.play(speed=10.0, redis_url=cosim_redis_url, display=False)
        assert wait_for(lambda: client.get(KEYS.meta(player.sim_id)) is not None)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(KEYS.frames(player.sim_id))
        player.wait(60)
        assert not player.playing and player.frames_sent == rec.frame_count
        last = client.get(KEYS.frame(player.sim_id))
        assert last is not None
        frame = decode_frame(last)
        np.testing.assert_array_equal(frame.poses, rec.to_numpy().poses[-1])
        drain(pubsub)
        pubsub.close()
        with pytest.raises(ValueError, match="speed"):
            rec.play(speed=100, redis_url=cosim_redis_url, display=False)


# -- recordings are ordinary workspace files ---------------------------------------------------
def test_snapshots_keep_small_recordings_and_reference_big_ones(
    good_file: bytes, tmp_path: Path
) -> None:
    from cosim.snapshots import ops

    ws = tmp_path / "ws"
    (ws / "runs").mkdir(parents=True)
    (ws / "runs" / "small.cosimrec").write_bytes(good_file)
    (ws / "runs" / "big.cosimrec").write_bytes(good_file * 3)  # past the threshold below
    manifest = ops.create(ws, "runs", data_threshold=2 * len(good_file))
    assert [r["path"] for r in manifest["data_refs"]] == ["runs/big.cosimrec"]
    ops.restore(ws, manifest["id"], target=tmp_path / "restored")
    restored = tmp_path / "restored" / "runs" / "small.cosimrec"
    assert restored.read_bytes() == good_file
    with Recording(restored) as rec:
        assert rec.frame_count > 0


def test_course_exchange_packs_recordings_byte_exact(good_file: bytes, tmp_path: Path) -> None:
    from cosim_server.courses import pack_folder, unpack_files

    (tmp_path / "hw1").mkdir()
    (tmp_path / "hw1" / "run.cosimrec").write_bytes(good_file)
    files = pack_folder(tmp_path / "hw1")
    assert list(files) == ["run.cosimrec"]
    out = tmp_path / "student"
    out.mkdir()
    unpack_files(out, out / "hw1", files, overwrite=False)
    with Recording(out / "hw1" / "run.cosimrec") as rec:
        assert rec.frame_count > 0 and rec.to_numpy().poses.shape[1] == 13
