"""A course roster from CSV (``username,role`` per line), checked whole before anything changes.

Roles are ``instructor``, ``ta`` or ``student`` (any case). A header line ``username,role``, blank
lines and lines starting with ``#`` are skipped. Every bad line is reported with its number, and a
roster with any bad line changes nothing.
"""

from __future__ import annotations

import csv
import io

from .model import USER_NAME, Course, CourseError

MAX_ROSTER_BYTES = 1 << 20  # far past a 1,000-student class
ROLES = {"instructor": "instructors", "ta": "tas", "student": "students"}


class RosterError(ValueError):
    """A roster that cannot be applied; ``lines`` holds one message per bad line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def parse_roster(data: bytes) -> dict[str, str]:
    """``{username: role}`` from CSV bytes, or :class:`RosterError` naming every bad line."""
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError([f"the roster is larger than {MAX_ROSTER_BYTES // 1024} KiB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(["the roster is not UTF-8 text"]) from None
    found: dict[str, str] = {}
    first_line: dict[str, int] = {}
    errors: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and [c.lower() for c in cells[:2]] == ["username", "role"]:
            continue
        if len(cells) != 2:
            errors.append(f"line {number}: expected 'username,role', got {len(cells)} fields")
            continue
        name, role = cells[0], cells[1].lower()
        if not USER_NAME.match(name) or name.startswith("."):
            errors.append(f"line {number}: {name!r} is not a valid user name")
        elif role not in ROLES:
            errors.append(f"line {number}: role {cells[1]!r} is not instructor, ta or student")
        elif name in found:
            errors.append(f"line {number}: {name} is already listed on line {first_line[name]}")
        else:
            found[name], first_line[name] = role, number
    if errors:
        raise RosterError(errors)
    if not found:
        raise RosterError(["the roster lists nobody (expected lines of 'username,role')"])
    return found


def merge_roster(course: Course, roster: dict[str, str]) -> Course:
    """``course`` with everyone in ``roster`` given that role (and no other); the rest stay."""
    data = course.to_dict()
    for field in ROLES.values():
        data[field] = [n for n in data[field] if n not in roster]
    for name, role in roster.items():
        data[ROLES[role]].append(name)
    try:  # the course's own rules (an instructor left, nobody both staff and student)
        return Course.from_dict(data)
    except CourseError as err:
        raise RosterError([str(err)]) from None
