"""Courses on the real stack: roles from a roster, and release -> collect -> return.

Every server involved is a real spawned server under its own Unix account; the exchange is the
hub-managed service, reached by each server with its own hub token.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from cosim_testing.hub_client import HubClient
from cosim_testing.stack import CoSimStack

pytestmark = pytest.mark.stack


def _put_file(client: HubClient, path: str, text: str) -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        client.request(
            "PUT",
            f"user/{client.user}/api/contents/{'/'.join(parts[:i])}",
            data=json.dumps({"type": "directory"}),
        )
    resp = client.request(
        "PUT",
        f"user/{client.user}/api/contents/{path}",
        data=json.dumps({"type": "file", "format": "text", "content": text}),
    )
    assert resp.status_code in (200, 201), resp.text


def _read_file(client: HubClient, path: str) -> str | None:
    resp = client.request("GET", f"user/{client.user}/api/contents/{path}?content=1")
    return str(resp.json()["content"]) if resp.status_code == 200 else None


def _act(client: HubClient, course: str, assignment: str, action: str, **body: Any) -> Any:
    return client.request(
        "POST",
        f"user/{client.user}/cosim/api/courses/{course}/assignments/{assignment}/{action}",
        data=json.dumps(body),
    )


@pytest.fixture(scope="module")
def course_people(cosim_stack: CoSimStack) -> dict[str, HubClient]:
    tag = secrets.token_hex(2)
    people = {}
    for role in ("ivy", "tom", "stu", "sue"):
        client, _ = cosim_stack.new_user(f"{role}{tag}")
        people[role] = client
    for client in people.values():
        client.spawn()
        assert client.open_lab().status_code == 200
    return people


def test_course_api_validates_and_is_admin_only(
    cosim_stack: CoSimStack, course_people: dict[str, HubClient]
) -> None:
    admin = cosim_stack.admin_client()
    ivy = course_people["ivy"]
    bad = [
        {"id": "Bad Id", "instructors": ["x"]},
        {"id": "ok", "instructors": []},
        {"id": "ok", "instructors": ["a"], "students": ["a"]},
        {"id": "ok", "instructors": ["a;rm"]},
        {"id": "ok", "instructors": ["a"], "extra": 1},
    ]
    for body in bad:
        resp = admin.api("POST", "cosim/courses", json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert "Traceback" not in resp.text
    assert admin.api("POST", "cosim/courses", data=b"{nope").status_code == 400
    course = {"id": f"x{secrets.token_hex(2)}", "instructors": [ivy.user]}
    assert ivy.api("POST", "cosim/courses", json=course).status_code == 403
    assert cosim_stack.client().api("GET", "cosim/courses").status_code == 403


def test_course_roles_release_collect_return(
    cosim_stack: CoSimStack, course_people: dict[str, HubClient]
) -> None:
    admin = cosim_stack.admin_client()
    admin.spawn()
    ivy, tom, stu, sue = (course_people[k] for k in ("ivy", "tom", "stu", "sue"))
    cid = f"rob{secrets.token_hex(2)}"
    roster = {"id": cid, "title": "Robotics", "instructors": [ivy.user], "tas": [tom.user],
              "students": [stu.user, sue.user]}  # fmt: skip
    resp = admin.api("POST", "cosim/courses", json=roster)
    assert resp.status_code == 201, resp.text
    assert admin.api("POST", "cosim/courses", json=roster).status_code == 409

    # Roles: staff open their students' servers, and only theirs; students open nobody's.
    assert ivy.open_lab(stu.user).status_code == 200
    assert tom.open_lab(sue.user).status_code == 200
    assert ivy.open_lab(cosim_stack.admin).status_code == 403
    assert stu.open_lab(sue.user).status_code == 403
    assert stu.open_lab(ivy.user).status_code == 403
    # Every user may list names (sharing by name needs it, c.CoSimHub.allow_sharing); what
    # staff may open is checked above.
    names = {u["name"] for u in ivy.api("GET", "users").json()}
    assert {stu.user, sue.user} <= names
    assert stu.api("DELETE", f"users/{sue.user}/server").status_code in (403, 404)
    mine = stu.api("GET", "cosim/courses").json()["courses"]
    assert [c["students"] for c in mine] == [[stu.user]]  # no classmate list for students
    assert "data-course" in admin.request("GET", "hub/cosim/courses").text
    assert stu.request("GET", "hub/cosim/courses").status_code == 403

    # Release a folder of notebooks and templates to every student.
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    _put_file(ivy, "hw1/problem.ipynb", notebook)
    _put_file(ivy, "hw1/templates/controller.py", "def control(obs):\n    return 0\n")
    resp = _act(ivy, cid, "hw1", "release", path="hw1")
    assert resp.status_code == 200, resp.text
    assert resp.json()["files"] == ["problem.ipynb", "templates/controller.py"]

    listed = stu.request("GET", f"user/{stu.user}/cosim/api/courses/{cid}/assignments").json()
    assert [a["name"] for a in listed["assignments"]] == ["hw1"]
    for student in (stu, sue):
        resp = _act(student, cid, "hw1", "fetch")
        assert resp.status_code == 200, resp.text
        assert f"courses/{cid}/hw1/problem.ipynb" in resp.json()["written"]
    # A student cannot release (here: overwrite the assignment with their own copy).
    assert _act(stu, cid, "hw1", "release", path=f"courses/{cid}/hw1").status_code == 403
    _put_file(stu, f"courses/{cid}/hw1/answer.py", "ANSWER = 42\n")
    assert _act(stu, cid, "hw1", "submit").status_code == 200
    # A re-fetch never overwrites the student's work.
    assert _act(stu, cid, "hw1", "fetch").json()["written"] == []

    # Students never reach each other's submissions, not even by calling the exchange.
    assert _act(sue, cid, "hw1", "collect").status_code == 403
    sue_token = sue.api("POST", f"users/{sue.user}/tokens", json={"note": "t"}).json()["token"]
    direct = requests.get(
        cosim_stack.public_url(
            f"services/cosim-courses/api/courses/{cid}/assignments/hw1/submissions"
        ),
        headers={"Authorization": f"token {sue_token}"},
        timeout=10,
    )
    assert direct.status_code == 403

    # Collect, write feedback, return it.
    resp = _act(ivy, cid, "hw1", "collect")
    assert resp.status_code == 200, resp.text
    assert resp.json()["students"] == [stu.user]
    collected = f"courses/{cid}/collected/hw1/{stu.user}/answer.py"
    assert _read_file(ivy, collected) == "ANSWER = 42\n"
    _put_file(ivy, f"courses/{cid}/feedback/hw1/{stu.user}/feedback.txt", "Well done: 10/10\n")
    resp = _act(ivy, cid, "hw1", "return")
    assert resp.status_code == 200, resp.text
    assert resp.json()["returned"] == [stu.user]
    resp = _act(stu, cid, "hw1", "feedback")
    assert resp.status_code == 200, resp.text
    assert _read_file(stu, f"courses/{cid}/hw1/feedback/feedback.txt") == "Well done: 10/10\n"
    assert _act(sue, cid, "hw1", "feedback").status_code == 404

    # A second course of the same instructor, added at run time: separate rosters.
    cid2 = f"sim{secrets.token_hex(2)}"
    second = {"id": cid2, "instructors": [ivy.user], "students": [sue.user]}
    assert admin.api("POST", "cosim/courses", json=second).status_code == 201
    _put_file(ivy, "lab2/readme.md", "# Lab 2\n")
    assert _act(ivy, cid2, "lab2", "release", path="lab2").status_code == 200
    assert _act(sue, cid2, "lab2", "fetch").status_code == 200
    assert _act(stu, cid2, "lab2", "fetch").status_code == 403
    courses = ivy.request("GET", f"user/{ivy.user}/cosim/api/courses").json()["courses"]
    assert {c["id"] for c in courses} >= {cid, cid2}
    assert ivy.open_lab(sue.user).status_code == 200
    assert tom.open_lab(stu.user).status_code == 200

    # Staff manage their students' servers (here: stop one), not only open them.
    ivy.stop(sue.user)
    assert not cosim_stack.server_pids(sue.user)

    # Dropping the course takes the staff's access away at once.
    assert admin.api("DELETE", f"cosim/courses/{cid}").status_code == 204
    assert tom.open_lab(stu.user).status_code == 403
