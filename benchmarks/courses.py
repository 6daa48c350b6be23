"""The course exchange against nbgrader's way (a shared exchange folder), for one class.

A real ``cosim up`` (hub + the cosim-courses exchange service); each student submits with their
own hub token, the instructor collects with theirs, exactly as user servers do (no spawned
servers: the servers' own part is unpacking, which is timed here too).

- release_ratio: releasing an assignment through the exchange / copying it into a shared folder
- submit_per_s: student submissions accepted per second (one after another, own tokens)
- collect_s: collecting the latest submission of every student and writing them out
- collect_ratio: collect_s / copying every student's submission folder out of a shared folder

    python benchmarks/courses.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import requests
from snapshots import timed

from cosim_server.courses import unpack_files
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

COURSE = "bench"
FILES_PER_SUBMISSION = 5
BYTES_PER_FILE = 10_000


def notebook_files(rng: random.Random, count: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        source = "".join(rng.choice("abcdefghij \n") for _ in range(BYTES_PER_FILE))
        cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                "execution_count": None}  # fmt: skip
        nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        files[f"part{i}.ipynb"] = json.dumps(nb).encode()
    return files


def as_body(files: dict[str, bytes]) -> dict[str, Any]:
    return {"files": {k: base64.b64encode(v).decode() for k, v in files.items()}}


def write(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


class Exchange:
    def __init__(self, stack: CoSimStack) -> None:
        self.base = stack.public_url(f"services/cosim-courses/api/courses/{COURSE}/assignments")

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        resp = requests.request(
            method,
            f"{self.base}/{path}",
            headers={"Authorization": f"token {token}"},
            data=None if body is None else json.dumps(body),
            timeout=120,
        )
        resp.raise_for_status()
        return resp.json()


def setup_class(stack: CoSimStack, students: int) -> tuple[str, list[tuple[str, str]]]:
    """Instructor and students as hub users with tokens for courses; the course roster."""
    admin = stack.admin_client()
    names = [f"s{i:03d}" for i in range(students)]
    resp = admin.api("POST", "users", json={"usernames": ["prof", *names]})
    assert resp.status_code in (201, 409), resp.text
    roster = {"id": COURSE, "instructors": ["prof"], "students": names}
    assert admin.api("POST", "cosim/courses", json=roster).status_code == 201

    def token(name: str) -> str:
        body = {"scopes": ["custom:cosim-courses:use!user"], "note": "bench"}
        return str(admin.api("POST", f"users/{name}/tokens", json=body).json()["token"])

    return token("prof"), [(n, token(n)) for n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 students instead of 100")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    students = 30 if args.quick else 100
    rng = random.Random(7)
    base = Path(tempfile.mkdtemp(prefix="cosim-bench-courses-"))
    state = make_state_dir("cosim-bench-courses-")
    stack = start_cosim_up(state, account_prefix=f"cb{secrets.token_hex(2)}-")
    try:
        exchange = Exchange(stack)
        prof, class_tokens = setup_class(stack, students)
        assignment = notebook_files(rng, 10)
        shared = base / "shared-exchange"  # nbgrader's exchange: one folder all servers mount

        release_s = timed(lambda: exchange.call("PUT", "hw1", prof, as_body(assignment)))
        copy_release_s = timed(lambda: write(shared / "released" / "hw1", assignment))

        submissions = {name: notebook_files(rng, FILES_PER_SUBMISSION) for name, _ in class_tokens}
        start = time.perf_counter()
        for name, token in class_tokens:
            exchange.call("POST", "hw1/submission", token, as_body(submissions[name]))
        submit_s = time.perf_counter() - start
        for name, files in submissions.items():
            write(shared / "submitted" / "hw1" / name, files)

        home = base / "prof-home"
        home.mkdir()

        def collect() -> None:
            got = exchange.call("GET", "hw1/submissions", prof)
            for name, sub in got["submissions"].items():
                unpack_files(home, home / "collected" / name, sub["files"], overwrite=True)
            assert len(got["submissions"]) == students

        collect_s = timed(collect)
        copy_collect_s = timed(
            lambda: shutil.copytree(shared / "submitted" / "hw1", base / "copied")
        )
    finally:
        stop_cosim_up(stack)
        shutil.rmtree(state.parent, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)

    figures = {
        "release_ratio": round(release_s / copy_release_s, 2),
        "submit_per_s": round(students / submit_s, 1),
        "collect_s": round(collect_s, 3),
        "collect_ratio": round(collect_s / copy_collect_s, 2),
    }
    mib = students * FILES_PER_SUBMISSION * BYTES_PER_FILE / 2**20
    print(f"class: {students} students, {FILES_PER_SUBMISSION} notebooks each ({mib:.1f} MiB)")
    print(f"{'operation':<26}{'exchange':>10}  {'shared folder (nbgrader)':>26}  ratio")
    print(f"{'release (10 notebooks)':<26}{release_s:9.3f}s  {copy_release_s:25.3f}s  "
          f"{figures['release_ratio']}")  # fmt: skip
    print(f"{'collect every student':<26}{collect_s:9.3f}s  {copy_collect_s:25.3f}s  "
          f"{figures['collect_ratio']}")  # fmt: skip
    print(f"submissions accepted: {figures['submit_per_s']} /s (one student after another)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
