"""The hub's course setup page, /hub/cosim/courses: create a course, import its roster from a CSV
upload, approve the roster's pending sign-ups in one action. Every action is a POST form carrying
the hub's _xsrf token.

Who may do what (reading is not acting):
- see the page: admins (every course), a course's instructors and TAs (their courses), members
  of the course creators' group (``c.CoSimCourses.creators_group``);
- create a course: admins, and creators (who are always among its instructors);
- import a roster: admins and the course's instructors (not TAs);
- approve pending NativeAuthenticator sign-ups: admins only (``admin:users``).
"""

from __future__ import annotations

import re
from typing import Any

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from ..handlers_mixin import COURSE_CREATORS_SETTING as CREATORS_SETTING
from .hub_api import _CourseMixin, _require_user, apply_course, remove_course
from .model import Course, CourseError
from .roster_csv import RosterError, merge_roster, parse_roster

PAGE_TEMPLATE = "cosim-course-setup.html"


def account_states(handler: Any, names: list[str]) -> dict[str, str] | None:
    """Each name's sign-up state ("approved", "pending", "no sign-up") with NativeAuthenticator;
    None with any other authenticator (it has no approvals)."""
    from nativeauthenticator import NativeAuthenticator
    from nativeauthenticator.orm import UserInfo

    if not isinstance(handler.authenticator, NativeAuthenticator):
        return None
    rows = handler.db.query(UserInfo).filter(UserInfo.username.in_(names)).all() if names else []
    found = {r.username: ("approved" if r.is_authorized else "pending") for r in rows}
    return {n: found.get(n, "no sign-up") for n in names}


class _SetupBase(_CourseMixin, BaseHandler):
    def _me(self) -> str:
        return str(self.current_user.name)

    def _is_creator(self) -> bool:
        group = self.settings.get(CREATORS_SETTING, "")
        return bool(group) and group in {g.name for g in self.current_user.groups}

    def _may_create(self) -> bool:
        return self._is_admin() or self._is_creator()

    def _course_for_instructor(self, course_id: str) -> Course:
        """The course, if the caller is an admin or one of its instructors; 403 otherwise (also
        for a course that does not exist, so the answer tells an outsider nothing)."""
        course = self.store.load().get(course_id)
        if self._is_admin() and course is not None:
            return course
        if course is None or self._me() not in course.instructors:
            raise web.HTTPError(403, f"only admins and instructors of {course_id} change it")
        return course

    async def _page(self, status: int = 200, message: str = "", errors: list[str] | None = None):
        admin = self._is_admin()
        me = self._me()
        courses = [c for c in self.store.load().values() if admin or me in c.staff]
        names = sorted({n for c in courses for n in [*c.staff, *c.students]})
        states = account_states(self, names)
        rows = []
        for course in courses:
            members = [(n, course.role_of(n)) for n in [*course.staff, *course.students]]
            pending = [n for n, _ in members if states and states.get(n) == "pending"]
            rows.append({
                "course": course, "members": members, "pending": pending,
                "may_edit": admin or me in course.instructors,
            })  # fmt: skip
        html = await self.render_template(
            PAGE_TEMPLATE, courses=rows, states=states, is_admin=admin,
            may_create=self._may_create(), message=message, errors=errors or [],
        )  # fmt: skip
        self.set_status(status)
        self.finish(html)

    def _uploaded_roster(self) -> dict[str, str] | None:
        files = self.request.files.get("roster") or []
        if not files or not files[0].body.strip():
            return None
        return parse_roster(files[0].body)


def _names_field(value: str) -> list[str]:
    return [n for n in re.split(r"[\s,]+", value) if n]


class CoursesPageHandler(_SetupBase):
    """GET: the setup page. POST: create a course (id, title, instructors, optional roster CSV)."""

    @web.authenticated
    async def get(self) -> None:
        me = self._me()
        if not (self._may_create() or any(me in c.staff for c in self.store.load().values())):
            raise web.HTTPError(403, "the course setup page is for admins and course staff")
        await self._page()

    # POSTs check the login themselves: tornado's @authenticated answers a POST without one with
    # a bare 403 that neither says why nor differs from an XSRF refusal.
    async def post(self) -> None:
        _require_user(self)
        if not self._may_create():
            raise web.HTTPError(403, "only admins and course creators create courses")
        course_id = self.get_body_argument("id", "").strip()
        instructors = _names_field(self.get_body_argument("instructors", ""))
        if not self._is_admin() and self._me() not in instructors:
            instructors.append(self._me())  # a creator always teaches what they create
        data = {"id": course_id, "title": self.get_body_argument("title", "").strip(),
                "instructors": instructors}  # fmt: skip
        try:
            course = Course.from_dict(data)
            roster = self._uploaded_roster()
            if roster:
                course = merge_roster(course, roster)
        except RosterError as err:
            return await self._page(400, errors=err.lines)
        except CourseError as err:
            return await self._page(400, errors=[str(err)])
        if course.id in self.store.load():
            return await self._page(409, errors=[f"course {course.id} exists already"])
        self.store.put(course)
        apply_course(self, course)
        self.log.info("%s created course %s", self._me(), course.id)
        await self._page(201, message=f"Created course {course.id}.")


class RosterImportHandler(_SetupBase):
    """POST /hub/cosim/courses/<id>/roster: merge a CSV roster into the course, all or nothing."""

    async def post(self, course_id: str) -> None:
        _require_user(self)
        old = self._course_for_instructor(course_id)
        try:
            roster = self._uploaded_roster()
            if roster is None:
                raise RosterError(["choose a CSV file of 'username,role' lines"])
            course = merge_roster(old, roster)
        except RosterError as err:
            return await self._page(400, errors=[f"{course_id}: {e}" for e in err.lines])
        self.store.put(course)
        remove_course(self, old)
        apply_course(self, course)
        self.log.info("%s imported %d roster lines into %s", self._me(), len(roster), course_id)
        await self._page(message=f"Imported {len(roster)} people into {course_id}.")


class RosterApprovalHandler(_SetupBase):
    """POST /hub/cosim/courses/<id>/approve: approve every pending sign-up on the roster."""

    @needs_scope("admin:users")  # refuses a caller without a login too, saying why
    async def post(self, course_id: str) -> None:
        from nativeauthenticator.orm import UserInfo

        course = self.store.load().get(course_id)
        if course is None:
            raise web.HTTPError(404, f"no course {course_id}")
        states = account_states(self, [*course.staff, *course.students])
        if states is None:
            raise web.HTTPError(409, "this hub's authenticator has no sign-ups to approve")
        pending = [n for n, state in states.items() if state == "pending"]
        for info in self.db.query(UserInfo).filter(UserInfo.username.in_(pending)).all():
            info.is_authorized = True
        self.db.commit()
        self.log.info(
            "%s approved %s for %s", self._me(), ", ".join(pending) or "nobody", course_id
        )
        await self._page(message=f"Approved {len(pending)} pending accounts of {course_id}.")


def setup_page_handlers() -> list[tuple[str, Any]]:
    course = r"([a-z0-9][a-z0-9-]*)"
    return [
        (r"/cosim/courses/?", CoursesPageHandler),
        (rf"/cosim/courses/{course}/roster", RosterImportHandler),
        (rf"/cosim/courses/{course}/approve", RosterApprovalHandler),
    ]
