"""A course and what it becomes in the hub: one group of students, two roles.

Course ``c`` gives:
- group ``course-c-students`` (its students);
- role ``course-c-staff`` for its instructors and TAs: see, open, start and stop the servers of
  the group's members (and only theirs), and teach the course in the exchange;
- role ``course-c-student`` for the group: take part in the course in the exchange.
Course membership is expressed only through scopes filtered by that group, so a student never
gains a scope on another user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COURSE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
USER_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")
TEACH_SCOPE = "custom:cosim-courses:teach"
LEARN_SCOPE = "custom:cosim-courses:learn"
USE_SCOPE = "custom:cosim-courses:use"
CUSTOM_SCOPES = {
    USE_SCOPE: {
        "description": "Act in the courses the owner is on the roster of (held by every user "
        "for themselves, and by their servers' tokens)."
    },
    TEACH_SCOPE: {
        "description": "Release assignments to, collect from and return feedback to a course's "
        "students (filtered by the course's student group)."
    },
    LEARN_SCOPE: {
        "description": "Fetch assignments of, submit to and read feedback of a course "
        "(filtered by the course's student group)."
    },
}


class CourseError(ValueError):
    """Bad course data, with a message fit for a 400 answer."""


def students_group(course_id: str) -> str:
    return f"course-{course_id}-students"


def course_of_group(group: str) -> str | None:
    match = re.fullmatch(r"course-([a-z0-9][a-z0-9-]*)-students", group)
    return match.group(1) if match else None


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CourseError(f"{what} must be a list of user names")
    # Names become folder names in the exchange: no "." or ".." and no hidden names.
    bad = [v for v in value if not USER_NAME.match(v) or v.startswith(".")]
    if bad:
        raise CourseError(f"invalid user name in {what}: {bad[0]!r}")
    return sorted(set(value))


@dataclass(frozen=True)
class Course:
    id: str
    title: str = ""
    instructors: list[str] = field(default_factory=list)
    tas: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, course_id: str | None = None) -> Course:
        if not isinstance(data, dict):
            raise CourseError("a course must be a JSON object")
        unknown = set(data) - {"id", "title", "instructors", "tas", "students"}
        if unknown:
            raise CourseError(f"unknown course field: {sorted(unknown)[0]!r}")
        cid = course_id or data.get("id")
        if not isinstance(cid, str) or not COURSE_ID.match(cid):
            raise CourseError(
                "course id must be 1-40 lowercase letters, digits or '-', starting with a "
                f"letter or digit: {cid!r}"
            )
        if "id" in data and data["id"] != cid:
            raise CourseError(f"course id {data['id']!r} does not match {cid!r}")
        title = data.get("title", "")
        if not isinstance(title, str) or len(title) > 200:
            raise CourseError("title must be a string of at most 200 characters")
        course = cls(
            id=cid,
            title=title,
            instructors=_names(data.get("instructors"), "instructors"),
            tas=_names(data.get("tas"), "tas"),
            students=_names(data.get("students"), "students"),
        )
        if not course.instructors:
            raise CourseError("a course needs at least one instructor")
        both = set(course.staff) & set(course.students)
        if both:
            raise CourseError(f"{sorted(both)[0]!r} cannot be both staff and student")
        return course

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "instructors": list(self.instructors),
            "tas": list(self.tas),
            "students": list(self.students),
        }

    @property
    def staff(self) -> list[str]:
        return sorted(set(self.instructors) | set(self.tas))

    @property
    def group(self) -> str:
        return students_group(self.id)

    def role_of(self, name: str) -> str | None:
        if name in self.instructors:
            return "instructor"
        if name in self.tas:
            return "ta"
        if name in self.students:
            return "student"
        return None

    def staff_role(self) -> dict[str, Any]:
        g = self.group
        return {
            "name": f"course-{self.id}-staff",
            "description": f"Instructors and TAs of course {self.id}",
            "scopes": [
                f"access:servers!group={g}",
                f"servers!group={g}",
                f"read:users!group={g}",
                f"list:users!group={g}",
                f"{TEACH_SCOPE}!group={g}",
            ],
            "users": self.staff,
        }

    def student_role(self) -> dict[str, Any]:
        return {
            "name": f"course-{self.id}-student",
            "description": f"Students of course {self.id}",
            "scopes": [f"{LEARN_SCOPE}!group={self.group}"],
            "groups": [self.group],
        }

    def roles(self) -> list[dict[str, Any]]:
        return [self.staff_role(), self.student_role()]


def holds_for_user(scopes: list[str], scope: str, name: str) -> bool:
    """Whether ``scopes`` hold ``scope`` unfiltered or filtered to user ``name``."""
    return any(s == scope or s == f"{scope}!user={name}" for s in scopes)


def courses_in_scopes(scopes: list[str], scope: str) -> set[str] | None:
    """Course ids that ``scopes`` grant ``scope`` for; None means every course."""
    found: set[str] = set()
    for item in scopes:
        base, _, filt = item.partition("!")
        if base != scope:
            continue
        if not filt:
            return None
        kind, _, value = filt.partition("=")
        course = course_of_group(value) if kind == "group" else None
        if course:
            found.add(course)
    return found
