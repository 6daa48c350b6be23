"""cosim.viewer against a real redis-server: what collaborators' browsers will receive."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import mujoco
import numpy as np
import pytest
import redis
from mjcf_models import ALL_GEOMS

import cosim
from cosim.protocol import END_MESSAGE, Keys, decode_frame, decode_scene, namespace_user
from cosim_hub.redis_server import RedisServer


@pytest.fixture
def sim() -> tuple[mujoco.MjModel, mujoco.MjData]:
    model = mujoco.MjModel.from_xml_string(ALL_GEOMS)
    return model, mujoco.MjData(model)


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_publishes_scene_meta_and_frames(cosim_redis_url: str, sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    keys = Keys(namespace_user())
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, title="t") as v:
        pubsub.subscribe(keys.frames(v.sim_id))
        assert _wait(lambda: client.get(keys.meta(v.sim_id)) is not None)
        meta = json.loads(client.get(keys.meta(v.sim_id)))
        assert meta["title"] == "t" and meta["bodies"] == 2 and meta["ended"] is None
        scene, _ = decode_scene(client.get(keys.scene(meta["scene"])))
        assert len(scene["geoms"]) == 9
        assert client.zscore(keys.sims, v.sim_id) is not None
        time.sleep(0.1)
        mujoco.mj_step(model, data)
        v.sync()
        expected = np.concatenate([data.xpos[[1, 2]], data.xquat[[1, 2]][:, [1, 2, 3, 0]]], 1)
        assert _wait(lambda: pubsub.get_message(timeout=0.1) is not None)
        frame = decode_frame(client.get(keys.frame(v.sim_id)))
        assert frame.number == v.frame_number
        np.testing.assert_allclose(frame.poses, expected, rtol=1e-6, atol=1e-6)
    # Closed: ended, out of the live list, END on the channel, last frame kept for late viewers.
    assert _wait(lambda: json.loads(client.get(keys.meta(v.sim_id)))["ended"] is not None)
    assert client.zscore(keys.sims, v.sim_id) is None
    assert client.get(keys.frame(v.sim_id)) is not None
    seen = []
    while (m := pubsub.get_message(timeout=0.5)) is not None:
        seen.append(m["data"])
    assert seen[-1] == END_MESSAGE
    assert not v.running


def test_sync_is_rate_limited(cosim_redis_url: str, sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False, rate=50) as v:
        start = time.monotonic()
        steps = 0
        while time.monotonic() - start < 1.0:
            mujoco.mj_step(model, data)
            v.sync()
            steps += 1
        assert steps > 500
        assert 40 <= v.frame_number <= 60


def test_stop_from_a_viewer_ends_the_loop(cosim_redis_url: str, sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(model, data, redis_url=cosim_redis_url, display=False) as v:
        assert v.running
        time.sleep(0.3)  # the publisher has subscribed to its control channel
        client.publish(Keys(namespace_user()).control(v.sim_id), json.dumps({"cmd": "stop"}))
        steps = 0
        deadline = time.monotonic() + 5
        while v.running and time.monotonic() < deadline:
            mujoco.mj_step(model, data)
            v.sync()
            steps += 1
        assert not v.running


def test_redis_stopping_mid_run_never_stops_the_sim(
    tmp_path: Path,
    sim: tuple,  # type: ignore[type-arg]
) -> None:
    model, data = sim
    server = RedisServer(tmp_path, persist=False).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cosim.viewer(model, data, redis_url=server.url, display=False) as v:
            start = time.monotonic()
            steps = 0
            while time.monotonic() - start < 2.0:
                if steps == 2000:
                    server.stop()
                mujoco.mj_step(model, data)
                v.sync()
                steps += 1
    ours = [w for w in caught if "CoSim viewer cannot reach Redis" in str(w.message)]
    assert len(ours) == 1
    assert steps > 5000
    assert data.time > 0


def test_unreachable_redis_at_start_is_not_an_error(sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False) as v:
            for _ in range(200):
                mujoco.mj_step(model, data)
                v.sync()
                time.sleep(0.005)
    assert sum("cannot reach Redis" in str(w.message) for w in caught) == 1


@pytest.mark.parametrize(
    "args, kwargs, needle",
    [
        (("model.xml",), {}, "got str"),
        ((None,), {}, "got NoneType"),
        ((True,), {}, "got bool"),
        ((3, "data"), {}, "got int and str"),
        (("SIM",), {"rate": 60}, "MjModel"),
    ],
)
def test_wrong_arguments_say_what_is_accepted(args: tuple, kwargs: dict, needle: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TypeError) as err:
        cosim.viewer(*args, **kwargs)
    assert needle in str(err.value)
    assert "PyBullet client id" in str(err.value)


@pytest.mark.parametrize("kwargs", [{"rate": 0}, {"rate": "fast"}, {"mode": "video"}, {"title": 3}])
def test_wrong_options(sim: tuple, kwargs: dict) -> None:  # type: ignore[type-arg]
    model, data = sim
    with pytest.raises(TypeError):
        cosim.viewer(model, data, display=False, **kwargs)


def test_pixel_mode_streams_jpeg(cosim_redis_url: str, sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    mujoco.mj_forward(model, data)
    with cosim.viewer(
        model, data, redis_url=cosim_redis_url, display=False, mode="pixels", width=320,
        height=240, camera="front",
    ) as v:  # fmt: skip
        v.sync()
        keys = Keys(namespace_user())
        assert _wait(lambda: client.get(keys.frame(v.sim_id)) is not None)
        frame = decode_frame(client.get(keys.frame(v.sim_id)))
    assert frame.kind == 1 and (frame.width, frame.height) == (320, 240)
    assert frame.jpeg is not None and frame.jpeg[:2] == b"\xff\xd8"
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(frame.jpeg))
    assert image.size == (320, 240)
    assert len(image.convert("RGB").getcolors(1 << 16) or range(99)) > 4  # not a blank image


def test_camera_view_is_a_second_pixel_stream(cosim_redis_url: str, sim: tuple) -> None:  # type: ignore[type-arg]
    model, data = sim
    mujoco.mj_forward(model, data)
    client = redis.Redis.from_url(cosim_redis_url)
    keys = Keys(namespace_user())
    viewer = cosim.viewer(model, data, redis_url=cosim_redis_url, display=False)
    with viewer as v, v.camera("front", width=160, height=120) as cam:
        v.sync()
        cam.sync()
        assert cam.sim_id != v.sim_id and cam.mode == "pixels"
        assert _wait(lambda: client.get(keys.frame(cam.sim_id)) is not None)
        frame = decode_frame(client.get(keys.frame(cam.sim_id)))
        assert (frame.kind, frame.width, frame.height) == (1, 160, 120)
        assert "camera front" in json.loads(client.get(keys.meta(cam.sim_id)))["title"]
