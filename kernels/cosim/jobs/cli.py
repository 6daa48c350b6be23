"""``cosim template list|new`` and ``cosim jobs start|list|show|logs|stop|resume|delete``.

The CLI drives the same :class:`JobManager` as the server extension, on the same job folders, so
a job started in a terminal shows up in Lab's Jobs panel and the other way round.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cosim_protocol.redis_client import make_sync

from .manager import JobManager
from .state import ACTIVE_STATES, JOBS_DIR, JobError
from .templates import TemplateError, list_templates


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), value.strip()


def _param_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--param", "-p", type=_param, action="append", default=[], metavar="NAME=VALUE",
        help=help_text,
    )  # fmt: skip


def _default_workspace() -> str:
    """The nearest folder up from here that holds .cosim/jobs, else the home folder (the
    workspace of a CoSim user server)."""
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / JOBS_DIR).is_dir():
            return str(folder)
    return os.environ.get("COSIM_WORKSPACE") or str(Path.home())


def add_parser(sub: Any) -> None:
    t = sub.add_parser(
        "template",
        help="project templates (RL training, ...)",
        description="List project templates or make a project folder from one.",
    )
    t.add_argument("--json", action="store_true", help="print JSON instead of text")
    tc = t.add_subparsers(dest="template_command", metavar="ACTION", required=True)
    tc.add_parser("list", help="templates and their parameters")
    n = tc.add_parser("new", help="make a project folder from a template")
    n.add_argument("name", help="template name (see `cosim template list`)")
    n.add_argument("folder", help="new folder for the project")
    _param_option(n, "set a parameter (repeatable)")

    j = sub.add_parser(
        "jobs",
        help="background jobs (start, list, stop, resume, ...)",
        description="Background training jobs of a workspace; they run on "
        "without a browser or terminal.",
    )
    j.add_argument(
        "--workspace",
        default=None,
        help="workspace folder holding .cosim/jobs (default: the nearest one up from "
        "here, else your home folder)",
    )
    j.add_argument("--json", action="store_true", help="print JSON instead of text")
    jc = j.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    s = jc.add_parser("start", help="start a job in a project folder")
    s.add_argument("project", help="project folder (made by `cosim template new`)")
    _param_option(s, "override a parameter (repeatable)")
    jc.add_parser("list", help="all jobs, oldest first")
    for name, text in [
        ("show", "one job's state"),
        ("stop", "stop a job (checkpoint first)"),
        ("resume", "resume from the latest checkpoint"),
        ("delete", "delete a stopped job and its files"),
    ]:
        jc.add_parser(name, help=text).add_argument("job", help="job id")
    lg = jc.add_parser("logs", help="a job's log")
    lg.add_argument("job", help="job id")
    lg.add_argument("-n", "--lines", type=int, default=40, help="last N lines (default 40)")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def run(args: argparse.Namespace) -> int:
    """``cosim template ...`` or ``cosim jobs ...``."""
    return run_template(args) if args.command == "template" else run_jobs(args)


def run_template(args: argparse.Namespace) -> int:
    try:
        if args.template_command == "list":
            templates = list_templates()
            lines = []
            for t in templates:
                lines.append(f"{t.name}: {t.title} - {t.description}")
                lines += [
                    f"    {p.name} = {p.default!r}  ({p.describe_allowed()}) {p.help}"
                    for p in t.params.values()
                ]
            _print(args, [t.as_json() for t in templates], "\n".join(lines))
            return 0
        folder = Path(args.folder).resolve()
        manager = JobManager(folder.parent)
        project = manager.new_project(args.name, folder, dict(args.param))
        _print(
            args,
            project,
            f"created {folder} from {args.name}; start it with `cosim jobs start {args.folder}`",
        )
        return 0
    except TemplateError as err:
        print(f"cosim template: {err}", file=sys.stderr)
        return 1


def _row(job: dict[str, Any]) -> str:
    steps = job.get("timesteps") or 0
    total = job.get("total_timesteps") or "?"
    return f"{job['id']}  {job.get('state', '?'):9}  {steps}/{total}  {job.get('message') or ''}"


def _redis() -> Any:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    return make_sync(url, timeout=0.5, connect_timeout=0.3)


def run_jobs(args: argparse.Namespace) -> int:
    url = os.environ.get("REDIS_URL")
    manager = JobManager(args.workspace or _default_workspace(), redis=_redis(), redis_url=url)
    try:
        cmd = args.jobs_command
        if cmd == "start":
            job = manager.start(Path(args.project).resolve(), dict(args.param))
            _print(args, job.summary(), f"started {job.id} (pid {job.state().get('pid')})")
        elif cmd == "list":
            jobs = [j.summary() for j in manager.jobs()]
            _print(args, jobs, "\n".join(_row(j) for j in jobs) or "no jobs")
        elif cmd == "show":
            job = manager.job(args.job)
            data = job.summary()
            _print(args, data, json.dumps(data, indent=2))
        elif cmd == "stop":
            manager.stop(args.job)
            return _wait_stopped(manager, args.job)
        elif cmd == "resume":
            job = manager.resume(args.job)
            _print(args, job.summary(), f"resumed {job.id} (pid {job.state().get('pid')})")
        elif cmd == "delete":
            manager.delete(args.job)
            print(f"deleted {args.job}")
        elif cmd == "logs":
            return _logs(manager, args)
        return 0
    except (JobError, TemplateError) as err:
        print(f"cosim jobs: {err}", file=sys.stderr)
        return 1


def _wait_stopped(manager: JobManager, job_id: str) -> int:
    deadline = time.monotonic() + manager.limits.stop_timeout
    while time.monotonic() < deadline:
        state = manager.job(job_id).state()
        if state.get("state") not in ACTIVE_STATES:
            print(f"{job_id}: {state.get('state')}")
            return 0
        time.sleep(0.2)
    job = manager.job(job_id)
    manager.kill(job, job.state(), "killed: did not stop in time")
    print(f"{job_id}: killed (did not stop within {manager.limits.stop_timeout:g} s)")
    return 0


def _logs(manager: JobManager, args: argparse.Namespace) -> int:
    job = manager.job(args.job)
    for line in job.log_tail(args.lines):
        print(line)
    if not args.follow:
        return 0
    with open(job.log_file, "rb") as f:
        f.seek(0, os.SEEK_END)
        while True:
            chunk = f.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
            elif job.state().get("state") not in ACTIVE_STATES:
                return 0
            else:
                time.sleep(0.5)
