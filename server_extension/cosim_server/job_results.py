"""``GET /cosim/api/jobs/<id>/results/<name>``: a finished job's result files for the Jobs panel
(SLAM: trajectory and error plots, evaluation.json). Only the names below, read from the job's
own folder: nothing else of the workspace is reachable through this route."""

from __future__ import annotations

from typing import Any

from .base import CoSimError
from .jobs import _call, _JobsHandler

RESULT_FILES = {
    "trajectory.png": "image/png",
    "trajectory.svg": "image/svg+xml",
    "error.png": "image/png",
    "error.svg": "image/svg+xml",
    "evaluation.json": "application/json",
}
MAX_BYTES = 8 * 1024 * 1024


def _read(job: Any, name: str) -> bytes | None:
    path = job.path / name
    if not path.is_file() or path.is_symlink():
        return None
    if path.stat().st_size > MAX_BYTES:
        raise CoSimError(413, f"{name} is larger than {MAX_BYTES} bytes")
    return path.read_bytes()


class JobResultHandler(_JobsHandler):
    async def get(self, job_id: str, name: str) -> None:
        if name not in RESULT_FILES:
            raise CoSimError(404, f"no result {name!r}; results: {', '.join(RESULT_FILES)}")
        job = await _call(self, self.manager.job, job_id)
        data = await _call(self, _read, job, name)
        if data is None:
            raise CoSimError(404, f"job {job_id} has no {name} (yet)")
        # An SVG is a document: never let it run script in our origin.
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.finish(data, set_content_type=RESULT_FILES[name])


def routes() -> list[tuple[str, type]]:
    return [(r"/cosim/api/jobs/(?P<job_id>[^/]+)/results/(?P<name>[^/]+)", JobResultHandler)]
