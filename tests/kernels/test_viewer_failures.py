"""The viewer never stops a sim: Redis going away, and misuse that fails early and clearly."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import mujoco
import pytest
import redis
from viewer_testing import KEYS, meta, wait_for

import cosim
from cosim_hub.redis_server import RedisServer
from cosim_protocol.viewer import decode_frame

Sim = tuple[mujoco.MjModel, mujoco.MjData]


def _transport_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "CoSim viewer cannot reach Redis" in str(w.message)]


def test_redis_stopping_mid_run_never_stops_the_sim(tmp_path: Path, sim: Sim) -> None:
    model, data = sim
    server = RedisServer(tmp_path / "a", persist=False).start()
    steps, restarted = 0, None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with cosim.viewer(model, data, redis_url=server.url, display=False, rate=100) as v:
                start = time.monotonic()
                while time.monotonic() - start < 1.5:
                    if steps == 1000:
                        server.stop()
                    mujoco.mj_step(model, data)
                    v.sync()
                    steps += 1
                # Redis is back (same port, empty): the viewer re-creates its keys and resumes.
                restarted = RedisServer(tmp_path / "b", persist=False, port=server.port).start()
                client = redis.Redis.from_url(restarted.url)
                deadline = time.monotonic() + 15
                while client.get(KEYS.frame(v.sim_id)) is None and time.monotonic() < deadline:
                    mujoco.mj_step(model, data)
                    v.sync()
                    time.sleep(0.001)
                assert meta(client, v.sim_id) is not None
                assert client.zscore(KEYS.sims, v.sim_id) is not None
                assert decode_frame(client.get(KEYS.frame(v.sim_id))).number > 1
    finally:
        if restarted is not None:
            restarted.stop()
    assert len(_transport_warnings(caught)) == 1
    assert server.url in _transport_warnings(caught)[0]
    assert steps > 2000 and data.time > 0


def test_unreachable_redis_at_start_warns_once_at_creation(sim: Sim) -> None:
    model, data = sim
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False) as v:
            assert len(_transport_warnings(caught)) == 1
            assert caught[0].filename == __file__  # points at the user's line
            for _ in range(100):
                mujoco.mj_step(model, data)
                v.sync()
                time.sleep(0.002)
            assert v.running and v.frame_number > 1
    assert len(_transport_warnings(caught)) == 1


def test_redis_url_comes_from_the_environment(
    cosim_redis_url: str, sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = sim
    monkeypatch.setenv("REDIS_URL", cosim_redis_url)
    client = redis.Redis.from_url(cosim_redis_url)
    with cosim.viewer(model, data, display=False) as v:
        assert meta(client, v.sim_id) is not None


def test_close_while_redis_is_away_returns_promptly(tmp_path: Path, sim: Sim) -> None:
    model, data = sim
    server = RedisServer(tmp_path, persist=False).start()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        v = cosim.viewer(model, data, redis_url=server.url, display=False)
        server.stop()
        v.sync()
        time.sleep(1.0)  # the publisher is backing off between reconnection attempts
        start = time.monotonic()
        v.close()
    assert time.monotonic() - start < 1.5
    assert wait_for(lambda: not v._publisher.is_alive())


@pytest.mark.parametrize(
    "args, needle",
    [
        (("model.xml",), "got str"),
        ((None,), "got NoneType"),
        ((True,), "got bool"),
        ((1.0,), "got float"),
        ((3, "data"), "got int and str"),
    ],
)
def test_wrong_arguments_say_what_is_accepted(args: tuple[Any, ...], needle: str) -> None:
    with pytest.raises(TypeError) as err:
        cosim.viewer(*args)
    message = str(err.value)
    assert needle in message
    assert "mujoco.MjModel and MjData, or a PyBullet client id (int)" in message


def test_a_model_without_its_data_is_refused(sim: Sim) -> None:
    model, data = sim
    with pytest.raises(TypeError, match="got MjModel without its MjData"):
        cosim.viewer(model)
    with pytest.raises(TypeError, match="got MjData and MjModel"):
        cosim.viewer(data, model)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"rate": "fast"}, TypeError),
        ({"rate": True}, TypeError),
        ({"rate": 0}, ValueError),
        ({"rate": -5.0}, ValueError),
        ({"rate": float("nan")}, ValueError),
        ({"mode": "video"}, ValueError),
        ({"mode": 1}, TypeError),
        ({"title": 3}, TypeError),
        ({"width": 0}, ValueError),
        ({"height": 1.5}, TypeError),
        ({"redis_url": 6379}, TypeError),
        ({"mode": "pixels", "camera": "nope"}, ValueError),
        ({"mode": "pixels", "camera": 7}, ValueError),
    ],
)
def test_wrong_options(sim: Sim, kwargs: dict[str, Any], error: type[Exception]) -> None:
    model, data = sim
    with pytest.raises(error):
        cosim.viewer(model, data, display=False, redis_url="redis://127.0.0.1:1/0", **kwargs)


def test_a_disconnected_pybullet_client_is_refused() -> None:
    import pybullet as pb

    cid = pb.connect(pb.DIRECT)
    pb.disconnect(cid)
    with pytest.raises(ValueError, match=f"PyBullet client {cid} is not connected"):
        cosim.viewer(cid, display=False)
