"""Through the real hub: a training job keeps running while its user's server is stopped (the
browser gone, the server culled or restarted) and the restarted server shows it running."""

from __future__ import annotations

from typing import Any

from cosim_hub.procs import pid_alive
from cosim_testing.hub_client import HubClient
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack


def _job(client: HubClient, user: str, job_id: str) -> dict[str, Any]:
    resp = client.request("GET", f"user/{user}/cosim/api/jobs/{job_id}")
    assert resp.status_code == 200, resp.text[:300]
    return dict(resp.json())


def test_job_outlives_its_server_stopped_by_the_hub(cosim_stack: CoSimStack) -> None:
    user = "trainer"
    client, _ = cosim_stack.new_user(user)
    client.spawn()
    client.open_lab()
    params = {"total_timesteps": 10_000_000, "n_envs": 1, "n_steps": 256}
    resp = client.request("POST", f"user/{user}/cosim/api/jobs",
                          json={"template": "mujoco-ppo", "params": params})  # fmt: skip
    assert resp.status_code == 201, resp.text[:300]
    job_id, pid = resp.json()["id"], resp.json()["pid"]
    assert wait_for(lambda: (_job(client, user, job_id).get("timesteps") or 0) > 0, timeout=90)

    client.stop()
    assert pid_alive(pid), "the job must outlive its server"
    client.spawn()
    client.open_lab()
    job = _job(client, user, job_id)
    assert job["state"] == "running" and job["pid"] == pid
    steps = job["timesteps"]
    assert wait_for(lambda: _job(client, user, job_id)["timesteps"] > steps, timeout=60)

    stop = client.request("POST", f"user/{user}/cosim/api/jobs/{job_id}/stop", json={})
    assert stop.status_code == 200, stop.text[:300]
    assert wait_for(lambda: _job(client, user, job_id)["state"] == "stopped", timeout=60)
    assert wait_for(lambda: not pid_alive(pid), timeout=10), "a stopped job leaves no process"
    client.stop()
