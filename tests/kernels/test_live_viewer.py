"""cosim.viewer against a real redis-server: what collaborators' browsers will receive."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import mujoco
import numpy as np
import pytest
import redis
from viewer_testing import KEYS, drain, meta, wait_for

import cosim
from cosim_protocol.keys import ENDED_TTL_S, LIVE_TTL_S, SCENE_TTL_S, namespace_user
from cosim_protocol.viewer import END_MESSAGE, MIME_TYPE, decode_frame, decode_scene

Sim = tuple[mujoco.MjModel, mujoco.MjData]


def _subscribe(client: redis.Redis, channel: str) -> redis.client.PubSub:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    # Until Redis confirms, a frame published meanwhile would be missed.
    assert wait_for(lambda: pubsub.get_message(timeout=0.1) is None and pubsub.subscribed)
    return pubsub


def _xyzw_poses(data: mujoco.MjData, bodies: list[int]) -> np.ndarray:
    return np.concatenate([data.xpos[bodies], data.xquat[bodies][:, [1, 2, 3, 0]]], axis=1)


def test_creation_publishes_scene_and_meta_before_returning(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, title="t") as v:
        # No waiting: the view is displayed right after this, and must find the sim.
        info = meta(client, v.sim_id)
        assert info is not None
        assert info == {
            "sim_id": v.sim_id, "engine": "mujoco", "title": "t", "scene": info["scene"],
            "started": info["started"], "ended": None, "bodies": 2, "pid": os.getpid(),
            "mode": "poses",
        }  # fmt: skip
        assert abs(info["started"] - time.time()) < 5
        assert 0 < client.ttl(KEYS.meta(v.sim_id)) <= LIVE_TTL_S
        raw = client.get(KEYS.scene(info["scene"]))
        assert raw is not None
        import hashlib

        assert hashlib.sha256(raw).hexdigest() == info["scene"]
        assert LIVE_TTL_S < client.ttl(KEYS.scene(info["scene"])) <= SCENE_TTL_S
        scene, _ = decode_scene(raw)
        assert scene["name"] == "t" and len(scene["geoms"]) == 9
        assert client.zscore(KEYS.sims, v.sim_id) == pytest.approx(info["started"])
        assert v.running


def test_subscriber_receives_the_poses_of_each_sync(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    data.qvel[:] = np.random.default_rng(3).normal(size=model.nv)
    client = redis.Redis.from_url(cosim_redis_url)
    expected: dict[int, tuple[float, np.ndarray]] = {}
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, rate=100) as v:
        pubsub = _subscribe(client, KEYS.frames(v.sim_id))
        for _ in range(5):
            for _ in range(20):
                mujoco.mj_step(model, data)
            time.sleep(0.02)  # > 1/rate: this sync publishes
            v.sync()
            expected[v.frame_number] = (data.time, _xyzw_poses(data, [1, 2]))
        assert wait_for(lambda: client.get(KEYS.frame(v.sim_id)) is not None)
        latest = decode_frame(client.get(KEYS.frame(v.sim_id)))
    frames = [decode_frame(m) for m in drain(pubsub) if m != END_MESSAGE]
    assert [f.number for f in frames] == [1, 2, 3, 4, 5]
    for frame in frames:
        sim_time, poses = expected[frame.number]
        assert frame.sim_id == v.sim_id and frame.kind == 0
        assert frame.sim_time == sim_time
        assert abs(frame.wall_time - time.time()) < 10
        np.testing.assert_allclose(frame.poses, poses, rtol=1e-6, atol=1e-6)
    assert latest.number == 5


def test_sync_is_rate_limited(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, rate=50) as v:
        pubsub = _subscribe(client, KEYS.frames(v.sim_id))
        start = time.monotonic()
        steps = 0
        while time.monotonic() - start < 1.0:
            mujoco.mj_step(model, data)
            v.sync()
            steps += 1
    assert steps > 500
    assert 40 <= v.frame_number <= 60  # about rate x elapsed, not one per step
    numbers = [decode_frame(m).number for m in drain(pubsub) if m != END_MESSAGE]
    # Latest-frame-wins may skip a frame under load, never reorder or repeat one.
    assert len(numbers) >= 0.8 * v.frame_number
    assert numbers == sorted(set(numbers))


def test_a_paced_loop_gets_the_full_frame_rate(cosim_redis_url: str, sim: Sim) -> None:
    """A notebook that sleeps between steps syncs late for every frame; the frames keep to the
    rate's grid instead of adding that lateness (a 4 ms loop got 50 of 60 fps before)."""
    model, data = sim
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, rate=30) as v:
        start = time.monotonic()
        while time.monotonic() - start < 1.5:
            mujoco.mj_step(model, data)
            v.sync()
            time.sleep(0.01)
        elapsed = time.monotonic() - start
    assert v.frame_number >= 0.95 * 30 * elapsed
    assert v.frame_number <= 30 * elapsed + 2  # still at most the rate


def test_stop_from_a_viewer_ends_the_loop(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False) as v:
        assert v.running
        client.publish(KEYS.control(v.sim_id), b"not json")  # ignored
        client.publish(KEYS.control(v.sim_id), '{"cmd": "pause"}')  # not ours: ignored
        time.sleep(0.3)
        assert v.running
        client.publish(KEYS.control(v.sim_id), '{"cmd": "stop"}')
        deadline = time.monotonic() + 5
        while v.running and time.monotonic() < deadline:
            mujoco.mj_step(model, data)
            v.sync()
        assert not v.running


def test_close_ends_the_sim_for_its_viewers(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    v = cosim.viewer(model, data, redis_url=cosim_redis_url, display=False)
    pubsub = _subscribe(client, KEYS.frames(v.sim_id))
    mujoco.mj_step(model, data)
    v.sync()
    v.close()
    v.close()  # twice is fine
    v.sync()  # after close: nothing, no error
    assert not v.running
    messages = drain(pubsub)
    assert messages[-1] == END_MESSAGE and len(messages) == 2
    info = meta(client, v.sim_id)
    assert info is not None and info["ended"] >= info["started"]
    assert client.zcard(KEYS.sims) == 0
    # Late joiners still get the last frame, for an hour.
    assert decode_frame(client.get(KEYS.frame(v.sim_id))).number == 1
    assert LIVE_TTL_S < client.ttl(KEYS.frame(v.sim_id)) <= ENDED_TTL_S
    assert LIVE_TTL_S < client.ttl(KEYS.meta(v.sim_id)) <= ENDED_TTL_S


def test_a_forgotten_viewer_ends_when_collected(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    v = cosim.viewer(model, data, redis_url=cosim_redis_url, display=False)
    sim_id = v.sim_id
    del v
    gc.collect()
    assert wait_for(lambda: (meta(client, sim_id) or {}).get("ended") is not None)
    assert client.zcard(KEYS.sims) == 0


def test_pybullet_viewer_streams_the_moving_links(cosim_redis_url: str) -> None:
    import pybullet as pb
    import pybullet_data

    cid = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        pb.loadURDF("plane.urdf", physicsClientId=cid)
        kuka = pb.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
        client = redis.Redis.from_url(cosim_redis_url)
        # Client ids from numpy (e.g. an array of clients) are ids too.
        with cosim.viewer(np.int64(cid), redis_url=cosim_redis_url, display=False, rate=4) as v:

            def latest() -> int:
                raw = client.get(KEYS.frame(v.sim_id))
                return 0 if raw is None else decode_frame(raw).number

            for _ in range(100):  # the first sync publishes, the others are rate-limited
                pb.stepSimulation(physicsClientId=cid)
                v.sync()
            time.sleep(0.26)
            pb.stepSimulation(physicsClientId=cid)
            v.sync()
            assert wait_for(lambda: latest() == 2)
            frame = decode_frame(client.get(KEYS.frame(v.sim_id)))
            time.sleep(0.26)
            v.sync(sim_time=123.0)
            assert wait_for(lambda: latest() == 3)
            assert decode_frame(client.get(KEYS.frame(v.sim_id))).sim_time == 123.0
        info = meta(client, v.sim_id)
        assert info is not None and info["engine"] == "pybullet" and info["bodies"] == 7
        assert frame.poses is not None and frame.poses.shape == (7, 7)
        assert frame.sim_time == pytest.approx(101 / 240)  # syncs x the default time step
        last = pb.getLinkState(kuka, 6, computeForwardKinematics=True, physicsClientId=cid)
        np.testing.assert_allclose(frame.poses[-1], [*last[4], *last[5]], atol=1e-5)
    finally:
        pb.disconnect(cid)


def test_the_view_is_displayed_in_a_kernel(
    cosim_redis_url: str, sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython
    import IPython.display

    shown: list[tuple[dict[str, Any], dict[str, Any]]] = []

    class Shell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(IPython.display, "display", lambda b, **kw: shown.append((b, kw)))
    model, data = sim
    with cosim.viewer(model, data, redis_url=cosim_redis_url, title="arm") as v:
        pass
    (bundle, kwargs), *rest = shown
    assert not rest and kwargs == {"raw": True}
    assert bundle[MIME_TYPE] == {
        "sim_id": v.sim_id, "title": "arm", "user": namespace_user(), "engine": "mujoco",
    }  # fmt: skip
    assert bundle["text/plain"] == f"CoSim viewer: arm (sim {v.sim_id})"
    # Terminal IPython (no kernel) and display=False show nothing.
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    cosim.viewer(model, data, redis_url=cosim_redis_url).close()
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    cosim.viewer(model, data, redis_url=cosim_redis_url, display=False).close()
    assert len(shown) == 1
