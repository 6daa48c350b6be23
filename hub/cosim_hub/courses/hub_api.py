"""Course administration inside the hub process: the REST API (the setup page: setup_pages.py).

``/hub/api/cosim/courses`` (GET: an admin sees all, a user their own; POST: admin) and
``/hub/api/cosim/courses/<id>`` (GET, PUT, DELETE). A change is saved to the course store and
applied to the hub database at once (group, roles, members), so no restart is needed; at the
next start ``configure(c)`` loads the same roles from the store.
"""

from __future__ import annotations

import json
from typing import Any

from jupyterhub import orm, roles
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from ..handlers_mixin import COURSES_SETTING
from .model import Course, CourseError
from .store import CourseStore


class _CourseMixin:
    settings: dict[str, Any]
    db: Any
    current_user: Any

    @property
    def store(self) -> CourseStore:
        path = self.settings.get(COURSES_SETTING)
        if not path:
            raise web.HTTPError(404, "courses are not enabled on this hub")
        return CourseStore(path)

    def _is_admin(self) -> bool:
        user = self.current_user
        return bool(getattr(user, "admin", False))

    def _visible(self, course: Course) -> bool:
        user = self.current_user
        return self._is_admin() or (user is not None and course.role_of(user.name) is not None)


def _describe(course: Course, viewer: str | None, admin: bool) -> dict[str, Any]:
    body = course.to_dict()
    role = course.role_of(viewer) if viewer else None
    if role == "student" and not admin:
        body["students"] = [viewer]  # a student never learns who else is enrolled
    body["role"] = role or ("admin" if admin else None)
    return body


def apply_course(handler: Any, course: Course) -> None:
    """Make the hub database match ``course``: users, student group, staff and student roles."""
    db = handler.db
    for name in [*course.staff, *course.students]:
        handler.user_from_username(name)  # creates hub users listed before their first login
    group = orm.Group.find(db, course.group)
    if group is None:
        group = orm.Group(name=course.group)
        db.add(group)
    group.users = [orm.User.find(db, n) for n in course.students]
    db.commit()
    for spec in course.roles():
        definition = {k: v for k, v in spec.items() if k in ("name", "description", "scopes")}
        roles.create_role(db, definition)
        role = orm.Role.find(db, spec["name"])
        role.users = [orm.User.find(db, n) for n in spec.get("users", [])]
        role.groups = [orm.Group.find(db, g) for g in spec.get("groups", [])]
    db.commit()


def remove_course(handler: Any, course: Course) -> None:
    db = handler.db
    for spec in course.roles():
        if orm.Role.find(db, spec["name"]) is not None:
            roles.delete_role(db, spec["name"])
    group = orm.Group.find(db, course.group)
    if group is not None:
        db.delete(group)
    db.commit()


def _body(handler: APIHandler) -> Any:
    try:
        return json.loads(handler.request.body or b"{}")
    except ValueError:
        raise web.HTTPError(400, "request body must be JSON") from None


def _require_user(handler: Any) -> None:
    if handler.current_user is None:
        raise web.HTTPError(403, "Missing or invalid credentials.")


class CoursesAPIHandler(_CourseMixin, APIHandler):
    def get(self) -> None:
        _require_user(self)
        me = self.current_user.name if self.current_user else None
        admin = self._is_admin()
        courses = [_describe(c, me, admin) for c in self.store.load().values() if self._visible(c)]
        self.write(json.dumps({"courses": courses}))

    @needs_scope("admin:users")
    def post(self) -> None:
        try:
            course = Course.from_dict(_body(self))
        except CourseError as err:
            raise web.HTTPError(400, str(err)) from None
        if course.id in self.store.load():
            raise web.HTTPError(409, f"course {course.id} exists; PUT to change it")
        self.store.put(course)
        apply_course(self, course)
        self.set_status(201)
        self.write(json.dumps(_describe(course, None, True)))


class CourseAPIHandler(_CourseMixin, APIHandler):
    def _find(self, course_id: str) -> Course:
        course = self.store.load().get(course_id)
        if course is None or not self._visible(course):
            raise web.HTTPError(404, f"no course {course_id}")
        return course

    def get(self, course_id: str) -> None:
        _require_user(self)
        me = self.current_user.name if self.current_user else None
        self.write(json.dumps(_describe(self._find(course_id), me, self._is_admin())))

    @needs_scope("admin:users")
    def put(self, course_id: str) -> None:
        try:
            course = Course.from_dict(_body(self), course_id)
        except CourseError as err:
            raise web.HTTPError(400, str(err)) from None
        old = self.store.load().get(course_id)
        self.store.put(course)
        if old is not None:
            remove_course(self, old)
        apply_course(self, course)
        self.write(json.dumps(_describe(course, None, True)))

    @needs_scope("admin:users")
    def delete(self, course_id: str) -> None:
        course = self.store.load().get(course_id)
        if course is None:
            raise web.HTTPError(404, f"no course {course_id}")
        self.store.delete(course_id)
        remove_course(self, course)
        self.set_status(204)


def course_handlers() -> list[tuple[str, Any]]:
    return [
        (r"/api/cosim/courses/?", CoursesAPIHandler),
        (r"/api/cosim/courses/([a-z0-9][a-z0-9-]*)/?", CourseAPIHandler),
    ]
