"""Courses as data: roster validation, the roles a course becomes, and configure(c) at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from cosim_hub import configure
from cosim_hub.courses.model import Course, CourseError, courses_in_scopes, holds_for_user
from cosim_hub.courses.store import CourseStore, read_course_file


@pytest.mark.parametrize(
    "data, words",
    [
        ([], "JSON object"),
        ({"id": "", "instructors": ["a"]}, "course id"),
        ({"id": "UPPER", "instructors": ["a"]}, "course id"),
        ({"id": "x" * 41, "instructors": ["a"]}, "course id"),
        ({"id": "ok"}, "at least one instructor"),
        ({"id": "ok", "instructors": "a"}, "list of user names"),
        ({"id": "ok", "instructors": ["a b"]}, "invalid user name"),
        ({"id": "ok", "instructors": ["a"], "students": [".."]}, "invalid user name"),
        ({"id": "ok", "instructors": ["a"], "tas": ["b"], "students": ["b"]}, "both"),
        ({"id": "ok", "instructors": ["a"], "title": 5}, "title"),
        ({"id": "ok", "instructors": ["a"], "grader": "x"}, "unknown course field"),
    ],
)
def test_bad_rosters_are_refused(data: object, words: str) -> None:
    with pytest.raises(CourseError, match=words):
        Course.from_dict(data)


def test_a_course_becomes_a_group_and_two_roles() -> None:
    course = Course.from_dict(
        {"id": "rob101", "instructors": ["ivy"], "tas": ["tom"], "students": ["b", "a", "a"]}
    )
    assert course.students == ["a", "b"]
    staff, student = course.roles()
    assert staff["users"] == ["ivy", "tom"]
    assert all(s.endswith("!group=course-rob101-students") for s in staff["scopes"])
    assert "access:servers!group=course-rob101-students" in staff["scopes"]
    assert student["groups"] == ["course-rob101-students"]
    assert student["scopes"] == ["custom:cosim-courses:learn!group=course-rob101-students"]
    assert course.role_of("tom") == "ta" and course.role_of("zed") is None


@pytest.mark.parametrize(
    "scopes, expected",
    [
        ([], set()),
        (["custom:cosim-courses:teach!group=course-a-students"], {"a"}),
        (["custom:cosim-courses:teach!group=other", "read:users"], set()),
        (["custom:cosim-courses:teach"], None),
        (["custom:cosim-courses:learn!group=course-a-students"], set()),
    ],
)
def test_course_scopes(scopes: list[str], expected: set[str] | None) -> None:
    assert courses_in_scopes(scopes, "custom:cosim-courses:teach") == expected


def test_use_scope_is_per_user() -> None:
    scope = "custom:cosim-courses:use"
    assert holds_for_user([f"{scope}!user=ivy"], scope, "ivy")
    assert not holds_for_user([f"{scope}!user=ivy"], scope, "sam")


def test_configure_loads_course_roles_at_start(tmp_path: Path) -> None:
    course_file = tmp_path / "courses.yaml"
    course_file.write_text("- id: rob101\n  instructors: [ivy]\n  students: [sam]\n")
    assert [c.id for c in read_course_file(course_file)] == ["rob101"]
    c = Config()
    c.CoSimHub.state_dir = str(tmp_path / "state")
    c.CoSimCourses.course_file = str(course_file)
    configure(c)
    store = CourseStore(tmp_path / "state" / "hub" / "courses.json")
    assert list(store.load()) == ["rob101"]
    names = {r["name"] for r in c.JupyterHub.load_roles}
    assert {"course-rob101-staff", "course-rob101-student", "user"} <= names
    assert c.JupyterHub.load_groups["course-rob101-students"] == {"users": ["sam"]}
    assert "cosim-courses" in [s["name"] for s in c.JupyterHub.services]
    assert "custom:cosim-courses:use!user" in c.Spawner.server_token_scopes
