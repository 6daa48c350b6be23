"""Grading inside the course exchange: the exchange's folders mapped to nbgrader's course layout.

Each course keeps one nbgrader course folder, ``<exchange>/<course>/nbgrader/`` (root's, mode 700;
nbgrader's own ``source/``, ``release/``, ``submitted/<student>/<assignment>/``, ``autograded/``,
``feedback/`` and ``gradebook.db``):

- release: a folder whose notebooks carry nbgrader cell metadata goes to ``source/<a>/``;
  nbgrader's ``generate_assignment`` strips solutions and hidden tests, and what students fetch
  is ``release/<a>/``. A folder without nbgrader cells is released as it is and never graded.
- grade: a student's latest submission is copied to ``submitted/<student>/<a>/`` with its
  time in ``timestamp.txt``, autograded in the sandbox (:mod:`.grading`), its feedback generated
  and put where only that student fetches it (``<exchange>/<course>/feedback/<a>/<student>/``),
  and its scores kept in ``<exchange>/<course>/grades/<a>/<student>.json``.

Grading runs on worker threads, so the exchange keeps answering: as many submissions at once as
the sandbox's account pool holds (``c.CoSimCourses.grading_accounts``); nbgrader's own steps and
the gradebook's writes still take turns (:data:`.grading.NBGRADER_TURN`).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tornado.log import app_log

from .policy import AssignmentPolicy, stamp_seconds

if TYPE_CHECKING:
    from .exchange import Exchange
    from .grading import CourseGrader, ManualResult

# nbgrader, nbconvert and nbformat take seconds to import: the exchange must answer the hub's
# start-up check before that, so :mod:`.grading` is imported on first use (or warmed up).

NBGRADER_DIR = "nbgrader"
GRADING_ACCOUNTS_ENV = "COSIM_GRADING_ACCOUNTS"  # c.CoSimCourses.grading_accounts, for the service


def default_pool_size() -> int:
    """As many sandbox accounts as CPUs this process may use, and at least 2."""
    return max(2, len(os.sched_getaffinity(0)))


def grading_pool_size(setting: str) -> int:
    """The pool size a setting asks for: a count, or 0 or nothing for :func:`default_pool_size`."""
    try:
        count = int(setting or 0)
    except ValueError:
        count = 0
    return count if count > 0 else default_pool_size()


def has_nbgrader_cells(files: dict[PurePosixPath, bytes]) -> bool:
    """Whether any notebook among ``files`` was written in nbgrader's format."""
    for rel, data in files.items():
        if rel.suffix != ".ipynb":
            continue
        try:
            nb = json.loads(data)
        except ValueError:
            continue
        cells = nb.get("cells") if isinstance(nb, dict) else None
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict) and "nbgrader" in (cell.get("metadata") or {}):
                return True
    return False


def nbgrader_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _files_of(root: Path) -> dict[PurePosixPath, bytes]:
    return {
        PurePosixPath(p.relative_to(root).as_posix()): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


class _Workers:
    """Daemon threads taking jobs from one queue in order (a thread pool's workers would hold the
    service's exit until a grading run ends; :meth:`GradingFlow.stop` ends the runs instead)."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.Queue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._jobs = queue.Queue()
        for i in range(count):
            threading.Thread(target=self._run, name=f"cosim-grade-{i}", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, fn, args))
        return future

    def _run(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # handed to whoever waits on the future
                future.set_exception(err)


class ReleaseError(ValueError):
    """An nbgrader-format assignment that cannot be generated, with a message for a 400."""


class GradingFlow:
    """Generates releases and autogrades submissions of every course of one exchange."""

    def __init__(
        self,
        exchange: Exchange,
        account_prefix: str,
        cell_timeout: int,
        wall_timeout: int,
        accounts: int = 2,
    ) -> None:
        """``accounts``: size of the sandbox account pool, so how many submissions are graded
        at once (one worker thread per account)."""
        self.exchange = exchange
        self.account_prefix = account_prefix
        self.timeouts = (cell_timeout, wall_timeout)
        self.pool_size = max(1, accounts)
        self._pool: Any = None  # grading.GraderAccounts, made with the first grader
        self._graders: dict[str, CourseGrader] = {}
        self._lock = threading.Lock()
        self._worker = _Workers(self.pool_size)
        self.pending: set[tuple[str, str, str]] = set()
        self._again: set[tuple[str, str, str]] = set()  # resubmitted while being graded

    def warm_up(self) -> None:
        """Import the grading stack on a worker thread, so the first grading starts at once, and
        clear what runs this service was killed in left behind."""
        self._worker.submit(self.accounts)

    def accounts(self) -> Any:
        """The sandbox's account pool (grading.GraderAccounts), one for every course: an account
        runs one submission at a time."""
        from .grading import GraderAccounts
        from .sandbox import clean_leftovers

        with self._lock:
            if self._pool is None:
                self._pool = GraderAccounts(self.account_prefix, self.pool_size)
                clean_leftovers(self.account_prefix)
            return self._pool

    def grader(self, course_id: str) -> CourseGrader:
        from .grading import CourseGrader, SandboxLimits

        pool = self.accounts()
        with self._lock:
            if course_id not in self._graders:
                cell, wall = self.timeouts
                self._graders[course_id] = CourseGrader(
                    self.exchange.root / course_id / NBGRADER_DIR, course_id,
                    limits=SandboxLimits(cell_timeout=cell, wall_timeout=wall),
                    accounts=pool,
                )  # fmt: skip
            return self._graders[course_id]

    def result_path(self, course_id: str, assignment: str, student: str) -> Path:
        return self.exchange.root / course_id / "grades" / assignment / f"{student}.json"

    def result(self, course_id: str, assignment: str, student: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.result_path(course_id, assignment, student).read_text()))
        except (FileNotFoundError, ValueError):
            return None

    # -- release --------------------------------------------------------------------------------

    async def generate(
        self, course_id: str, assignment: str, files: dict[PurePosixPath, bytes], due: float | None
    ) -> dict[PurePosixPath, bytes]:
        """The student version of an nbgrader-format assignment (raises ReleaseError)."""
        future = self._worker.submit(self._generate, course_id, assignment, files, due)
        files_out: dict[PurePosixPath, bytes] = await asyncio.wrap_future(future)
        return files_out

    def _generate(
        self, course_id: str, assignment: str, files: dict[PurePosixPath, bytes], due: float | None
    ) -> dict[PurePosixPath, bytes]:
        import nbformat

        from .grading import GradingError

        grader = self.grader(course_id)
        for rel, data in files.items():
            if rel.suffix == ".ipynb":
                try:
                    if "nbformat" not in json.loads(data):  # nbformat would take it as v1
                        raise ValueError("it has no nbformat version")
                    nbformat.validate(nbformat.reads(data.decode(), as_version=4))
                except Exception as err:  # nbformat raises many kinds for a broken file
                    raise ReleaseError(f"{rel} is not a valid notebook: {str(err)[:200]}") from None
        try:
            release = grader.generate(assignment, nbgrader_time(due), files)
        except GradingError as err:
            raise ReleaseError(str(err)) from None
        return _files_of(release)

    async def set_due(self, course_id: str, assignment: str, due: float | None) -> None:
        """Off the event loop: the gradebook waits for nbgrader's turn (see grading)."""

        def write() -> None:
            self.grader(course_id).set_due(assignment, nbgrader_time(due))

        await asyncio.get_running_loop().run_in_executor(None, write)

    # -- grading ------------------------------------------------------------------------------

    def schedule(self, course_id: str, assignment: str, student: str) -> bool:
        """Queue the grading of a student's latest submission; False if it is queued already."""
        key = (course_id, assignment, student)
        with self._lock:
            if key in self.pending:
                self._again.add(key)  # a run already started may have missed this submission
                return False
            self.pending.add(key)
        future = self._worker.submit(self._grade, course_id, assignment, student)
        future.add_done_callback(lambda _: self._graded(key))
        return True

    def _graded(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self.pending.discard(key)
            again = key in self._again
            self._again.discard(key)
        latest = self.exchange.latest_submission(*key) if again else None
        result = self.result(*key) if latest else None
        if latest and (result is None or result.get("submission") != latest.name):
            self.schedule(*key)

    def _grade(self, course_id: str, assignment: str, student: str) -> None:
        from .grading import GradingError

        latest = self.exchange.latest_submission(course_id, assignment, student)
        if latest is None:
            return
        policy = AssignmentPolicy.from_meta(self.exchange.meta(course_id, assignment))
        submitted_at = stamp_seconds(latest.name)
        record: dict[str, Any] = {
            "student": student, "assignment": assignment, "submission": latest.name,
            "late": policy.is_late(submitted_at), "graded_at": time.time(),
        }  # fmt: skip
        grader = self.grader(course_id)
        try:
            grader.set_due(assignment, nbgrader_time(policy.due))
            grader.submit(assignment, student, latest, nbgrader_time(submitted_at) or "")
            penalty = policy.penalty_per_hour if policy.late_policy == "penalty" else 0.0
            scores = grader.autograde(assignment, student, penalty)
            record |= {k: scores[k] for k in ("score", "raw_score", "max_score", "penalty")}
            record |= {"cells": scores["cells"], "messages": scores["messages"], "status": "graded"}
            feedback = grader.feedback_dir(assignment, student)
            if feedback.is_dir():
                from .exchange import write_tree

                write_tree(
                    self.exchange.feedback(course_id, assignment, student), _files_of(feedback)
                )
        except GradingError as err:
            record |= {"status": "failed", "error": str(err)[:500]}
        except Exception:  # one broken run must not stop the others
            app_log.exception("grading %s/%s/%s failed", course_id, assignment, student)
            record |= {"status": "failed", "error": "grading failed; see the hub log"}
        self._write_result(course_id, assignment, student, record)
        app_log.info("graded %s/%s/%s: %s", course_id, assignment, student, record.get("status"))

    def _write_result(
        self, course_id: str, assignment: str, student: str, record: dict[str, Any]
    ) -> None:
        path = self.result_path(course_id, assignment, student)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)

    def _refeedback(self, course_id: str, assignment: str, student: str) -> None:
        from .exchange import write_tree

        try:
            folder = self.grader(course_id).feedback(assignment, student)
            write_tree(self.exchange.feedback(course_id, assignment, student), _files_of(folder))
        except Exception:  # the scores stand; only the feedback file is behind
            app_log.exception("feedback for %s/%s/%s failed", course_id, assignment, student)

    # -- manual grading (formgrader on a copy; cosim_protocol.formgrader) -------------------------

    async def snapshot(self, course_id: str, assignment: str) -> dict[str, Any]:
        """One assignment's grading state and gradebook copy (raises grading.ManualGradeError)."""
        grader = self.grader(course_id)
        loop = asyncio.get_running_loop()
        snap: dict[str, Any] = await loop.run_in_executor(None, grader.snapshot, assignment)
        return snap

    async def apply_manual(
        self,
        course_id: str,
        assignment: str,
        changes: list[dict[str, Any]],
        revisions: dict[str, int],
    ) -> ManualResult:
        """Apply manual changes made on a snapshot with ``revisions`` (per submission: see
        :meth:`.grading.CourseGrader.apply_manual`) and bring the scores of the students they
        changed, as the Courses panel shows them, up to date."""

        def apply() -> ManualResult:
            grader = self.grader(course_id)
            result = grader.apply_manual(assignment, changes, revisions)
            for student in result.students:
                record = self.result(course_id, assignment, student)
                if record is None or record.get("status") != "graded":
                    continue
                scores = grader.scores(assignment, student)
                record |= {k: scores[k] for k in ("score", "raw_score", "max_score", "penalty")}
                record |= {"cells": scores["cells"], "manually_graded": True}
                self._write_result(course_id, assignment, student, record)
                # The student's feedback says the new scores too; on the queue, not in this
                # request (a whole class's feedback takes a while).
                self._worker.submit(self._refeedback, course_id, assignment, student)
            return result

        return await asyncio.get_running_loop().run_in_executor(None, apply)

    def status(self, course_id: str, assignment: str, student: str) -> dict[str, Any]:
        """What one student's row says: fetched, submitted, late, grading, graded, score."""
        ex = self.exchange
        latest = ex.latest_submission(course_id, assignment, student)
        policy = AssignmentPolicy.from_meta(ex.meta(course_id, assignment))
        row: dict[str, Any] = {
            "student": student,
            "fetched": ex.fetched_marker(course_id, assignment, student).exists(),
            "submitted": latest is not None,
            "submitted_at": stamp_seconds(latest.name) if latest else None,
            "late": bool(latest and policy.is_late(stamp_seconds(latest.name))),
            "grading": (course_id, assignment, student) in self.pending,
            "returned": ex.feedback(course_id, assignment, student).is_dir(),
        }
        result = self.result(course_id, assignment, student)
        if result and latest and result.get("submission") == latest.name:
            row["graded"] = result.get("status") == "graded"
            for key in ("score", "max_score", "penalty", "error", "messages"):
                if key in result:
                    row[key] = result[key]
        else:
            row["graded"] = False
        return row

    async def gradebook(self, course_id: str) -> tuple[list[dict[str, Any]], str]:
        """nbgrader's gradebook rows and CSV, read off the event loop (not behind the queue)."""

        def read() -> tuple[list[dict[str, Any]], str]:
            grader = self.grader(course_id)
            rows = grader.gradebook_rows()
            return rows, grader.gradebook_csv(rows)

        return await asyncio.get_running_loop().run_in_executor(None, read)

    def stop(self) -> None:
        """End what the sandbox accounts still run (the service is exiting mid-grading)."""
        if self._pool is not None:
            self._pool.stop()
