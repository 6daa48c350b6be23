"""nbgrader's formgrader on a copy of a course's grading state (``cosim_protocol.formgrader``).

No user server touches a course's gradebook. For manual grading, an instructor's server fetches
one assignment's snapshot from the course exchange into ``.cosim/formgrader/<course>/`` (mode
700, under the server's root so formgrader's links work), points nbgrader's formgrader at it, and
keeps the snapshot's gradebook (and each submission's revision) as the base. "Send grades" diffs
the local gradebook against that base and posts the manual changes; the exchange holds back the
changes of any submission graded again or graded by someone else meanwhile (409 listing them, the
others applied): those stay unsent here, and the answer passes the conflict list on to the Lab.

One assignment per course folder at a time: opening another while changes are unsent is refused
(409) unless they are discarded. formgrader's steps that run student code or use nbgrader's
filesystem exchange (generate, release, collect, autograde, release feedback) answer 403: they
would run unsandboxed as the instructor, and the Courses panel does them in the grading sandbox.

Routes: ``POST /cosim/api/courses/<c>/formgrader/<a>/open`` ({"discard": bool}) and
``.../send``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado.routing import HostMatches, Rule

from cosim_protocol.formgrader import SCHEMA_VERSION, SNAPSHOT_GRADEBOOK, field_of

from .base import CoSimError, CoSimHandler
from .courses import ASSIGNMENT, COURSE, _CoursesHandler, unpack_files

FOLDER = Path(".cosim") / "formgrader"
BASE_DIR = ".base"  # the snapshot's gradebook and state, what "send" diffs against
REFUSED = (r"assignment/[^/]+/(assign|release|unrelease|collect|release_feedback)",
           r"assignment/[^/]+/[^/]+/release_feedback",
           r"submission/[^/]+/[^/]+/autograde")  # fmt: skip


def manual_values(db: Path, course: str, assignment: str) -> dict[tuple[str, str, str, str], Any]:
    """(student, notebook, cell, field) -> value of every manual field of one assignment."""
    from nbgrader.api import Gradebook

    out: dict[tuple[str, str, str, str], Any] = {}
    with Gradebook(f"sqlite:///{db}", course) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for grade in nb.grades:
                    for field in ("manual_score", "extra_credit"):
                        out[(sub.student.id, nb.name, grade.name, field)] = getattr(grade, field)
                for comment in nb.comments:
                    key = (sub.student.id, nb.name, comment.name, "manual_comment")
                    out[key] = comment.manual_comment
    return out


def set_manual_values(
    db: Path, course: str, assignment: str, changes: list[dict[str, Any]]
) -> None:
    """Write ``changes`` into the gradebook ``db`` (the base, once the exchange took them)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}", course) as gb:
        for change in changes:
            field = field_of(change)
            find = gb.find_comment if field == "manual_comment" else gb.find_grade
            row = find(change["cell"], change["notebook"], assignment, change["student"])
            setattr(row, field, change[field])
        gb.db.commit()


def manual_changes(folder: Path, course: str, assignment: str) -> list[dict[str, Any]]:
    """What was graded by hand in ``folder`` since its snapshot, as the exchange takes it."""
    base = manual_values(folder / BASE_DIR / SNAPSHOT_GRADEBOOK, course, assignment)
    local = manual_values(folder / SNAPSHOT_GRADEBOOK, course, assignment)
    return [
        {"student": s, "notebook": nb, "cell": cell, field: value, "base": base.get(key)}
        for key, value in sorted(local.items(), key=lambda kv: str(kv[0]))
        for (s, nb, cell, field) in [key]
        if key in base and base[key] != value
    ]


class FormgraderRefusal(CoSimHandler):
    """formgrader's steps that would run student code here: use the Courses panel instead.
    Authenticated and authorized like every CoSim handler first, so a stranger learns nothing."""

    refuses_every_caller = True  # even one allowed to write (the route-auth test reads this)

    def refuse(self, *args: Any) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "success": False,
            "message": "this runs in the course's grading sandbox: use the Courses panel "
            "(release, collect, grade) instead of formgrader for it",
        }))  # fmt: skip

    # formgrader starts these steps with POST; reading them is not a thing it does.
    post = put = patch = delete = refuse


def refuse_formgrader_steps(web_app: Any) -> None:
    """Put the refusals ahead of every route, whenever formgrader's own load."""
    base = web_app.settings.get("base_url", "/")
    rules = [(url_path_join(base, "formgrader/api", p), FormgraderRefusal) for p in REFUSED]
    web_app.add_handlers(".*$", rules)
    router = web_app.default_router
    rule = router.rules.pop(-2)  # add_handlers puts it just before the catch-all
    assert isinstance(rule, Rule) and isinstance(rule.matcher, HostMatches)
    router.rules.insert(0, rule)


class FormgraderHandler(_CoursesHandler):
    def folder(self, course: str) -> Path:
        return self.confine(str(FOLDER / course))

    def state(self, folder: Path) -> dict[str, Any]:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return dict(json.loads((folder / BASE_DIR / "state.json").read_text()))
        return {}

    async def post(self, course: str, assignment: str, action: str) -> None:
        formgrader = self.settings.get("nbgrader_formgrader")
        if formgrader is None:
            raise CoSimError(503, "nbgrader's formgrader is not enabled on this server")
        body = self.read_json_body() or {}
        if not isinstance(body, dict):
            raise CoSimError(400, 'body must be a JSON object, e.g. {"discard": false}')
        folder = self.folder(course)
        where = f"courses/{course}/grading/{assignment}"
        state = self.state(folder)
        unsent = []
        if state.get("assignment"):
            unsent = manual_changes(folder, course, state["assignment"])
        if action == "send":
            if state.get("assignment") != assignment:
                raise CoSimError(409, f"{assignment} is not open in formgrader: open it first")
            if not unsent:
                self.finish({"action": action, "applied": 0, "version": state.get("version")})
                return
            revisions = state.get("submissions", {})
            sent = {
                "schema": SCHEMA_VERSION,
                "changes": unsent,
                "submissions": {c["student"]: revisions.get(c["student"]) for c in unsent},
            }
            try:
                result = await self.exchange("POST", f"{where}/manual", sent)
            except CoSimError as err:
                if err.status_code == 409 and "conflicts" in err.details:
                    # The other students' changes went in: they are the base now, and only the
                    # conflicted ones stay unsent (until a fresh copy discards them).
                    held = {c.get("student") for c in err.details["conflicts"]}
                    taken = [c for c in unsent if c["student"] not in held]
                    set_manual_values(folder / BASE_DIR / SNAPSHOT_GRADEBOOK, course, assignment,
                                      taken)  # fmt: skip
                    self.write_state(folder, assignment, err.details.get("version"), revisions)
                    err.details |= {"action": action, "assignment": assignment}
                raise
            shutil.copyfile(folder / SNAPSHOT_GRADEBOOK, folder / BASE_DIR / SNAPSHOT_GRADEBOOK)
            self.write_state(folder, assignment, result["version"], revisions)
            self.finish({"action": action, **result})
            return
        if unsent and not body.get("discard"):
            raise CoSimError(
                409, f"{len(unsent)} manual grades of {state['assignment']} are not sent yet: "
                "send them, or open again discarding them",
            )  # fmt: skip
        snap = await self.exchange("GET", f"{where}/snapshot")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        (folder / BASE_DIR).mkdir(mode=0o700)
        unpack_files(self.root, folder, snap["files"], overwrite=True)
        db = base64.b64decode(snap["files"][SNAPSHOT_GRADEBOOK])
        (folder / BASE_DIR / SNAPSHOT_GRADEBOOK).write_bytes(db)
        self.write_state(folder, assignment, snap["version"], snap.get("submissions", {}))
        self.point(formgrader, folder, course)
        url = url_path_join(self.base_url, "formgrader", "gradebook", assignment)
        self.finish({"action": "open", "path": str(FOLDER / course), "url": url,
                     "version": snap["version"]})  # fmt: skip

    def write_state(
        self, folder: Path, assignment: str, version: int | None, revisions: dict[str, int]
    ) -> None:
        """What the copy was taken from: the gradebook's version and each submission's
        revision (the exchange holds back changes to a submission graded again since)."""
        state = {"assignment": assignment, "version": version, "submissions": revisions}
        (folder / BASE_DIR / "state.json").write_text(json.dumps(state))

    def point(self, formgrader: Any, folder: Path, course: str) -> None:
        """formgrader reads its course folder and gradebook from these (db_url is a computed
        default, kept once read: set it too), and caches its gradebook connection."""
        formgrader.coursedir.root = str(folder)
        formgrader.coursedir.course_id = course
        formgrader.coursedir.db_url = f"sqlite:///{folder / SNAPSHOT_GRADEBOOK}"
        old = self.settings.get("nbgrader_gradebook")
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
        self.settings["nbgrader_gradebook"] = None
        self.settings["nbgrader_db_url"] = formgrader.coursedir.db_url


def routes() -> list[tuple[str, type]]:
    return [
        (
            rf"/cosim/api/courses/{COURSE}/formgrader/{ASSIGNMENT}/(?P<action>open|send)",
            FormgraderHandler,
        ),
    ]
