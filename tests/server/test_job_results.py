"""A SLAM job through the REST API of a real Jupyter server, and its result files for the Jobs
panel: plots and evaluation.json by name only, nothing else of the job or workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_jobs_api import api, api_error, ended, post, wait_job

from cosim.slam.synthetic import SequenceSpec, generate


@pytest.fixture(scope="module")
def short_sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of the default camera path (60 frames)."""
    return generate(tmp_path_factory.mktemp("seq") / "room", SequenceSpec(duration_s=2.0))


@pytest.fixture
def jp_server_config(cosim_redis_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"cosim_server": True}},
        "CoSimServer": {"redis_url": cosim_redis_url, "redis_timeout": 1.0},
        "CoSimJobs": {"max_jobs": 1, "max_cpus": 4, "poll_interval": 0.2},
    }


async def test_slam_job_results(jp_fetch: Any, short_sequence: Path) -> None:
    body = {"template": "slam-baseline", "params": {"dataset": str(short_sequence)}}
    job = await api(jp_fetch, "jobs", **post(body))
    job = await wait_job(jp_fetch, job["id"], ended, timeout=240)
    assert job["state"] == "finished", job["log_tail"]
    final = job["metrics"][-1]
    assert final["final"] and final["frames"] == 60 and final["ate_rmse_m"] < 0.05
    assert job["timesteps"] == 60  # the panel's progress figure

    png = await jp_fetch("cosim", "api", "jobs", job["id"], "results", "trajectory.png")
    assert png.headers["Content-Type"] == "image/png" and png.body[:4] == b"\x89PNG"
    svg = await jp_fetch("cosim", "api", "jobs", job["id"], "results", "error.svg")
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in svg.headers["Content-Security-Policy"]
    evaluation = await jp_fetch("cosim", "api", "jobs", job["id"], "results", "evaluation.json")
    assert json.loads(evaluation.body)["ate"]["rmse"] == final["ate_rmse_m"]

    for name in ("log.txt", "job.json", "metrics.jsonl", "..%2Fjob.json", "trajectory.txt"):
        code, message = await api_error(jp_fetch, "jobs", job["id"], "results", name)
        assert code == 404 and "no result" in message, name
    code, _ = await api_error(jp_fetch, "jobs", "20990101-000000-nope-abcdef", "results",
                              "trajectory.png")  # fmt: skip
    assert code == 404
