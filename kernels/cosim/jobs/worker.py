"""``python -m cosim.jobs.worker JOB_DIR``: the leader process of one job.

It runs the project's entry script in this process (``runpy``, as ``__main__``), so the script
stays a plain Python script, and records how it ended: finished, stopped (SIGTERM, after the
training loop saved a checkpoint) or failed (with the last log lines). Only a process killed
outright leaves its state unfinished; the server's monitor then marks it failed or lost.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from cosim_protocol.redis_client import make_sync

from . import runtime
from .state import FAILED, FINISHED, STOPPED, JobDir, process_start_time


def _redis() -> Any:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    return make_sync(url, timeout=0.5, connect_timeout=0.2)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m cosim.jobs.worker JOB_DIR", file=sys.stderr)
        return 2
    job = JobDir(Path(argv[1]).resolve())
    spec = job.spec()
    project = Path(spec["project"])
    entry = project / spec["entry"]
    redis = _redis()
    signal.signal(signal.SIGTERM, lambda *_: runtime.request_stop())
    pid = os.getpid()
    job.update(redis, state="running", pid=pid, start_time=process_start_time(pid))

    os.environ[runtime.JOB_DIR_ENV] = str(job.path)
    os.chdir(project)
    sys.path.insert(0, str(project))
    sys.argv = [str(entry)]
    print(f"[cosim] job {job.id}: {spec['template']} in {project}", flush=True)
    code, final, message = 0, FINISHED, "finished"
    try:
        runpy.run_path(str(entry), run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    if code != 0:
        final, message = FAILED, f"{spec['entry']} exited with status {code}"
    elif runtime.stop_requested():
        final, message = STOPPED, "stopped on request"
    print(f"[cosim] job {job.id}: {message}", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    job.update(
        redis,
        state=final,
        exit_code=code,
        ended_at=time.time(),
        message=message,
        log_tail=job.log_tail(),
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
