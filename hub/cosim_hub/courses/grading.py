"""Autograding with nbgrader, each submission executed in a sandbox.

nbgrader does the grading: its course layout (``source/``, ``release/``, ``submitted/<student>/
<assignment>/``, ``autograded/``, ``feedback/``), ``generate_assignment``, ``autograde`` with its
own anti-tamper step (test and read-only cells are put back from the instructor's source before
anything runs), its gradebook, feedback and CSV export. CoSim replaces one step: nbgrader's
``Execute`` preprocessor becomes :class:`SandboxExecute`, which runs the student's notebook

- as a Unix account of its own (one of a small pool, never the instructor or the hub),
- in a network namespace with no interface up (no network, not even loopback),
- with limits on processes, memory, CPU time, file size and wall time,
- in a fresh folder holding only that submission, removed afterwards (other submissions and the
  gradebook are root's, mode 700).

A submission that loops, forks, fills memory or the disk, or dies, gets its cells that did not run
marked as errors (so their tests score 0) and a message; the next submission is graded as usual.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pwd
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float
from traitlets.config import Config

from ..procs import kill_until_gone
from ..user_limits import processes_of

ACCOUNT_PREFIX_ENV = "COSIM_GRADER_PREFIX"


@dataclass(frozen=True)
class SandboxLimits:
    cell_timeout: int = 60  # seconds per cell
    wall_timeout: int = 300  # seconds for the whole notebook, kernel start included
    memory_bytes: int = 4 << 30  # address space of each process
    processes: int = 64  # per sandbox account (RLIMIT_NPROC counts the account's processes)
    file_bytes: int = 64 << 20  # largest file it may write
    cpu_seconds: int = 600  # CPU time of each process


class GraderAccounts:
    """A pool of unprivileged accounts, one per concurrent grading run, created on first use."""

    def __init__(self, prefix: str, size: int) -> None:
        self.prefix, self.size = prefix, size
        self._free: queue.Queue[pwd.struct_passwd] = queue.Queue()
        self._made = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        with self._lock:
            if self._made:
                return
            for i in range(self.size):
                name = f"{self.prefix}{i}"
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    subprocess.run(
                        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                         "--shell", "/usr/sbin/nologin", "--user-group",
                         "--comment", "CoSim grading sandbox", name],
                        check=True, capture_output=True,
                    )  # fmt: skip
                    entry = pwd.getpwnam(name)
                self._free.put(entry)
            self._made = True

    def stop(self) -> None:
        """Kill whatever every account of the pool still runs."""
        for i in range(self.size):
            with contextlib.suppress(KeyError):
                _kill_account(pwd.getpwnam(f"{self.prefix}{i}").pw_uid)

    @contextlib.contextmanager
    def lease(self) -> Any:
        self._ensure()
        account = self._free.get()
        try:
            yield account
        finally:
            _kill_account(account.pw_uid)  # nothing of a run outlives it (setsid loops too)
            self._free.put(account)


def _kill_account(uid: int) -> None:
    kill_until_gone(lambda: set(processes_of(uid)), timeout=5.0)


def _limit(limits: SandboxLimits) -> Any:
    def apply() -> None:
        os.setsid()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails, it does not kill
        for what, value in (
            (resource.RLIMIT_NPROC, limits.processes),
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(what, (value, value))

    return apply


def run_in_sandbox(
    nb: nbformat.NotebookNode,
    files_from: Path,
    account: pwd.struct_passwd,
    limits: SandboxLimits,
) -> tuple[nbformat.NotebookNode, str]:
    """Execute ``nb`` (with the other files of ``files_from`` beside it) as ``account``; returns
    the executed notebook and a message ("" when it ran to the end)."""
    work = Path(tempfile.mkdtemp(prefix="cosim-grade-"))
    try:
        if files_from.is_dir():
            skip = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints")
            shutil.copytree(files_from, work, dirs_exist_ok=True, symlinks=False, ignore=skip)
        nbformat.write(nb, work / "submission.ipynb")
        for path in [work, *work.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
        os.chmod(work, 0o700)
        env = {
            "HOME": str(work), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "JUPYTER_RUNTIME_DIR": str(work / ".runtime"), "IPYTHONDIR": str(work / ".ipython"),
            "MPLCONFIGDIR": str(work / ".mpl"), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
            "PYTHONDONTWRITEBYTECODE": "1", "NBGRADER_EXECUTION": "autograde",
        }  # fmt: skip
        command = [
            "unshare", "--net", "--fork", "--kill-child", "--",
            "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
            "--clear-groups", "--no-new-privs", "--",
            sys.executable, "-m", "cosim_hub.courses.sandbox_run",
            "submission.ipynb", "executed.ipynb", str(limits.cell_timeout),
        ]  # fmt: skip
        proc = subprocess.Popen(
            command, cwd=work, env=env, preexec_fn=_limit(limits),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True,
        )  # fmt: skip
        message = ""
        try:
            _, err = proc.communicate(timeout=limits.wall_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _kill_account(account.pw_uid)
            proc.communicate()
            message = f"the notebook ran past its {limits.wall_timeout} s limit"
        else:
            if proc.returncode != 0:
                tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                message = f"the grading run failed ({tail[0][:200]})"
        executed = work / "executed.ipynb"
        if not message and executed.is_file():
            return nbformat.read(executed, as_version=4), ""
        message = message or "the grading run wrote no notebook"
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename="NotRun", evalue=message, traceback=[f"NotRun: {message}"]
                )]  # fmt: skip
        return nb, message
    finally:
        _kill_account(account.pw_uid)
        shutil.rmtree(work, ignore_errors=True)


class SandboxExecute(Preprocessor):
    """nbgrader's Execute, run in the sandbox. One grading run at a time per process."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled
    # Set by CourseGrader before each nbgrader run (config would deep-copy the account pool).
    accounts: ClassVar[GraderAccounts | None] = None
    limits: ClassVar[SandboxLimits] = SandboxLimits()
    # What went wrong per "<student>/<assignment>/<notebook>", read after a run (one at a time).
    messages: ClassVar[dict[str, str]] = {}

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        if self.accounts is None:
            raise GradingError("SandboxExecute runs only under CourseGrader")
        with self.accounts.lease() as account:
            executed, message = run_in_sandbox(nb, folder, account, self.limits)
        info = resources.get("nbgrader", {})
        key = f"{info.get('student')}/{info.get('assignment')}/{info.get('notebook')}"
        if message:
            SandboxExecute.messages[key] = message
        return executed, resources


def _late_plugin_base() -> Any:
    from nbgrader.plugins import LateSubmissionPlugin

    return LateSubmissionPlugin


class HourlyLatePenalty(_late_plugin_base()):  # type: ignore[misc]
    """``per_hour`` points off per started hour late, never more than the notebook's score."""

    per_hour = Float(0.0, help="Points taken off per started hour late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, seconds_late: float) -> Any:
        if seconds_late <= 0 or self.per_hour <= 0:
            return None
        hours = -(-seconds_late // 3600)
        return min(score, hours * self.per_hour)


class CourseGrader:
    """One course's nbgrader folder and gradebook, graded with :class:`SandboxExecute`."""

    def __init__(
        self,
        root: Path,
        course_id: str,
        *,
        limits: SandboxLimits | None = None,
        account_prefix: str | None = None,
        concurrency: int = 2,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.course_id = course_id
        prefix = account_prefix or os.environ.get(ACCOUNT_PREFIX_ENV, "cosim-grade")
        self.accounts = GraderAccounts(prefix, concurrency)
        self.limits = limits or SandboxLimits()
        # nbgrader migrates its gradebook by running the `alembic` command by name.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])

    def _api(self, penalty_per_hour: float = 0.0) -> Any:
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.preprocessors import (
            AssignLatePenalties,
            CheckCellMetadata,
            IgnorePattern,
            LimitOutput,
            SaveAutoGrades,
        )

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.course_id = self.course_id
        config.Exchange.root = str(self.root / ".no-exchange")  # CoSim's exchange moves files
        config.Autograde.autograde_preprocessors = [
            SandboxExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
        ]  # fmt: skip
        config.AssignLatePenalties.plugin_class = HourlyLatePenalty
        config.HourlyLatePenalty.per_hour = penalty_per_hour
        SandboxExecute.accounts = self.accounts
        SandboxExecute.limits = self.limits
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    @staticmethod
    def _check(result: dict[str, Any], what: str) -> None:
        if not result.get("success"):
            detail = (result.get("error") or result.get("log") or "").strip().splitlines()
            raise GradingError(f"{what} failed: {detail[-1] if detail else 'no detail'}")

    def generate(self, assignment: str, due: str | None = None) -> Path:
        """``source/<assignment>`` -> ``release/<assignment>`` (solutions and hidden tests out)."""
        self.set_due(assignment, due)
        self._check(
            self._api().generate_assignment(assignment), f"generate_assignment {assignment}"
        )
        return self.root / "release" / assignment

    def submit(self, assignment: str, student: str, files: Path, timestamp: str) -> None:
        """Place a student's submitted folder where nbgrader looks for it."""
        dest = self.root / "submitted" / student / assignment
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(files, dest, symlinks=False)
        (dest / "timestamp.txt").write_text(timestamp)

    def set_due(self, assignment: str, due: str | None) -> None:
        """The deadline nbgrader measures lateness against (``YYYY-MM-DD HH:MM:SS UTC``)."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb:
            gb.update_or_create_assignment(assignment, duedate=due)

    def autograde(
        self, assignment: str, student: str, penalty_per_hour: float = 0.0
    ) -> dict[str, Any]:
        """Grade one submission; returns its scores, lateness and sandbox messages."""
        SandboxExecute.messages = {}
        api = self._api(penalty_per_hour)
        self._check(api.autograde(assignment, student), f"autograde {student}")
        self._check(self._api().generate_feedback(assignment, student), f"feedback for {student}")
        return self.scores(assignment, student) | {"messages": dict(SandboxExecute.messages)}

    def scores(self, assignment: str, student: str) -> dict[str, Any]:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb:
            sub = gb.find_submission(assignment, student)
            cells = {
                grade.name: grade.score for notebook in sub.notebooks for grade in notebook.grades
            }
            penalty = sub.late_submission_penalty or 0.0
            return {
                "student": student, "assignment": assignment,
                "score": max(0.0, sub.score - penalty), "raw_score": sub.score,
                "max_score": sub.max_score, "late": sub.total_seconds_late > 0,
                "seconds_late": sub.total_seconds_late, "cells": cells,
                "penalty": penalty,
            }  # fmt: skip

    def feedback_dir(self, assignment: str, student: str) -> Path:
        return self.root / "feedback" / student / assignment

    def gradebook_rows(self) -> list[dict[str, Any]]:
        """One row per graded submission, laid out as nbgrader's CSV export lays it out."""
        from nbgrader.api import Gradebook, MissingEntry

        rows = []
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb:
            for assignment in gb.assignments:
                for student in gb.students:
                    try:
                        sub = gb.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        continue
                    penalty = sub.late_submission_penalty or 0.0
                    rows.append({
                        "assignment": assignment.name,
                        "duedate": str(assignment.duedate or ""),
                        "timestamp": str(sub.timestamp or ""), "student_id": student.id,
                        "raw_score": sub.score, "late_submission_penalty": penalty,
                        "score": max(0.0, sub.score - penalty), "max_score": sub.max_score,
                    })  # fmt: skip
        return rows

    def gradebook_csv(self, rows: list[dict[str, Any]] | None = None) -> str:
        """The rows (default: the gradebook's) as nbgrader's CSV export."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=GRADEBOOK_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.gradebook_rows() if rows is None else rows)
        return out.getvalue()


GRADEBOOK_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "raw_score",
                     "late_submission_penalty", "score", "max_score"]  # fmt: skip


class GradingError(RuntimeError):
    pass
