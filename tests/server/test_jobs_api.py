"""/cosim/api/templates and /cosim/api/jobs in a real Jupyter server: real PPO training jobs
(a few thousand steps), their checkpoints and metrics, stop/resume, limits, crashes, the live
events socket and the job's TensorBoard behind auth."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import websocket_connect

HERE = Path(__file__).parent
SMALL = {"total_timesteps": 3000, "n_steps": 256, "checkpoint_every": 1000, "n_envs": 2}


@pytest.fixture
def jp_server_config(cosim_redis_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"cosim_server": True}},
        "CoSimServer": {"redis_url": cosim_redis_url, "redis_timeout": 1.0},
        "CoSimJobs": {
            "max_jobs": 1,
            "max_cpus": 4,
            "poll_interval": 0.2,
            "template_paths": [str(HERE / "job_templates")],
        },
    }


async def api(jp_fetch: Any, *path: str, **kw: Any) -> Any:
    resp = await jp_fetch("cosim", "api", *path, **kw)
    return json.loads(resp.body) if resp.body else None


async def api_error(jp_fetch: Any, *path: str, **kw: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", *path, **kw)
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert "Traceback" not in body["message"]
    return err.value.code, body["message"]


def post(body: Any) -> dict[str, Any]:
    return {"method": "POST", "body": json.dumps(body)}


async def wait_job(
    jp_fetch: Any, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = await api(jp_fetch, "jobs", job_id)
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job never got there: {job['state']} {job['log_tail']}"
        await asyncio.sleep(0.3)


def ended(job: dict[str, Any]) -> bool:
    return job["state"] in ("finished", "stopped", "failed", "lost")


async def test_templates_are_listed_with_params(jp_fetch: Any) -> None:
    names = {t["name"]: t for t in (await api(jp_fetch, "templates"))["templates"]}
    assert {"mujoco-ppo", "pybullet-ppo", "crashy"} <= set(names)
    params = {p["name"]: p for p in names["mujoco-ppo"]["params"]}
    assert params["n_envs"]["range"] == [1, 64] and params["n_envs"]["help"]
    assert "InvertedPendulum-v5" in params["env"]["choices"]
    one = await api(jp_fetch, "templates", "pybullet-ppo")
    assert one["title"] == "PyBullet PPO"


@pytest.mark.parametrize(
    "path, body, code, words",
    [
        (("templates", "nope"), None, 404, ["unknown template 'nope'"]),
        (("jobs",), {"template": "nope"}, 404, ["unknown template"]),
        (("jobs",), {"template": "mujoco-ppo", "params": {"n_envs": 0}}, 400,
         ["'n_envs'", "[1, 64]"]),
        (("jobs",), {"template": "mujoco-ppo", "params": {"learning_rate": "fast"}}, 400,
         ["'learning_rate'", "[1e-06, 0.01]"]),
        (("jobs",), {"template": "mujoco-ppo", "params": {"env": "Pong"}}, 400,
         ["'env'", "one of"]),
        (("jobs",), {"template": "mujoco-ppo", "params": {"gamma": 0.9}}, 400,
         ["unknown parameter 'gamma'"]),
        (("jobs",), {"template": "mujoco-ppo", "folder": "../outside"}, 400, ["leaves"]),
        (("jobs",), {"template": "mujoco-ppo", "params": {"n_envs": 8}}, 409,
         ["needs 8 CPU(s)", "of 4 are free"]),
        (("jobs",), {"project": "not-a-project"}, 400, ["not a CoSim project"]),
        (("jobs",), ["x"], 400, ["body must be"]),
        (("jobs",), {}, 400, ["template"]),
        (("jobs", "20990101-000000-nope-abcdef"), None, 404, ["no job"]),
        (("jobs", "20990101-000000-nope-abcdef", "stop"), {}, 404, ["no job"]),
        (("jobs", "..", "resume"), {}, 404, []),
    ],
)  # fmt: skip
async def test_bad_input_is_a_clear_4xx(
    jp_fetch: Any, jp_root_dir: Path, path: tuple[str, ...], body: Any, code: int,
    words: list[str],
) -> None:  # fmt: skip
    kw = post(body) if body is not None else {}
    got, message = await api_error(jp_fetch, *path, **kw)
    assert got == code, message
    for word in words:
        assert word in message
    assert not (jp_root_dir / ".cosim" / "jobs").exists() or code == 404
    assert not (jp_root_dir / "mujoco-ppo-1").exists(), "a refused job leaves no project folder"


async def test_crashing_job_fails_with_its_last_log_lines(jp_fetch: Any) -> None:
    job = await api(jp_fetch, "jobs", **post({"template": "crashy"}))
    assert job["state"] in ("queued", "running")
    job = await wait_job(jp_fetch, job["id"], ended, timeout=30)
    assert job["state"] == "failed"
    assert "exited with status 1" in job["message"]
    assert any("divided by zero" in line for line in job["log_tail"])
    code, message = await api_error(jp_fetch, "jobs", job["id"], "resume", **post({}))
    assert code == 409 and "no checkpoint" in message
    await jp_fetch("cosim", "api", "jobs", job["id"], method="DELETE")
    assert (await api(jp_fetch, "jobs"))["jobs"] == []


async def test_mujoco_job_stop_resume_continues_its_count(
    jp_fetch: Any, jp_root_dir: Path, cosim_redis_url: str
) -> None:
    params = {**SMALL, "total_timesteps": 6000}
    job = await api(jp_fetch, "jobs", **post({"template": "mujoco-ppo", "params": params}))
    job_id = job["id"]
    assert job["project"].endswith("mujoco-ppo-1") and job["state"] == "running"
    assert (jp_root_dir / "mujoco-ppo-1" / "train.py").is_file()
    started = time.time()

    # The per-user limit (max_jobs = 1 here) refuses a second job with a message.
    code, message = await api_error(jp_fetch, "jobs", **post({"template": "crashy"}))
    assert code == 409 and "limit is 1" in message

    job = await wait_job(jp_fetch, job_id, lambda j: (j.get("timesteps") or 0) >= 1500)
    stopped = await api(jp_fetch, "jobs", job_id, "stop", **post({}))
    assert stopped["state"] in ("stopping", "stopped")
    job = await wait_job(jp_fetch, job_id, ended, timeout=60)
    assert job["state"] == "stopped", job["log_tail"]
    folder = jp_root_dir / ".cosim" / "jobs" / job_id
    stop_step = int(job["checkpoint"].removeprefix("step_").removesuffix(".zip"))
    assert 1500 <= stop_step < 6000
    assert (folder / "checkpoints" / f"step_{stop_step}_vecnormalize.pkl").is_file()
    metrics_before = job["metrics"]
    assert metrics_before[-1]["episode_reward"] is not None
    assert {"steps_per_s", "losses"} <= set(metrics_before[-1])

    resumed = await api(jp_fetch, "jobs", job_id, "resume", **post({}))
    assert resumed["state"] == "running" and resumed["resumes"] == 1
    job = await wait_job(jp_fetch, job_id, ended)
    assert job["state"] == "finished", job["log_tail"]
    after = job["metrics"][len(metrics_before) :]
    assert after and after[0]["timesteps"] > stop_step, "resume must continue the count"
    assert job["metrics"][-1]["timesteps"] >= 6000
    log = (await api(jp_fetch, "jobs", job_id, "log"))["lines"]
    assert any(f"resumed from step_{stop_step}.zip at {stop_step} steps" in x for x in log)
    # One TensorBoard run, continued: curves do not restart at 0.
    assert [p.name for p in (folder / "tb").iterdir()] == ["run_1"]

    # State and metrics are mirrored in Redis under the user's namespace.
    client = redis.Redis.from_url(cosim_redis_url)
    keys = {k.decode() for k in client.keys(f"cosim:*:job:{job_id}*")}
    state_key = next(k for k in keys if k.endswith(job_id))
    assert json.loads(client.get(state_key))["state"] == "finished"
    assert client.xlen(state_key + ":metrics") == len(job["metrics"])
    client.close()
    assert job["started_at"] >= started - 1


async def test_pybullet_job_events_tensorboard_and_activity(
    jp_fetch: Any, jp_serverapp: Any, http_server_client: Any, jp_http_port: int,
    jp_auth_header: dict[str, str], jp_root_dir: Path, jp_base_url: str,
) -> None:  # fmt: skip
    body = {
        "template": "pybullet-ppo",
        "folder": "arm",
        "params": {**SMALL, "total_timesteps": 3000},
    }
    job = await api(jp_fetch, "jobs", **post(body))
    job_id = job["id"]
    before = jp_serverapp.web_app.last_activity()

    # The events socket: a snapshot first, then metrics and log lines as the job makes them.
    base = f"127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"
    url = f"ws://{base}/cosim/api/jobs/{job_id}/events"
    from tornado.httpclient import HTTPRequest

    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
    first = json.loads(await ws.read_message())
    assert first["type"] == "snapshot" and first["job"]["id"] == job_id
    seen: dict[str, list[Any]] = {"metrics": [], "log": [], "state": []}
    deadline = time.monotonic() + 120
    while not any(m["job"]["state"] == "finished" for m in seen["state"]):
        assert time.monotonic() < deadline, seen["state"]
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 120))
        seen[msg["type"]].append(msg)
    ws.close()
    steps = [m["timesteps"] for batch in seen["metrics"] for m in batch["metrics"]]
    assert steps == sorted(steps) and steps[-1] >= 3000
    assert any("steps" in line for msg in seen["log"] for line in msg["lines"])

    # A running job counted as server activity (what the hub's idle culler reads).
    assert jp_serverapp.web_app.last_activity() > before
    assert (jp_root_dir / "arm" / "reach_env.py").is_file()
    assert (jp_root_dir / ".cosim" / "jobs" / job_id / "checkpoints" / "step_3000.zip").exists()

    # TensorBoard: behind Jupyter auth, through the proxy to a Unix socket.
    tb = f"http://{base}/cosim/tensorboard/{job_id}/"
    client = AsyncHTTPClient()
    anonymous = await client.fetch(tb, raise_error=False, follow_redirects=False)
    assert anonymous.code == 403
    opened = await api(jp_fetch, "jobs", job_id, "tensorboard", **post({}))
    assert opened["url"] == f"cosim/tensorboard/{job_id}/"
    page = await client.fetch(tb, headers=jp_auth_header, request_timeout=60)
    assert page.code == 200 and b"tb-relative-root" in page.body
    runs = await client.fetch(tb + "data/runs", headers=jp_auth_header)
    assert json.loads(runs.body) == ["run_1"]

    # Watch the policy: the latest checkpoint runs in the live viewer, listed as a sim.
    watch = await api(jp_fetch, "jobs", job_id, "watch", **post({}))
    assert watch["checkpoint"] == "step_3072.zip"  # the newest: 3000 rounded up to a rollout
    sims = await api(jp_fetch, "sims")
    assert watch["sim_id"] in json.dumps(sims)
    await jp_fetch("cosim", "api", "jobs", job_id, method="DELETE")
