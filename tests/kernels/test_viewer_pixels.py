"""Pixel mode: JPEG frames rendered headless (MuJoCo through EGL or OSMesa, PyBullet on the CPU)."""

from __future__ import annotations

import json
from io import BytesIO

import mujoco
import numpy as np
import redis
from PIL import Image
from viewer_testing import KEYS, meta, wait_for

import cosim
from cosim_protocol.viewer import KIND_PIXELS, decode_frame

Sim = tuple[mujoco.MjModel, mujoco.MjData]


def _latest(client: redis.Redis, sim_id: str) -> bytes:
    assert wait_for(lambda: client.get(KEYS.frame(sim_id)) is not None)
    raw = client.get(KEYS.frame(sim_id))
    assert raw is not None
    return raw


def _image(jpeg: bytes | None) -> Image.Image:
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    image = Image.open(BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


def test_mujoco_pixel_mode_streams_jpeg_of_the_asked_size(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    client = redis.Redis.from_url(cosim_redis_url)
    mujoco.mj_forward(model, data)
    with cosim.viewer(
        model, data, redis_url=cosim_redis_url, display=False, mode="pixels", width=320,
        height=240, camera="front",
    ) as v:  # fmt: skip
        v.sync()
        frame = decode_frame(_latest(client, v.sim_id))
        assert (meta(client, v.sim_id) or {})["mode"] == "pixels"
    assert frame.kind == KIND_PIXELS and (frame.width, frame.height) == (320, 240)
    assert frame.sim_time == data.time
    image = np.asarray(_image(frame.jpeg).convert("RGB"))
    assert image.shape == (240, 320, 3)
    # The "front" camera looks at the red box above a grey floor: red in the middle of the
    # image, floor (grey, not black) in the bottom rows, so the image is the right way up.
    h, w = image.shape[:2]
    centre = image[h // 2 - 10 : h // 2 + 10, w // 2 - 5 : w // 2 + 5].reshape(-1, 3).mean(0)
    assert centre[0] > 120 and centre[0] > 2 * centre[1]
    assert image[-10:].mean() > 40 and image[:10].mean() < image[-10:].mean()


def test_camera_view_is_a_second_pixel_stream(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    mujoco.mj_forward(model, data)
    client = redis.Redis.from_url(cosim_redis_url)
    with (
        cosim.viewer(model, data, redis_url=cosim_redis_url, display=False) as v,
        v.camera("front", width=160, height=120) as cam,
    ):
        v.sync()
        cam.sync()
        assert cam.sim_id != v.sim_id and cam.mode == "pixels"
        frame = decode_frame(_latest(client, cam.sim_id))
        assert (frame.kind, frame.width, frame.height) == (KIND_PIXELS, 160, 120)
        assert _image(frame.jpeg).size == (160, 120)
        info = meta(client, cam.sim_id)
        assert info is not None and info["parent"] == v.sim_id
        assert info["title"].endswith("camera front")
        assert decode_frame(_latest(client, v.sim_id)).kind == 0  # the pose stream goes on
    ended = json.loads(client.get(KEYS.meta(cam.sim_id)) or b"{}")["ended"]
    assert ended is not None


def test_free_camera_when_none_is_named(cosim_redis_url: str, sim: Sim) -> None:
    model, data = sim
    mujoco.mj_forward(model, data)
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(
        model, data, redis_url=cosim_redis_url, display=False, mode="pixels", width=64,
        height=48,
    ) as v:  # fmt: skip
        v.sync()
        frame = decode_frame(_latest(client, v.sim_id))
    assert _image(frame.jpeg).size == (64, 48)


def test_pybullet_pixel_mode(cosim_redis_url: str) -> None:
    import pybullet as pb
    import pybullet_data

    cid = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        pb.loadURDF("plane.urdf", physicsClientId=cid)
        pb.loadURDF("r2d2.urdf", [0, 0, 0.5], physicsClientId=cid)
        client = redis.Redis.from_url(cosim_redis_url)
        with cosim.viewer(
            cid, redis_url=cosim_redis_url, display=False, mode="pixels", width=96, height=64
        ) as v:
            pb.stepSimulation(physicsClientId=cid)
            v.sync()
            frame = decode_frame(_latest(client, v.sim_id))
    finally:
        pb.disconnect(cid)
    assert (frame.kind, frame.width, frame.height) == (KIND_PIXELS, 96, 64)
    image = _image(frame.jpeg).convert("RGB")
    assert image.size == (96, 64)
    assert len(image.getcolors(96 * 64) or []) > 4  # a scene, not a blank image
