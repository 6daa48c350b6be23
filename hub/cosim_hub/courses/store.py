"""Where courses are kept: one JSON file under the hub's state dir, written atomically.

The hub's course API writes it; the exchange service and ``configure(c)`` (at each hub start)
read it. An optional course file that an admin maintains by hand is merged in at hub start.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .model import Course, CourseError


def read_course_file(path: str | Path) -> list[Course]:
    """Courses from a JSON or YAML file: a list of courses, or {"courses": [...]}."""
    p = Path(path)
    text = p.read_text()
    data: Any
    if p.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("courses")
    if not isinstance(data, list):
        raise CourseError(f"{p}: expected a list of courses")
    return [Course.from_dict(item) for item in data]


class CourseStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Course]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {cid: Course.from_dict(data, cid) for cid, data in raw.get("courses", {}).items()}

    def save(self, courses: dict[str, Course]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"courses": {cid: c.to_dict() for cid, c in sorted(courses.items())}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".courses-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, course: Course) -> None:
        courses = self.load()
        courses[course.id] = course
        self.save(courses)

    def delete(self, course_id: str) -> bool:
        courses = self.load()
        if courses.pop(course_id, None) is None:
            return False
        self.save(courses)
        return True

    def groups_of(self, name: str) -> set[str]:
        return {c.group for c in self.load().values() if name in c.students}
