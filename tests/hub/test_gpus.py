"""GPUs on a local install: discovery (NVML here finds none; a declared pool), allocation in a real
Redis (distinct devices, refusals with a sentence, races, a restarted hub keeping assignments),
and a real hub handing each GPU server its own device and CPU servers none."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
import requests

from cosim_hub.gpus import DeclaredReader, GpuPool, GpusBusy, NvmlReader
from cosim_protocol.gpus import ASSIGNED_KEY, device_environment
from cosim_testing.hub_client import HubClient
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

T = TypeVar("T")


def run(url: str, body: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(url)
        try:
            await client.delete(ASSIGNED_KEY)
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_nvml_without_a_driver_finds_no_gpu_and_raises_nothing() -> None:
    reader = NvmlReader()
    assert reader.devices() == [] and reader.readings() == {}


def test_environment_gives_exactly_the_devices() -> None:
    assert device_environment([]) == {"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "void"}
    env = device_environment(["1"])
    assert (env["CUDA_VISIBLE_DEVICES"], env["NVIDIA_VISIBLE_DEVICES"]) == ("1", "1")
    assert (env["MUJOCO_EGL_DEVICE_ID"], env["CUDA_DEVICE_ORDER"]) == ("1", "PCI_BUS_ID")


def test_distinct_gpus_refusal_release_and_restart(cosim_redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> None:
        pool = GpuPool(client, DeclaredReader(["0", "1"]))
        a = await pool.allocate("alice/", "alice", 1, until=time.time() + 3600)
        b = await pool.allocate("bob/", "bob", 1)
        assert sorted(a + b) == ["0", "1"]
        with pytest.raises(GpusBusy) as busy:
            await pool.allocate("carol/", "carol", 1)
        sentence = str(busy.value)
        assert sentence.startswith("all 2 GPU(s) of this machine are in use (0 free, 1 needed)")
        assert "frees up by" in sentence  # alice's time limit says when
        assert await pool.free_count() == 0

        # A restarted hub (a new pool over the same Redis) keeps every assignment, and a server
        # that asks again gets its own GPU back, not a second one.
        restarted = GpuPool(client, DeclaredReader(["0", "1"]))
        assert {k: v.user for k, v in (await restarted.assignments()).items()} == {
            a[0]: "alice",
            b[0]: "bob",
        }
        assert await restarted.allocate("bob/", "bob", 1) == b

        assert await restarted.release("alice/") == a
        assert await restarted.allocate("carol/", "carol", 1) == a

    run(cosim_redis_url, body)


def test_concurrent_spawns_never_share_a_gpu(cosim_redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> None:
        pool = GpuPool(client, DeclaredReader(["0", "1", "2"]))
        results = await asyncio.gather(
            *(pool.allocate(f"u{i}/", f"u{i}", 1) for i in range(8)), return_exceptions=True
        )
        got = [r[0] for r in results if isinstance(r, list)]
        assert sorted(got) == ["0", "1", "2"]
        assert sum(isinstance(r, GpusBusy) for r in results) == 5

    run(cosim_redis_url, body)


def test_no_gpu_here_and_too_few(cosim_redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> None:
        with pytest.raises(GpusBusy, match="this machine has no GPU"):
            await GpuPool(client, DeclaredReader([])).allocate("a/", "a", 1)
        with pytest.raises(GpusBusy, match="needs 2 GPUs and this machine has 1"):
            await GpuPool(client, DeclaredReader(["0"])).allocate("a/", "a", 2)

    run(cosim_redis_url, body)


def test_declared_readings_come_from_the_sites_file(tmp_path: Path) -> None:
    readings = tmp_path / "readings.json"
    reader = DeclaredReader(["0", "1"], str(readings))
    assert reader.readings() == {}  # no file yet
    readings.write_text(json.dumps({"0": {"utilization": 87.5, "memory_used_mb": 1200},
                                    "7": {"utilization": 1}}))  # fmt: skip
    got = reader.readings()
    assert list(got) == ["0"] and got["0"].utilization == 87.5
    readings.write_text("{half written")
    assert reader.readings() == {}


# ---- a real hub -----------------------------------------------------------------------------

PROFILES = """
[[profile]]
name = "cpu"
display_name = "CPU"
default = true

[[profile]]
name = "gpu"
display_name = "GPU one"
gpus = 1

[[profile]]
name = "gpu-idle"
display_name = "GPU, stopped when its GPU idles"
gpus = 1
gpu_idle_timeout = 6
"""

# A pool of two declared GPUs whose readings come from a file the test writes, read the way
# NVML's are; the cost guard (meter every second) allows more GPUs than the pool has, so the
# pool is what refuses the third spawn.
CONFIG = """
c.CoSimHub.profiles_file = {profiles!r}
c.CoSimGpus.declared = ["0", "1"]
c.CoSimGpus.readings_file = {readings!r}
c.CoSimCostGuard.cluster_gpu_limit = 3
c.CoSimCostGuard.meter_interval = 1.0
c.CoSimCostGuard.cull_warning = 4.0
c.JupyterHub.last_activity_interval = 3600
c.Spawner.environment = {{"JUPYTERHUB_ACTIVITY_INTERVAL": "2"}}
"""


@pytest.fixture(scope="module")
def gpu_stack() -> Iterator[CoSimStack]:
    state_dir = make_state_dir("cosim-gpu-test-")
    profiles = state_dir.parent / "profiles.toml"
    profiles.write_text(PROFILES)
    profiles.chmod(0o644)
    readings = state_dir.parent / "gpu-readings.json"
    config = CONFIG.format(profiles=str(profiles), readings=str(readings))
    stack = start_cosim_up(state_dir, extra_config=config)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(state_dir.parent, ignore_errors=True)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


def _spawn(client: HubClient, profile: str) -> Any:
    return client.api("POST", f"users/{client.user}/server", json={"profile": profile})


def _visible(stack: CoSimStack, name: str) -> str:
    pid = stack.server_pid(name)
    environ = dict(
        line.split("=", 1)
        for line in Path(f"/proc/{pid}/environ").read_text().split("\0")
        if "=" in line
    )
    return environ["CUDA_VISIBLE_DEVICES"]


def test_each_gpu_server_gets_its_own_gpu_and_cpu_servers_none(gpu_stack: CoSimStack) -> None:
    stack = gpu_stack
    users = [stack.new_user(name)[0] for name in ("gpa", "gpb", "gpc", "cpd")]
    for client in users[:2]:
        assert _spawn(client, "gpu").status_code in (201, 202)
        assert wait_for(client.server_ready, 90, interval=0.3)
    seen = {_visible(stack, c.user or "") for c in users[:2]}
    assert seen == {"0", "1"}, seen

    # The third GPU spawn is refused with a sentence the spawn page shows, not a 500.
    resp = _spawn(users[2], "gpu")
    events = users[2].api("GET", f"users/{users[2].user}/server/progress", timeout=90)
    assert "GPU one cannot start: all 2 GPU(s) of this machine are in use" in events.text, (
        resp.status_code,
        resp.text,
        events.text[-500:],
    )

    # A CPU server sees no GPU at all.
    assert _spawn(users[3], "cpu").status_code in (201, 202)
    assert wait_for(users[3].server_ready, 90, interval=0.3)
    assert _visible(stack, "cpd") == ""

    # Stop one GPU server: its GPU goes to the third user.
    freed = _visible(stack, "gpa")
    users[0].stop()
    assert _spawn(users[2], "gpu").status_code in (201, 202)
    assert wait_for(users[2].server_ready, 90, interval=0.3)
    assert _visible(stack, "gpc") == freed
    for client in users[1:]:
        client.stop()


def test_a_gpu_server_idle_on_its_gpu_is_warned_then_stopped(gpu_stack: CoSimStack) -> None:
    stack = gpu_stack
    readings = stack.state_dir.parent / "gpu-readings.json"
    client = stack.new_user("gpidle")[0]
    assert _spawn(client, "gpu-idle").status_code in (201, 202)
    assert wait_for(client.server_ready, 90, interval=0.3)
    lab = client.open_lab()
    assert lab.status_code == 200, (lab.url, lab.text[:800])  # logged in, as Lab is
    gpu = _visible(stack, "gpidle")

    def feed(utilization: float) -> None:
        tmp = readings.with_suffix(".tmp")
        tmp.write_text(json.dumps({gpu: {"utilization": utilization, "memory_used_mb": 500}}))
        tmp.replace(readings)

    # Busy on its GPU well past the 6 s timeout: kept, with no notice.
    feed(90.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert client.server_ready(), "a busy GPU server was stopped"
        resp = client.request("GET", "user/gpidle/cosim/api/costguard")
        assert resp.status_code == 200 and not resp.json().get("notice"), resp.text
        time.sleep(1)

    # Idle: a warning in Lab, then the stop.
    feed(0.0)
    seen: list[str] = []

    def stopped() -> bool:
        resp = client.request("GET", "user/gpidle/cosim/api/costguard")
        notice = resp.json().get("notice") if resp.status_code == 200 else None
        if notice and notice["kind"] not in seen:
            seen.append(notice["kind"])
        return not client.server_ready()

    assert wait_for(stopped, 40, interval=0.5), "the idle GPU server kept running"
    assert seen == ["cull-gpu-idle"], seen
    # The usage API shows the device with who held it and its last reading.
    admin = stack.admin_client()
    token = admin.api("POST", f"users/{stack.admin}/tokens", json={"note": "gpu test"})
    usage = requests.get(
        stack.public_url("services/cosim-costguard/api/usage"),
        headers={"Authorization": f"token {token.json()['token']}"},
        timeout=30,
    )
    assert usage.status_code == 200, usage.text
    assert any(d["gpu"] == gpu for d in usage.json()["gpu_devices"])
