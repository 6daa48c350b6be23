"""Autograding with nbgrader, each submission executed in the grading sandbox (:mod:`.sandbox`).

nbgrader does the grading: its course layout (``source/``, ``release/``, ``submitted/<student>/
<assignment>/``, ``autograded/``, ``feedback/``), ``generate_assignment``, ``autograde`` with its
own anti-tamper step (test and read-only cells are put back from the instructor's source before
anything runs), its gradebook, feedback and CSV export. CoSim replaces one step: nbgrader's
``Execute`` preprocessor becomes :class:`SandboxExecute`, which runs the student's notebook in
the sandbox (its own account, PID and network namespaces, limits, a fresh folder).

Several submissions are graded at once, as many as the account pool holds; nbgrader itself runs
one at a time per process (:data:`NBGRADER_TURN`): it changes the working directory and the
environment, logs through one shared logger and writes an sqlite gradebook. A run holds the turn
for nbgrader's own steps (reading and writing the gradebook, anti-tamper, scoring, feedback) and
gives it up while its notebook executes in the sandbox, the slow part.

A submission that loops, forks, fills memory or the disk, or dies, gets its cells that did not run
marked as errors (so their tests score 0) and a message; the others are graded as usual.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import csv
import io
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float
from traitlets.config import Config

from cosim_protocol.formgrader import (
    CHANGED,
    REGRADED,
    SCHEMA_VERSION,
    SNAPSHOT_GRADEBOOK,
    field_of,
)

from .gradeflow import default_pool_size
from .sandbox import GraderAccounts, SandboxLimits, clean_leftovers, run_in_sandbox

__all__ = ["CourseGrader", "GraderAccounts", "GradingError", "ManualGradeError", "SandboxLimits",
           "default_pool_size"]  # fmt: skip

ACCOUNT_PREFIX_ENV = "COSIM_GRADER_PREFIX"
EXECUTION_ENV = "NBGRADER_EXECUTION"  # nbgrader sets it around its execution step


class NbgraderTurn:
    """Lets one thread at a time run nbgrader code; a run gives up its turn while it executes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0  # runs between their start and end, holding the turn or not
        self._home = os.getcwd()
        self._env = os.environ.get(EXECUTION_ENV)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._inside == 0:  # nobody is inside nbgrader: this is the process's own state
                self._home, self._env = os.getcwd(), os.environ.get(EXECUTION_ENV)
            self._inside += 1
            try:
                yield
            finally:
                self._inside -= 1
                # nbgrader restores what it found on entry, which may have been another run's
                # course folder and variable: put the process's own back.
                self._put_back(self._home, self._env)

    @contextlib.contextmanager
    def given_up(self) -> Iterator[None]:
        """Inside :meth:`held`: let other runs use nbgrader until this block ends."""
        cwd, env = os.getcwd(), os.environ.get(EXECUTION_ENV)
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._put_back(cwd, env)  # as nbgrader had set them for this run

    @staticmethod
    def _put_back(cwd: str, env: str | None) -> None:
        with contextlib.suppress(OSError):
            os.chdir(cwd)
        if env is None:
            os.environ.pop(EXECUTION_ENV, None)
        else:
            os.environ[EXECUTION_ENV] = env


NBGRADER_TURN = NbgraderTurn()


@dataclass
class _Run:
    """What one grading run's SandboxExecute needs (nbgrader makes the preprocessor itself)."""

    accounts: GraderAccounts
    limits: SandboxLimits
    messages: dict[str, str] = field(default_factory=dict)


_RUN: contextvars.ContextVar[_Run] = contextvars.ContextVar("cosim_grading_run")


class SandboxExecute(Preprocessor):
    """nbgrader's Execute, run in the sandbox, with nbgrader's turn given up meanwhile."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        run = _RUN.get(None)
        if run is None:
            raise GradingError("SandboxExecute runs only under CourseGrader")
        with NBGRADER_TURN.given_up(), run.accounts.lease() as account:
            executed, message = run_in_sandbox(nb, folder, account, run.limits)
        info = resources.get("nbgrader", {})
        if message:
            run.messages[
                f"{info.get('student')}/{info.get('assignment')}/{info.get('notebook')}"
            ] = message
        return executed, resources


class _TemplateCache(jinja2.BytecodeCache):
    """Compiled feedback templates, kept across runs (nbconvert compiles them for every new
    exporter: about 0.2 s of each feedback otherwise). Jinja checks each template's checksum."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with self._lock:
            code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _TemplateCache()


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (HTML), with its compiled templates cached."""

    def _create_environment(self) -> jinja2.Environment:
        environment: jinja2.Environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment


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
        concurrency: int | None = None,
        accounts: GraderAccounts | None = None,
    ) -> None:
        """``accounts``: a pool shared with other courses' graders (one pool per prefix and
        process, or two runs would share an account); else one of ``concurrency`` accounts
        (default :func:`default_pool_size`) named ``account_prefix`` + number."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.course_id = course_id
        if accounts is None:
            prefix = account_prefix or os.environ.get(ACCOUNT_PREFIX_ENV, "cosim-grade")
            accounts = GraderAccounts(prefix, concurrency or default_pool_size())
            clean_leftovers(prefix)
        self.accounts = accounts
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
        config.GenerateFeedback.exporter_class = FeedbackExporter
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    @staticmethod
    def _check(result: dict[str, Any], what: str) -> None:
        if not result.get("success"):
            detail = (result.get("error") or result.get("log") or "").strip().splitlines()
            raise GradingError(f"{what} failed: {detail[-1] if detail else 'no detail'}")

    def generate(
        self,
        assignment: str,
        due: str | None = None,
        files: dict[PurePosixPath, bytes] | None = None,
    ) -> Path:
        """``source/<assignment>`` -> ``release/<assignment>`` (solutions and hidden tests out).
        With ``files``, they replace ``source/<assignment>`` first, in the same turn: no grading
        run's nbgrader steps see a half-written source."""
        with NBGRADER_TURN.held():
            if files is not None:
                source = self.root / "source" / assignment
                shutil.rmtree(source, ignore_errors=True)
                for rel, data in files.items():
                    dest = source.joinpath(*rel.parts)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(data)
                shutil.rmtree(self.root / "release" / assignment, ignore_errors=True)
            self._set_due(assignment, due)
            result = self._api().generate_assignment(assignment)
        self._check(result, f"generate_assignment {assignment}")
        return self.root / "release" / assignment

    def submit(self, assignment: str, student: str, files: Path, timestamp: str) -> None:
        """Place a student's submitted folder where nbgrader looks for it."""
        dest = self.root / "submitted" / student / assignment
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(files, dest, symlinks=False)
        (dest / "timestamp.txt").write_text(timestamp)

    def set_due(self, assignment: str, due: str | None) -> None:
        """The deadline nbgrader measures lateness against (``YYYY-MM-DD HH:MM:SS UTC``)."""
        with NBGRADER_TURN.held():
            self._set_due(assignment, due)

    def _set_due(self, assignment: str, due: str | None) -> None:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb:
            gb.update_or_create_assignment(assignment, duedate=due)

    def autograde(
        self, assignment: str, student: str, penalty_per_hour: float = 0.0
    ) -> dict[str, Any]:
        """Grade one submission; returns its scores, lateness and sandbox messages. Safe to
        call from several threads: their notebooks execute side by side."""
        run = _Run(self.accounts, self.limits)
        token = _RUN.set(run)
        try:
            with NBGRADER_TURN.held():
                # A new revision before nbgrader touches the submission and another after: a
                # snapshot taken before this run, or while its notebook executed (the turn given
                # up, the gradebook half updated), no longer matches, so manual changes made on
                # it cannot land on this grading unseen.
                self._set_revision(assignment, student)
                try:
                    result = self._api(penalty_per_hour).autograde(assignment, student)
                    self._check(result, f"autograde {student}")
                    result = self._api().generate_feedback(assignment, student)
                    self._check(result, f"feedback for {student}")
                finally:
                    self._set_revision(assignment, student)
                return self._scores(assignment, student) | {"messages": dict(run.messages)}
        finally:
            _RUN.reset(token)

    def feedback(self, assignment: str, student: str) -> Path:
        """Generate a graded submission's feedback again (its scores changed by hand)."""
        with NBGRADER_TURN.held():
            result = self._api().generate_feedback(assignment, student)
        self._check(result, f"feedback for {student}")
        return self.feedback_dir(assignment, student)

    def scores(self, assignment: str, student: str) -> dict[str, Any]:
        with NBGRADER_TURN.held():
            return self._scores(assignment, student)

    def _scores(self, assignment: str, student: str) -> dict[str, Any]:
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

    # -- manual grading on a copy (cosim_protocol.formgrader) -------------------------------------

    @property
    def _version_path(self) -> Path:
        return self.root / "gradebook.version"

    def _version(self) -> int:
        try:
            return int(self._version_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def _bump_version(self) -> int:
        """Under the turn: one more change of the gradebook."""
        version = self._version() + 1
        tmp = self._version_path.with_suffix(".tmp")
        tmp.write_text(str(version))
        tmp.replace(self._version_path)
        return version

    @property
    def _revisions_path(self) -> Path:
        return self.root / "gradebook.revisions.json"

    def _revisions(self) -> dict[str, dict[str, int]]:
        """{assignment: {student: revision}}; a submission graded before revisions existed has
        none (reads as 0)."""
        try:
            return dict(json.loads(self._revisions_path.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def _set_revision(self, assignment: str, student: str) -> None:
        """Under the turn: ``student``'s grading of ``assignment`` changed; its revision is the
        gradebook's next version (so it only grows, even across assignments)."""
        revisions = self._revisions()
        revisions.setdefault(assignment, {})[student] = self._bump_version()
        tmp = self._revisions_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(revisions))
        tmp.replace(self._revisions_path)

    def snapshot(self, assignment: str) -> dict[str, Any]:
        """One assignment's grading state, for formgrader on a copy: its source, autograded
        submissions and a consistent copy of the gradebook (sqlite's backup, taken in
        nbgrader's turn so no run writes meanwhile). Not the feedback: formgrader only writes
        it (generate and release feedback, refused on the copy), and at ~130 KB of HTML a
        notebook it was nearly all of a class's snapshot (200 students x 5 small notebooks:
        167 MiB of JSON with it, 4.2 MiB without)."""
        from nbgrader.api import Gradebook, MissingEntry

        files: dict[str, str] = {}
        with NBGRADER_TURN.held():
            db = self.root / "gradebook.db"
            if not (self.root / "source" / assignment).is_dir() or not db.is_file():
                raise ManualGradeError(404, f"{assignment} is not graded here")
            patterns = [f"source/{assignment}", f"autograded/*/{assignment}"]
            for folder in (f for pattern in patterns for f in sorted(self.root.glob(pattern))):
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        rel = path.relative_to(self.root).as_posix()
                        files[rel] = base64.b64encode(path.read_bytes()).decode()
            with tempfile.TemporaryDirectory(dir=self.root) as tmp:
                copy = Path(tmp) / SNAPSHOT_GRADEBOOK
                with (
                    contextlib.closing(sqlite3.connect(db)) as src,
                    contextlib.closing(sqlite3.connect(copy)) as dst,
                ):
                    src.backup(dst)
                files[SNAPSHOT_GRADEBOOK] = base64.b64encode(copy.read_bytes()).decode()
                # Every submission formgrader lists (a run that failed may have left one
                # without autograded files): each needs a revision to be graded by hand.
                students = {p.parent.name for p in self.root.glob(f"autograded/*/{assignment}")}
                with (
                    contextlib.suppress(MissingEntry),
                    Gradebook(f"sqlite:///{copy}", self.course_id) as gb,
                ):
                    students |= {sub.student.id for sub in gb.assignment_submissions(assignment)}
            version = self._version()
            revisions = self._revisions().get(assignment, {})
        return {"schema": SCHEMA_VERSION, "course": self.course_id, "assignment": assignment,
                "version": version, "files": files,
                "submissions": {s: revisions.get(s, 0) for s in sorted(students)}}  # fmt: skip

    def apply_manual(
        self, assignment: str, changes: list[dict[str, Any]], revisions: dict[str, int]
    ) -> ManualResult:
        """Apply checked manual changes (:func:`cosim_protocol.formgrader.check_manual_changes`)
        made on a snapshot whose submissions had ``revisions``, through nbgrader's gradebook.

        A request that does not fit raises :class:`ManualGradeError` (400) with nothing applied.
        Conflicts are per submission: a student whose submission was autograded since the
        snapshot, or one of whose fields no longer holds its base, keeps every one of its
        changes back (listed in the result); every other student's are applied. Per submission,
        not all or none: one regraded student of a class must not hold back (and, on reopening a
        fresh copy, throw away) the grades of all the others, and a submission is what a
        grader grades as a whole (a score is never applied beside a held-back comment)."""
        from nbgrader.api import Gradebook, MissingEntry

        with (
            NBGRADER_TURN.held(),
            Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb,
        ):
            now = self._revisions().get(assignment, {})
            targets, conflicts, held = [], [], set()
            for i, change in enumerate(changes):
                field = field_of(change)
                value, student = change[field], change["student"]
                where = f"change {i} ({student}/{change['notebook']}/{change['cell']})"
                try:
                    find = gb.find_comment if field == "manual_comment" else gb.find_grade
                    row = find(change["cell"], change["notebook"], assignment, student)
                except MissingEntry:
                    kind = "comment" if field == "manual_comment" else "graded"
                    raise ManualGradeError(400, f"{where}: no such {kind} cell") from None
                if field in ("manual_score", "extra_credit") and value is not None:
                    top = row.max_score if field == "manual_score" else float("inf")
                    if not 0 <= value <= top:
                        raise ManualGradeError(
                            400, f"{where}: {field} {value} is outside 0..{row.max_score}"
                        )
                current = getattr(row, field)
                revision = now.get(student, 0)
                reason = None
                if revision != revisions[student]:
                    reason = REGRADED
                elif current not in (change["base"], value):
                    reason = CHANGED
                if reason:
                    conflicts.append(change | {"current": current, "reason": reason,
                                               "revision": revision})  # fmt: skip
                    held.add(student)
                targets.append((student, row, field, value))
            applied = [(row, field, value) for s, row, field, value in targets if s not in held]
            for row, field, value in applied:
                setattr(row, field, value)
                if field == "manual_score":  # as formgrader does on a manual grade
                    row.needs_manual_grade = value is None and row.auto_score is None
            if applied:
                gb.db.commit()
            version = self._bump_version() if applied else self._version()
        students = sorted({c["student"] for c in changes} - held)
        return ManualResult(version, len(applied), students, conflicts)

    def feedback_dir(self, assignment: str, student: str) -> Path:
        return self.root / "feedback" / student / assignment

    def gradebook_rows(self) -> list[dict[str, Any]]:
        """One row per graded submission, laid out as nbgrader's CSV export lays it out."""
        from nbgrader.api import Gradebook, MissingEntry

        rows = []
        with (
            NBGRADER_TURN.held(),
            Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", self.course_id) as gb,
        ):
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


@dataclass
class ManualResult:
    """What :meth:`CourseGrader.apply_manual` did: the gradebook's version after it, how many
    changes it applied, the students they belong to, and the changes it held back (each with
    ``current``, ``reason`` and ``revision``; empty when all were applied)."""

    version: int
    applied: int
    students: list[str]
    conflicts: list[dict[str, Any]]


class ManualGradeError(GradingError):
    """A snapshot or manual change the exchange refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
