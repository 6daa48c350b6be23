"""Live sim control end to end in one process: a real MuJoCo sim with ``cosim.viewer(control=)``
in a thread (the kernel's side), the real Jupyter server with cosim_server, a real redis-server.

A change goes REST/WS -> the server's control document (validated, written to the file) ->
Redis -> the viewer's publisher thread -> applied at the sim's next ``sync()``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

import cosim

PENDULUM = """
<mujoco>
  <option timestep="0.002"/>
  <worldbody>
    <body name="arm" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""


class SimThread(threading.Thread):
    """The user's unchanged loop: step, sync; plus a param read and a trajectory log."""

    def __init__(self, redis_url: str, control: Path, on_reset: Callable[[int], None] | None):
        super().__init__(daemon=True)
        self.model = mujoco.MjModel.from_xml_string(PENDULUM)
        self.data = mujoco.MjData(self.model)
        self.data.qpos[0] = 0.5
        self.viewer = cosim.viewer(
            self.model, self.data, redis_url=redis_url, display=False, control=str(control),
            on_reset=self._on_reset,
        )  # fmt: skip
        self.user_on_reset = on_reset
        self.kp = 0.0
        self.trajectory: list[tuple[float, float]] = []
        self.reset_marks: list[int] = []
        self.done = threading.Event()

    def _on_reset(self, seed: int) -> None:
        self.reset_marks.append(len(self.trajectory))
        if self.user_on_reset is not None:
            self.user_on_reset(seed)

    def run(self) -> None:
        v = self.viewer
        while v.running and not self.done.is_set():
            self.kp = v.param("kp", 10.0, min=0, max=100)
            mujoco.mj_step(self.model, self.data)
            v.sync()
            self.trajectory.append((float(self.data.time), float(self.data.qpos[0])))

    def stop(self) -> None:
        self.done.set()
        self.viewer.close()
        self.join(5)


@pytest.fixture
def control_file(jp_root_dir: Path) -> Path:
    return jp_root_dir / "sim-control.json"


@pytest.fixture
def make_sim(cosim_redis_url: str, control_file: Path) -> Iterator[Callable[..., SimThread]]:
    started: list[SimThread] = []

    def make(on_reset: Callable[[int], None] | None = None) -> SimThread:
        sim = SimThread(cosim_redis_url, control_file, on_reset)
        started.append(sim)
        sim.start()
        return sim

    yield make
    for sim in started:
        sim.stop()


async def _control(jp_fetch: Any, sim: SimThread, change: dict[str, Any] | None = None) -> Any:
    path = ("cosim", "api", "sims", sim.viewer.sim_id, "control")
    if change is None:
        resp = await jp_fetch(*path)
    else:
        resp = await jp_fetch(*path, method="POST", body=json.dumps(change))
    return json.loads(resp.body)


async def _until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_pause_stops_sim_time_and_steps_let_exactly_that_many_frames(
    jp_fetch: Any, make_sim: Callable[..., SimThread], control_file: Path
) -> None:
    sim = make_sim()
    assert await _until(lambda: sim.data.time > 0.05)
    doc = await _control(jp_fetch, sim, {"state": "paused"})
    assert doc["state"] == "paused" and doc["events"][-1]["what"] == "paused"
    pressed = time.monotonic()

    # Sim time stops within 1 s of the press (it blocks inside sync(); v.running stays true).
    async def stopped() -> bool:
        before = sim.data.time
        await asyncio.sleep(0.1)
        return sim.data.time == before

    while not await stopped():
        assert time.monotonic() - pressed < 1.0, "sim time still advancing 1 s after pause"
    assert sim.viewer.running and sim.viewer.paused
    frames, sim_time = sim.viewer.frame_number, sim.data.time

    await _control(jp_fetch, sim, {"step": 1})
    await _control(jp_fetch, sim, {"step": 2})
    assert await _until(lambda: sim.viewer.frame_number == frames + 3)
    await asyncio.sleep(0.5)
    assert sim.viewer.frame_number == frames + 3, "a step let more than one sync() through"
    assert sim.data.time == pytest.approx(sim_time + 3 * 0.002)

    on_disk = json.loads(control_file.read_text())
    assert on_disk["state"] == "paused" and on_disk["step"] == 3 and on_disk["sim_id"]
    await _control(jp_fetch, sim, {"state": "running"})
    assert await _until(lambda: sim.data.time > sim_time + 0.1)


async def test_speed_paces_sync_against_sim_time(
    jp_fetch: Any, make_sim: Callable[..., SimThread]
) -> None:
    sim = make_sim()
    assert await _until(lambda: sim.data.time > 0.05)
    for speed, low, high in ((1.0, 0.8, 1.1), (0.5, 0.4, 0.55)):
        await _control(jp_fetch, sim, {"speed": speed})
        await asyncio.sleep(0.2)
        t0 = sim.data.time
        await asyncio.sleep(1.0)
        assert low <= sim.data.time - t0 <= high, (speed, sim.data.time - t0)
    await _control(jp_fetch, sim, {"speed": 0})  # free: far faster than real time
    await asyncio.sleep(0.2)
    t0 = sim.data.time
    await asyncio.sleep(1.0)
    assert sim.data.time - t0 > 2.0


async def test_reset_with_the_same_seed_twice_gives_identical_trajectories(
    jp_fetch: Any, make_sim: Callable[..., SimThread]
) -> None:
    seeds: list[int] = []
    sim_box: list[SimThread] = []

    def on_reset(seed: int) -> None:  # the user's callback: a seeded random start
        seeds.append(seed)
        sim_box[0].data.qvel[0] = np.random.default_rng(seed).normal()

    sim = make_sim(on_reset)
    sim_box.append(sim)
    await _control(jp_fetch, sim, {"speed": 0})
    assert await _until(lambda: len(sim.trajectory) > 100)
    await _control(jp_fetch, sim, {"seed": 7, "reset": 1})
    assert await _until(lambda: len(sim.reset_marks) == 1)
    first = sim.reset_marks[0]
    assert await _until(lambda: len(sim.trajectory) > first + 500)
    await _control(jp_fetch, sim, {"reset": 1})
    assert await _until(lambda: len(sim.reset_marks) == 2)
    second = sim.reset_marks[1]
    assert await _until(lambda: len(sim.trajectory) > second + 500)
    assert seeds == [7, 7]
    one, two = sim.trajectory[first : first + 500], sim.trajectory[second : second + 500]
    assert one[0][0] == 0.0  # the reset state, t = 0 again
    assert one == two


async def test_param_slider_changes_what_v_param_returns_and_bad_values_are_refused(
    jp_fetch: Any, make_sim: Callable[..., SimThread], control_file: Path
) -> None:
    sim = make_sim()
    assert await _until(lambda: sim.kp == 10.0)

    async def declared() -> bool:
        return "kp" in (await _control(jp_fetch, sim))["params"]

    deadline = time.monotonic() + 5
    while not await declared():
        assert time.monotonic() < deadline, "kp never reached the control document"
        await asyncio.sleep(0.1)
    await _control(jp_fetch, sim, {"params": {"kp": 42.5}})
    assert await _until(lambda: sim.kp == 42.5)

    before = await _control(jp_fetch, sim)
    bad = [
        ({"params": {"kp": 500}}, "params.kp must be in [0, 100]"),
        ({"params": {"kd": 1}}, "params.kd is not declared"),
        ({"speed": -1}, "speed must be in [0, 100]"),
        ({"state": "exploded"}, "state must be one of"),
        ({"step": 0}, "step must be an integer in [1, 1000]"),
        ({"seed": "7"}, "seed must be an integer"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ]
    for change, message in bad:
        with pytest.raises(HTTPClientError) as err:
            await _control(jp_fetch, sim, change)
        assert err.value.code == 400
        body = json.loads(err.value.response.body)
        assert message in body["message"], (change, body)
    assert await _control(jp_fetch, sim) == before
    assert json.loads(control_file.read_text()) == before
    assert sim.kp == 42.5


async def test_outside_write_is_applied_and_an_invalid_one_is_undone(
    jp_fetch: Any, make_sim: Callable[..., SimThread], control_file: Path
) -> None:
    sim = make_sim()
    doc = await _control(jp_fetch, sim)
    control_file.write_text(json.dumps({**doc, "state": "paused"}))  # as a terminal would
    assert await _until(lambda: sim.viewer.paused, timeout=3)
    assert (await _control(jp_fetch, sim))["state"] == "paused"
    control_file.write_text("{not json")
    assert await _until(lambda: _valid(control_file), timeout=3)
    assert json.loads(control_file.read_text())["state"] == "paused"
    control_file.write_text(json.dumps({**doc, "state": "running", "speed": 1000}))
    await asyncio.sleep(1.5)
    assert json.loads(control_file.read_text())["speed"] == 1.0
    assert sim.viewer.paused


def _valid(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except ValueError:
        return False
    return True


async def test_concurrent_presses_all_apply_and_the_file_stays_valid(
    jp_fetch: Any, make_sim: Callable[..., SimThread], control_file: Path
) -> None:
    sim = make_sim()
    await _control(jp_fetch, sim, {"state": "paused"})
    presses = [{"step": 1}] * 10 + [{"seed": s} for s in range(10)] + [{"speed": 0.5}]
    await asyncio.gather(*(_control(jp_fetch, sim, p) for p in presses))
    final = await _control(jp_fetch, sim)
    assert final["step"] == 10 and final["speed"] == 0.5 and final["state"] == "paused"
    assert json.loads(control_file.read_text()) == final
    assert len(final["events"]) == len(presses) + 1


async def test_viewer_socket_gets_control_and_presence_and_can_press(
    jp_fetch: Any, jp_ws_fetch: Any, make_sim: Callable[..., SimThread]
) -> None:
    sim = make_sim()
    ws = await jp_ws_fetch("cosim", "api", "sims", sim.viewer.sim_id, "ws")
    ws.write_message(json.dumps({"type": "join"}))
    seen: dict[str, Any] = {}
    while "control" not in seen or "presence" not in seen:
        message = await asyncio.wait_for(ws.read_message(), 5)
        if isinstance(message, str):
            parsed = json.loads(message)
            seen[parsed["type"]] = parsed
    assert seen["presence"]["users"]
    ws.write_message(json.dumps({"type": "control", "change": {"state": "paused"}}))
    assert await _until(lambda: sim.viewer.paused)
    ws.write_message(json.dumps({"type": "control", "change": {"speed": "fast"}}))
    while True:
        message = await asyncio.wait_for(ws.read_message(), 5)
        if isinstance(message, str) and json.loads(message)["type"] == "error":
            assert "speed must be a number" in json.loads(message)["message"]
            break
    ws.close()
