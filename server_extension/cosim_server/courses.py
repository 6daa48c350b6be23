"""``/cosim/api/courses``: this server's side of the course exchange (nbgrader-style).

The server packs and unpacks folders of its own workspace and talks to the hub's exchange
service (``$COSIM_COURSES_URL``) with its own hub token, whose course scopes the hub cuts down
to what its owner holds. Nothing is shared between user servers but that service.

Folders in the workspace (all relative to the server's root):
- a student fetches ``<assignment>`` into ``courses/<course>/<assignment>/``, submits from there,
  and finds feedback in ``courses/<course>/<assignment>/feedback/``;
- an instructor releases any folder, collects into ``courses/<course>/collected/<assignment>/
  <student>/`` and returns ``courses/<course>/feedback/<assignment>/<student>/``.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from .base import CoSimError, CoSimHandler, fetch_hub_json

COURSES_URL_ENV = "COSIM_COURSES_URL"
COURSE = r"(?P<course>[a-z0-9][a-z0-9-]{0,39})"
ASSIGNMENT = r"(?P<assignment>[A-Za-z0-9][A-Za-z0-9._-]{0,79})"
ACTIONS = ("release", "fetch", "submit", "collect", "return", "feedback", "grade", "settings")
SETTINGS = ("due", "late_policy", "penalty_per_hour", "instant_feedback")
MAX_PACK_BYTES = 50 * 2**20
# Checkpoints, caches, VCS data and CoSim's own build/job/snapshot folders are never sources.
SKIP = re.compile(r"(^|/)(\.ipynb_checkpoints|__pycache__|\.git|\.cosim)(/|$)")


def pack_folder(folder: Path) -> dict[str, str]:
    """Every regular file under ``folder`` (no links, no checkpoints) as base64."""
    if not folder.is_dir():
        raise CoSimError(404, f"no folder {folder.name!r} in the workspace")
    inside = folder.resolve()
    found: list[tuple[str, Path, int]] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not path.is_file() or SKIP.search(rel):
            continue
        if inside not in path.resolve().parents:  # under a linked folder: not the student's
            continue
        found.append((rel, path, path.stat().st_size))
    total = sum(size for _, _, size in found)
    if total > MAX_PACK_BYTES:
        largest = sorted(found, key=lambda f: -f[2])[:3]
        names = ", ".join(f"{rel} ({size / 2**20:.1f} MiB)" for rel, _, size in largest)
        raise CoSimError(
            413, f"folder is larger than {MAX_PACK_BYTES // 2**20} MiB; largest files: {names}"
        )
    files = {rel: base64.b64encode(path.read_bytes()).decode() for rel, path, _ in found}
    if not files:
        raise CoSimError(400, f"folder {folder.name!r} has no files")
    return files


def unpack_files(root: Path, target: Path, files: dict[str, str], overwrite: bool) -> list[str]:
    """Write files under ``target`` (inside ``root``); returns the paths written."""
    written = []
    for rel, data in files.items():
        dest = (target / rel).resolve()
        if root.resolve() not in dest.parents:
            raise CoSimError(502, f"the exchange sent a path outside the workspace: {rel!r}")
        if dest.exists() and not overwrite:
            continue  # never clobber a student's work with a re-fetch
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(base64.b64decode(data))
        written.append(dest.relative_to(root).as_posix())
    return written


class _CoursesHandler(CoSimHandler):
    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).resolve()

    async def exchange(self, method: str, path: str, body: Any = None) -> Any:
        base = os.environ.get(COURSES_URL_ENV, "")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not base or not token:
            raise CoSimError(503, "courses are not available: this server has no course exchange")
        return await fetch_hub_json(
            base.rstrip("/") + "/api/" + path, method, body, service="the course exchange",
            timeout=60, token=token,
        )  # fmt: skip


class CourseListHandler(_CoursesHandler):
    async def get(self) -> None:
        self.finish(await self.exchange("GET", "courses"))


class AssignmentListHandler(_CoursesHandler):
    async def get(self, course: str) -> None:
        self.finish(await self.exchange("GET", f"courses/{course}/assignments"))


class AssignmentActionHandler(_CoursesHandler):
    async def post(self, course: str, assignment: str, action: str) -> None:
        if action not in ACTIONS:
            raise CoSimError(404, f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
        body = self.read_json_body() or {}
        if not isinstance(body, dict):
            raise CoSimError(400, 'body must be a JSON object, e.g. {"path": "hw1"}')
        path = body.get("path")
        if path is not None and not isinstance(path, str):
            raise CoSimError(400, "path must be a string")
        where = f"courses/{course}/assignments/{assignment}"
        home = Path("courses") / course
        settings = {k: body[k] for k in SETTINGS if k in body}
        if action == "release":
            files = pack_folder(self.confine(path or assignment))
            result = await self.exchange("PUT", where, {"files": files, **settings})
        elif action == "settings":
            result = await self.exchange("PUT", f"{where}/settings", settings)
        elif action == "grade":
            result = await self.exchange("POST", f"{where}/grade", {})
        elif action == "fetch":
            got = await self.exchange("GET", where)
            target = self.confine(str(home / assignment))
            result = {"path": str(home / assignment)}
            result["written"] = unpack_files(self.root, target, got["files"], overwrite=False)
        elif action == "submit":
            files = pack_folder(self.confine(path or str(home / assignment)))
            files = {k: v for k, v in files.items() if not k.startswith("feedback/")}
            result = await self.exchange("POST", f"{where}/submission", {"files": files})
        elif action == "collect":
            got = await self.exchange("GET", f"{where}/submissions")
            base = home / "collected" / assignment
            result = {"path": str(base), "students": sorted(got["submissions"])}
            # Collecting an nbgrader-format assignment also autogrades what is new.
            result["queued"] = (await self.exchange("POST", f"{where}/grade", {}))["queued"]
            for student, sub in got["submissions"].items():
                target = self.confine(str(base / student))
                unpack_files(self.root, target, sub["files"], overwrite=True)
        elif action == "return":
            folder = self.confine(path or str(home / "feedback" / assignment))
            found = folder.iterdir() if folder.is_dir() else iter(())
            students = sorted(p.name for p in found if p.is_dir())
            if not students:
                raise CoSimError(404, f"no feedback folders (one per student) in {folder.name!r}")
            for student in students:
                files = pack_folder(folder / student)
                await self.exchange("PUT", f"{where}/feedback/{student}", {"files": files})
            result = {"returned": students}
        else:  # feedback
            got = await self.exchange("GET", f"{where}/feedback")
            target_rel = home / assignment / "feedback"
            target = self.confine(str(target_rel))
            result = {"path": str(target_rel)}
            result["written"] = unpack_files(self.root, target, got["files"], overwrite=True)
        self.finish({"action": action, **result})


class GradebookHandler(_CoursesHandler):
    """The course's gradebook (staff only; the exchange refuses students): JSON, or ?format=csv
    as a download in nbgrader's CSV layout."""

    async def get(self, course: str) -> None:
        book = await self.exchange("GET", f"courses/{course}/gradebook")
        if self.get_argument("format", "json") == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{course}-grades.csv"')
            self.write(book.get("csv", ""))
            await self.flush()  # headers out now: APIHandler.finish would make them JSON's
            self.finish()
            return
        self.finish(book)


def routes() -> list[tuple[str, type]]:
    return [
        (r"/cosim/api/courses", CourseListHandler),
        (rf"/cosim/api/courses/{COURSE}/gradebook", GradebookHandler),
        (rf"/cosim/api/courses/{COURSE}/assignments", AssignmentListHandler),
        (
            rf"/cosim/api/courses/{COURSE}/assignments/{ASSIGNMENT}/(?P<action>[a-z]+)",
            AssignmentActionHandler,
        ),
    ]
