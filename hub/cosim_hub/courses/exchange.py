"""The course exchange: a hub-managed service that holds released, submitted and returned files.

It replaces nbgrader's shared exchange directory, so user servers (pods on Kubernetes) share no
filesystem: each server talks to this service over HTTP with its own hub token. What a caller
may do follows from the token's scopes: ``custom:cosim-courses:teach!group=course-<id>-students``
(staff of course <id>) or ``...:learn!group=...`` (student). A student only ever reads and writes
under their own name; nothing takes another student's name from a student.

Layout under the exchange dir: ``<course>/released/<assignment>/files...`` (+ ``.json`` meta),
``<course>/submitted/<assignment>/<student>/<stamp>/files...``,
``<course>/feedback/<assignment>/<student>/files...``.

API (under ``$JUPYTERHUB_SERVICE_PREFIX/api``), files travel as ``{"files": {path: base64}}``:
  GET  courses                                    courses of the caller and their role
  GET  courses/<c>/assignments                    released assignments (+ submissions for staff)
  PUT  courses/<c>/assignments/<a>                release (staff)
  GET  courses/<c>/assignments/<a>                released files
  POST courses/<c>/assignments/<a>/submission     submit (student)
  GET  courses/<c>/assignments/<a>/submissions    latest submission of every student (staff)
  PUT  courses/<c>/assignments/<a>/feedback/<s>   return feedback to student s (staff)
  GET  courses/<c>/assignments/<a>/feedback       the caller's own feedback (student)
  PUT  courses/<c>/assignments/<a>/settings       deadline, late policy, instant feedback (staff)
  POST courses/<c>/assignments/<a>/grade          autograde every latest submission (staff)
  GET  courses/<c>/gradebook                      scores and status of every student (staff)
  GET  courses/<c>/grading/<a>/snapshot           grading state + gradebook copy (staff)
  POST courses/<c>/grading/<a>/manual             manual scores/comments, checked (staff)

Manual grading (formgrader on a copy of the state, changes sent back) follows
:mod:`cosim_protocol.formgrader`.

Grading (nbgrader in a sandbox) is :mod:`.gradeflow`; deadlines and late policies :mod:`.policy`.
A student's view of an assignment holds their own status, score and feedback, never another's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from jupyterhub.services.auth import HubAuth
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.log import app_log, enable_pretty_logging

from cosim_protocol.formgrader import (
    ManualChangeError,
    check_manual_changes,
    check_revisions,
    conflict_message,
)
from cosim_protocol.limits import (
    EXCHANGE_FILE_NAME_MAX,
    EXCHANGE_MAX_BYTES_PER_STUDENT,
    EXCHANGE_MAX_FILES_PER_STUDENT,
    EXCHANGE_NAME_MAX,
    EXCHANGE_PATH_MAX,
    EXCHANGE_RESERVED_SUFFIXES,
)

from .gradeflow import (
    GRADING_ACCOUNTS_ENV,
    GradingFlow,
    ReleaseError,
    grading_pool_size,
    has_nbgrader_cells,
)
from .model import (
    LEARN_SCOPE,
    TEACH_SCOPE,
    USE_SCOPE,
    Course,
    courses_in_scopes,
    holds_for_user,
)
from .policy import AssignmentPolicy, PolicyError, stamp_now
from .store import CourseStore

ASSIGNMENT_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{EXCHANGE_NAME_MAX - 1}}}$")
MAX_FILES = 500


class ExchangeError(web.HTTPError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, log_message=message)


def _checked_rel(path: Any) -> PurePosixPath:
    """A relative path with no '..', no absolute part, no hidden control characters."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise ExchangeError(400, f"bad file path: {path!r}")
    rel = PurePosixPath(path)
    if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts):
        raise ExchangeError(400, f"file path must stay inside the assignment: {path!r}")
    if len(path.encode()) > EXCHANGE_PATH_MAX or any(
        len(part.encode()) > EXCHANGE_FILE_NAME_MAX for part in rel.parts
    ):
        raise ExchangeError(
            400,
            f"file path too long: at most {EXCHANGE_FILE_NAME_MAX} bytes per name and "
            f"{EXCHANGE_PATH_MAX} in all ({path[:40]!r}...)",
        )
    return rel


def check_assignment_name(assignment: str) -> str:
    """An assignment name that is a safe folder name and no file of the exchange's own."""
    if not ASSIGNMENT_ID.match(assignment):
        raise ExchangeError(
            400,
            f"bad assignment name: {assignment[:100]!r} (1-{EXCHANGE_NAME_MAX} of "
            "A-Z a-z 0-9 . _ -, starting with a letter or digit)",
        )
    if assignment.lower().endswith(EXCHANGE_RESERVED_SUFFIXES):
        raise ExchangeError(
            400,
            f"bad assignment name: {assignment!r} ends in one of "
            f"{', '.join(EXCHANGE_RESERVED_SUFFIXES)}, which the exchange keeps for itself",
        )
    return assignment


def decode_files(body: Any, max_bytes: int) -> dict[PurePosixPath, bytes]:
    if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
        raise ExchangeError(400, 'body must be {"files": {"path": "<base64>", ...}}')
    files = body["files"]
    if not files:
        raise ExchangeError(400, "no files given")
    if len(files) > MAX_FILES:
        raise ExchangeError(413, f"at most {MAX_FILES} files per transfer")
    out: dict[PurePosixPath, bytes] = {}
    total = 0
    for path, data in files.items():
        rel = _checked_rel(path)
        if not isinstance(data, str):
            raise ExchangeError(400, f"content of {path!r} must be base64 text")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ExchangeError(400, f"content of {path!r} is not valid base64") from None
        total += len(raw)
        if total > max_bytes:
            raise ExchangeError(413, f"transfer larger than {max_bytes // 2**20} MiB")
        out[rel] = raw
    return out


def write_tree(target: Path, files: dict[PurePosixPath, bytes]) -> None:
    """Write ``files`` as a new directory ``target``, replacing an old one only when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".incoming-"))
    try:
        for rel, data in files.items():
            dest = staging.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        old = target.with_name(f".old-{target.name}-{time.time_ns()}")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_tree(root: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(root).as_posix()
            files[rel] = base64.b64encode(path.read_bytes()).decode()
    return files


class Exchange:
    """Files of every course on disk; all paths are built from checked ids."""

    def __init__(
        self,
        root: Path,
        store: CourseStore,
        max_bytes: int,
        max_student_bytes: int = EXCHANGE_MAX_BYTES_PER_STUDENT,
        max_student_files: int = EXCHANGE_MAX_FILES_PER_STUDENT,
    ) -> None:
        self.root = root
        self.store = store
        self.max_bytes = max_bytes
        self.max_student_bytes = max_student_bytes
        self.max_student_files = max_student_files
        self.grading: GradingFlow | None = None
        self.no_grading_reason = "grading is turned off on this hub (COSIM_GRADING=0)"

    def course(self, course_id: str) -> Course:
        course = self.store.load().get(course_id)
        if course is None:
            raise ExchangeError(404, f"no course {course_id}")
        return course

    def released(self, course_id: str, assignment: str) -> Path:
        return self.root / course_id / "released" / assignment

    def submissions(self, course_id: str, assignment: str) -> Path:
        return self.root / course_id / "submitted" / assignment

    def feedback(self, course_id: str, assignment: str, student: str) -> Path:
        return self.root / course_id / "feedback" / assignment / student

    def meta_path(self, course_id: str, assignment: str) -> Path:
        return self.root / course_id / "released" / f"{assignment}.json"

    def meta(self, course_id: str, assignment: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self.meta_path(course_id, assignment).read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def write_meta(self, course_id: str, assignment: str, meta: dict[str, Any]) -> None:
        path = self.meta_path(course_id, assignment)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(path)

    def fetched_marker(self, course_id: str, assignment: str, student: str) -> Path:
        return self.root / course_id / "fetched" / assignment / student

    def assignments(self, course_id: str) -> list[dict[str, Any]]:
        base = self.root / course_id / "released"
        found = []
        for meta in sorted(base.glob("*.json")) if base.is_dir() else []:
            try:
                found.append(json.loads(meta.read_text()))
            except ValueError:
                continue
        return found

    def student_usage(self, course_id: str, student: str) -> tuple[int, int]:
        """(files, bytes) the exchange keeps of ``student``'s submissions in a course."""
        count = size = 0
        for folder in (self.root / course_id / "submitted").glob(f"*/{student}"):
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    count += 1
                    size += path.stat().st_size
        return count, size

    def check_student_quota(
        self, course_id: str, student: str, files: dict[PurePosixPath, bytes]
    ) -> None:
        """413 when keeping ``files`` would take ``student`` past their quota in the course."""
        count, size = self.student_usage(course_id, student)
        new_count, new_size = count + len(files), size + sum(map(len, files.values()))
        if new_count > self.max_student_files or new_size > self.max_student_bytes:
            raise ExchangeError(
                413,
                f"submission quota reached: you keep {count} files, {size / 2**20:.1f} MiB in "
                f"this course (at most {self.max_student_files} files, "
                f"{self.max_student_bytes / 2**20:.0f} MiB); ask your instructor",
            )

    def latest_submission(self, course_id: str, assignment: str, student: str) -> Path | None:
        folder = self.submissions(course_id, assignment) / student
        stamps = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return stamps[-1] if stamps else None


class ExchangeHandler(web.RequestHandler):
    """Every request: who is calling (hub token), and which courses they teach or learn."""

    @property
    def exchange(self) -> Exchange:
        return self.settings["exchange"]

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    async def prepare(self) -> None:
        token = self.hub_auth.get_token(self, in_cookie=False)
        model = await self.hub_auth.user_for_token(token, sync=False) if token else None
        if not model or model.get("kind", "user") != "user":
            raise ExchangeError(403, "a user's hub token is required")
        self.caller: str = model["name"]
        scopes = list(model.get("scopes") or [])
        # The roster says who is staff or student; the token must also be one meant for courses:
        # the user's own kind (USE_SCOPE, which servers' tokens carry) or one scoped to a course.
        self.any_course = holds_for_user(scopes, USE_SCOPE, self.caller)
        self.teaches = courses_in_scopes(scopes, TEACH_SCOPE)
        self.learns = courses_in_scopes(scopes, LEARN_SCOPE)

    def _may(self, granted: set[str] | None, course_id: str) -> bool:
        return self.any_course or granted is None or course_id in granted

    def staff_course(self, course_id: str) -> Course:
        course = self.exchange.course(course_id)
        if not self._may(self.teaches, course_id) or self.caller not in course.staff:
            raise ExchangeError(403, f"{self.caller} does not teach {course_id}")
        return course

    def student_course(self, course_id: str) -> Course:
        course = self.exchange.course(course_id)
        if not self._may(self.learns, course_id) or self.caller not in course.students:
            raise ExchangeError(403, f"{self.caller} is not a student of {course_id}")
        return course

    def member_course(self, course_id: str) -> Course:
        course = self.exchange.course(course_id)
        if self.caller in course.staff and self._may(self.teaches, course_id):
            return course
        return self.student_course(course_id)

    def json_body(self) -> Any:
        if len(self.request.body) > self.exchange.max_bytes * 2:
            raise ExchangeError(413, "request too large")
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            raise ExchangeError(400, "request body must be JSON") from None

    def check_assignment(self, assignment: str) -> str:
        return check_assignment_name(assignment)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if not isinstance(exc, web.HTTPError):
            message = "internal error in the course exchange; see the hub log"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))


class CoursesHandler(ExchangeHandler):
    def get(self) -> None:
        out = []
        for course in self.exchange.store.load().values():
            role = course.role_of(self.caller)
            teaching = role in ("instructor", "ta") and self._may(self.teaches, course.id)
            learning = role == "student" and self._may(self.learns, course.id)
            if teaching or learning:
                out.append({"id": course.id, "title": course.title, "role": role})
        self.write({"courses": out})


def student_rows(exchange: Exchange, course_id: str, assignment: str, names: list[str]) -> Any:
    """Status rows (fetched, submitted, late, graded, score) of ``names`` for one assignment."""
    flow = exchange.grading
    if flow is None:
        return []
    return [flow.status(course_id, assignment, name) for name in names]


class AssignmentListHandler(ExchangeHandler):
    def get(self, course_id: str) -> None:
        course = self.member_course(course_id)
        items = self.exchange.assignments(course_id)
        staff = self.caller in course.staff and self._may(self.teaches, course_id)
        for item in items:
            # A student's view carries their own name only: never a classmate's status or score.
            names = course.students if staff else [self.caller]
            item["submitted"] = sorted(
                s for s in names if self.exchange.latest_submission(course_id, item["name"], s)
            )
            item["returned"] = sorted(
                s for s in names if self.exchange.feedback(course_id, item["name"], s).is_dir()
            )
            item["students"] = student_rows(self.exchange, course_id, item["name"], names)
        self.write({"assignments": items, "role": course.role_of(self.caller)})


def policy_from(body: Any, base: AssignmentPolicy | None = None) -> AssignmentPolicy:
    if not isinstance(body, dict):
        raise ExchangeError(400, "body must be a JSON object")
    try:
        policy: AssignmentPolicy = AssignmentPolicy.from_request(body, base)
    except PolicyError as err:
        raise ExchangeError(400, str(err)) from None
    return policy


class AssignmentHandler(ExchangeHandler):
    async def put(self, course_id: str, assignment: str) -> None:
        self.staff_course(course_id)
        self.check_assignment(assignment)
        body = self.json_body()
        files = decode_files(body, self.exchange.max_bytes)
        old = self.exchange.meta(course_id, assignment)
        policy = policy_from(body, AssignmentPolicy.from_meta(old) if old else None)
        graded = has_nbgrader_cells(files)
        if graded and self.exchange.grading is None:  # never hand out the solutions instead
            raise ExchangeError(
                503, f"{assignment} is in nbgrader's format, but {self.exchange.no_grading_reason}"
            )
        if graded:
            assert self.exchange.grading is not None
            try:  # students get nbgrader's release: no solutions, no hidden tests
                files = await self.exchange.grading.generate(
                    course_id, assignment, files, policy.due
                )
            except ReleaseError as err:
                raise ExchangeError(400, f"cannot release {assignment}: {err}") from None
        target = self.exchange.released(course_id, assignment)
        write_tree(target, files)
        meta = {
            "name": assignment,
            "released_at": time.time(),
            "released_by": self.caller,
            "files": sorted(str(p) for p in files),
            "autograded": graded,
            **policy.to_meta(),
        }
        self.exchange.write_meta(course_id, assignment, meta)
        app_log.info("%s released %s/%s (%d files)", self.caller, course_id, assignment, len(files))
        self.write(meta)

    def get(self, course_id: str, assignment: str) -> None:
        course = self.member_course(course_id)
        folder = self.exchange.released(course_id, self.check_assignment(assignment))
        if not folder.is_dir():
            raise ExchangeError(404, f"assignment {assignment} is not released")
        if self.caller not in course.staff:  # the instructor's status table shows who fetched
            marker = self.exchange.fetched_marker(course_id, assignment, self.caller)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        self.write({"name": assignment, "files": read_tree(folder)})


class SubmissionHandler(ExchangeHandler):
    def post(self, course_id: str, assignment: str) -> None:
        self.student_course(course_id)
        self.check_assignment(assignment)
        if not self.exchange.released(course_id, assignment).is_dir():
            raise ExchangeError(404, f"assignment {assignment} is not released")
        files = decode_files(self.json_body(), self.exchange.max_bytes)
        meta = self.exchange.meta(course_id, assignment)
        policy = AssignmentPolicy.from_meta(meta)
        now = time.time()
        earlier = self.exchange.latest_submission(course_id, assignment, self.caller)
        refusal = policy.refusal(now, earlier.name if earlier else None)
        if refusal:
            raise ExchangeError(409, refusal)
        self.exchange.check_student_quota(course_id, self.caller, files)
        stamp = stamp_now()
        folder = self.exchange.submissions(course_id, assignment) / self.caller / stamp
        write_tree(folder, files)
        late = policy.is_late(now)
        app_log.info("%s submitted %s/%s%s", self.caller, course_id, assignment,
                     " (late)" if late else "")  # fmt: skip
        grading = False
        if meta.get("autograded") and policy.instant_feedback and self.exchange.grading:
            grading = self.exchange.grading.schedule(course_id, assignment, self.caller)
        self.write({"name": assignment, "student": self.caller, "submitted_at": stamp,
                    "late": late, "grading": grading})  # fmt: skip


class SubmissionsHandler(ExchangeHandler):
    def get(self, course_id: str, assignment: str) -> None:
        course = self.staff_course(course_id)
        self.check_assignment(assignment)
        out = {}
        for student in course.students:
            latest = self.exchange.latest_submission(course_id, assignment, student)
            if latest is not None:
                out[student] = {"submitted_at": latest.name, "files": read_tree(latest)}
        self.write({"name": assignment, "submissions": out})


class FeedbackReturnHandler(ExchangeHandler):
    def put(self, course_id: str, assignment: str, student: str) -> None:
        course = self.staff_course(course_id)
        self.check_assignment(assignment)
        if student not in course.students:
            raise ExchangeError(404, f"{student} is not a student of {course_id}")
        files = decode_files(self.json_body(), self.exchange.max_bytes)
        write_tree(self.exchange.feedback(course_id, assignment, student), files)
        app_log.info("%s returned %s/%s to %s", self.caller, course_id, assignment, student)
        self.write({"name": assignment, "student": student, "files": sorted(map(str, files))})


class FeedbackFetchHandler(ExchangeHandler):
    def get(self, course_id: str, assignment: str) -> None:
        self.student_course(course_id)
        folder = self.exchange.feedback(course_id, self.check_assignment(assignment), self.caller)
        if not folder.is_dir():
            raise ExchangeError(404, f"no feedback on {assignment} yet")
        self.write({"name": assignment, "files": read_tree(folder)})


class SettingsHandler(ExchangeHandler):
    async def put(self, course_id: str, assignment: str) -> None:
        self.staff_course(course_id)
        self.check_assignment(assignment)
        meta = self.exchange.meta(course_id, assignment)
        if not meta:
            raise ExchangeError(404, f"assignment {assignment} is not released")
        policy = policy_from(self.json_body(), AssignmentPolicy.from_meta(meta))
        meta |= policy.to_meta()
        if meta.get("autograded") and self.exchange.grading is not None:
            await self.exchange.grading.set_due(course_id, assignment, policy.due)
        self.exchange.write_meta(course_id, assignment, meta)
        app_log.info("%s set %s/%s: %s", self.caller, course_id, assignment, policy.to_meta())
        self.write(meta)


class GradeHandler(ExchangeHandler):
    def post(self, course_id: str, assignment: str) -> None:
        course = self.staff_course(course_id)
        self.check_assignment(assignment)
        meta = self.exchange.meta(course_id, assignment)
        if not meta:
            raise ExchangeError(404, f"assignment {assignment} is not released")
        flow = self.exchange.grading
        if flow is None or not meta.get("autograded"):
            self.write({"name": assignment, "autograded": False, "queued": []})
            return
        queued = []
        for student in course.students:
            latest = self.exchange.latest_submission(course_id, assignment, student)
            done = flow.result(course_id, assignment, student)
            if latest is None or (done and done.get("submission") == latest.name):
                continue  # nothing new to grade
            if flow.schedule(course_id, assignment, student):
                queued.append(student)
        app_log.info("%s queued %s/%s for grading: %s", self.caller, course_id, assignment, queued)
        self.write({"name": assignment, "autograded": True, "queued": queued})


class GradebookHandler(ExchangeHandler):
    """Every student's scores and status in a course, and nbgrader's CSV of the scores."""

    async def get(self, course_id: str) -> None:
        course = self.staff_course(course_id)
        assignments = self.exchange.assignments(course_id)
        flow = self.exchange.grading
        rows, csv_text = await flow.gradebook(course_id) if flow else ([], "")
        self.write({
            "course": course_id,
            "students": course.students,
            "assignments": [
                {k: a.get(k) for k in ("name", "due", "late_policy", "autograded")}
                | {"students": student_rows(self.exchange, course_id, a["name"], course.students)}
                for a in assignments
            ],
            "rows": rows,
            "csv": csv_text,
        })  # fmt: skip


class ManualGradingHandler(ExchangeHandler):
    """formgrader on a copy: the snapshot it grades on, and the manual changes it sends back."""

    def flow(self, course_id: str, assignment: str) -> GradingFlow:
        self.staff_course(course_id)
        self.check_assignment(assignment)
        flow = self.exchange.grading
        if flow is None:
            raise ExchangeError(503, self.exchange.no_grading_reason)
        if not self.exchange.meta(course_id, assignment).get("autograded"):
            raise ExchangeError(404, f"{assignment} is not an nbgrader assignment of {course_id}")
        return flow

    async def get(self, course_id: str, assignment: str, action: str) -> None:
        if action != "snapshot":
            raise ExchangeError(405, f"GET of {action} is not allowed")
        flow = self.flow(course_id, assignment)
        from .grading import ManualGradeError

        try:
            self.write(await flow.snapshot(course_id, assignment))
        except ManualGradeError as err:
            raise ExchangeError(err.status, str(err)) from None

    async def post(self, course_id: str, assignment: str, action: str) -> None:
        if action != "manual":
            raise ExchangeError(405, f"POST to {action} is not allowed")
        flow = self.flow(course_id, assignment)
        body = self.json_body()
        try:
            changes = check_manual_changes(body)
            revisions = check_revisions(body, changes)
        except ManualChangeError as err:
            raise ExchangeError(400, str(err)) from None
        from .grading import ManualGradeError

        try:
            result = await flow.apply_manual(course_id, assignment, changes, revisions)
        except ManualGradeError as err:
            raise ExchangeError(err.status, str(err)) from None
        app_log.info("%s graded %s/%s by hand (%d of %d changes)", self.caller, course_id,
                     assignment, result.applied, len(changes))  # fmt: skip
        answer: dict[str, Any] = {"version": result.version, "applied": result.applied}
        if result.conflicts:
            self.set_status(409)
            answer["message"] = conflict_message(result.conflicts, result.applied, len(changes))
            answer["conflicts"] = result.conflicts
        self.write(answer)


def make_app(prefix: str, exchange: Exchange, hub_auth: HubAuth) -> web.Application:
    api = prefix.rstrip("/") + "/api"
    course = r"/courses/([a-z0-9][a-z0-9-]*)"
    part = r"([^/]+)"
    return web.Application(
        [
            (api + r"/courses/?", CoursesHandler),
            (api + course + r"/assignments/?", AssignmentListHandler),
            (api + course + rf"/assignments/{part}/?", AssignmentHandler),
            (api + course + rf"/assignments/{part}/submission", SubmissionHandler),
            (api + course + rf"/assignments/{part}/submissions", SubmissionsHandler),
            (api + course + rf"/assignments/{part}/feedback/{part}", FeedbackReturnHandler),
            (api + course + rf"/assignments/{part}/feedback", FeedbackFetchHandler),
            (api + course + rf"/assignments/{part}/settings", SettingsHandler),
            (api + course + rf"/assignments/{part}/grade", GradeHandler),
            (api + course + r"/gradebook", GradebookHandler),
            (api + course + rf"/grading/{part}/(snapshot|manual)", ManualGradingHandler),
        ],
        exchange=exchange,
        hub_auth=hub_auth,
    )


async def _serve() -> None:
    enable_pretty_logging()
    url = os.environ["JUPYTERHUB_SERVICE_URL"]
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/cosim-courses/")
    root = Path(os.environ["COSIM_EXCHANGE_DIR"])
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    max_bytes = int(float(os.environ.get("COSIM_EXCHANGE_MAX_MB", "50")) * 2**20)
    student_mb = os.environ.get("COSIM_EXCHANGE_STUDENT_MAX_MB")
    student_files = os.environ.get("COSIM_EXCHANGE_STUDENT_MAX_FILES")
    exchange = Exchange(
        root,
        CourseStore(os.environ["COSIM_COURSES_FILE"]),
        max_bytes,
        int(float(student_mb) * 2**20) if student_mb else EXCHANGE_MAX_BYTES_PER_STUDENT,
        int(student_files) if student_files else EXCHANGE_MAX_FILES_PER_STUDENT,
    )
    if importlib.util.find_spec("nbgrader") is None:
        exchange.no_grading_reason = (
            "nbgrader is not installed where the exchange runs (install cosim[user] there)"
        )
    elif os.environ.get("COSIM_GRADING", "1") != "0":
        exchange.grading = GradingFlow(
            exchange,
            os.environ.get("COSIM_GRADER_PREFIX", "cosim-grade-"),
            cell_timeout=int(os.environ.get("COSIM_GRADING_CELL_TIMEOUT", "60")),
            wall_timeout=int(os.environ.get("COSIM_GRADING_WALL_TIMEOUT", "300")),
            accounts=grading_pool_size(os.environ.get(GRADING_ACCOUNTS_ENV, "0")),
        )
    # Short cache: a course change (or a revoked token) takes effect within seconds.
    hub_auth = HubAuth(cache_max_age=5)
    app = make_app(prefix, exchange, hub_auth)
    from urllib.parse import urlparse

    parsed = urlparse(url)
    server = HTTPServer(app, max_body_size=max_bytes * 2 + 2**20)
    bind = os.environ.get("COSIM_EXCHANGE_BIND") or parsed.hostname or "127.0.0.1"
    server.listen(parsed.port or 80, bind)
    app_log.info("CoSim course exchange on %s (files in %s)", url, root)
    if exchange.grading is not None:
        exchange.grading.warm_up()
    try:
        await asyncio.Event().wait()
    finally:
        if exchange.grading is not None:
            exchange.grading.stop()


def main() -> None:
    # The hub stops its services with SIGTERM (or SIGINT at Ctrl-C): exit quietly either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())


if __name__ == "__main__":
    main()
