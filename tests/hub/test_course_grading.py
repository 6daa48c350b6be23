"""Grading through the course exchange on the real stack: one instructor, two students, real
nbgrader and real kernels in the grading sandbox.

Release (solutions and hidden tests stripped) -> fetch -> submit -> collect autogrades -> each
student sees only their own score and feedback -> the gradebook (JSON and CSV) matches; then the
deadline passes: a resubmission with no late policy is refused and the earlier one kept, and with
the "flag" policy and instant feedback it is taken, flagged late and graded at once.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from typing import Any

import nbformat
import pytest
import requests

from cosim_testing.hub_client import HubClient
from cosim_testing.nbgrader_assignment import RIGHT, WRONG, answered, source_notebook
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack

pytestmark = [pytest.mark.stack]
GRADE_TIMEOUT = 120.0


def _contents(client: HubClient, path: str) -> str:
    return f"user/{client.user}/api/contents/{path}"


def _put(client: HubClient, path: str, content: Any, kind: str = "notebook") -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        client.request("PUT", _contents(client, "/".join(parts[:i])),
                       data=json.dumps({"type": "directory"}))  # fmt: skip
    fmt = {"notebook": "json", "file": "text"}[kind]
    body = {"type": kind, "format": fmt, "content": content}
    resp = client.request("PUT", _contents(client, path), data=json.dumps(body))
    assert resp.status_code in (200, 201), resp.text[:300]


def _get(client: HubClient, path: str) -> Any:
    resp = client.request("GET", _contents(client, path) + "?content=1")
    assert resp.status_code == 200, (path, resp.text[:300])
    return resp.json()["content"]


def _api(client: HubClient, method: str, where: str, **body: Any) -> requests.Response:
    url = f"user/{client.user}/cosim/api/courses/{where}"
    return client.request(method, url, data=json.dumps(body) if method != "GET" else None)


def _act(client: HubClient, course: str, action: str, **body: Any) -> requests.Response:
    return _api(client, "POST", f"{course}/assignments/hw1/{action}", **body)


def _my_rows(client: HubClient, course: str) -> list[dict[str, Any]]:
    resp = _api(client, "GET", f"{course}/assignments")
    assert resp.status_code == 200, resp.text[:300]
    (item,) = [a for a in resp.json()["assignments"] if a["name"] == "hw1"]
    return list(item["students"])


def _wait_graded(client: HubClient, course: str, names: list[str], submitted_at: Any = None) -> Any:
    rows: dict[str, Any] = {}

    def done() -> bool:
        rows.clear()
        rows.update({r["student"]: r for r in _my_rows(client, course)})
        return all(rows.get(n, {}).get("graded") or rows.get(n, {}).get("error") for n in names)

    assert wait_for(done, GRADE_TIMEOUT, interval=0.5), rows
    return rows


def _submit_answer(student: HubClient, course: str, solution: str) -> requests.Response:
    released = nbformat.from_dict(_get(student, f"courses/{course}/hw1/hw1.ipynb"))
    _put(student, f"courses/{course}/hw1/hw1.ipynb", answered(released, solution))
    return _act(student, course, "submit")


@pytest.fixture(scope="module")
def klass(cosim_stack: CoSimStack) -> dict[str, HubClient]:
    tag = secrets.token_hex(2)
    people = {role: cosim_stack.new_user(f"{role}{tag}")[0] for role in ("prof", "ada", "bob")}
    for client in people.values():
        client.spawn()
        assert client.open_lab().status_code == 200
    course = {"id": f"gr{tag}", "instructors": [people["prof"].user],
              "students": [people["ada"].user, people["bob"].user]}  # fmt: skip
    resp = cosim_stack.admin_client().api("POST", "cosim/courses", json=course)
    assert resp.status_code == 201, resp.text
    return people


def test_release_collect_autograde_gradebook_and_deadline(
    cosim_stack: CoSimStack, klass: dict[str, HubClient]
) -> None:
    prof, ada, bob = klass["prof"], klass["ada"], klass["bob"]
    course = f"gr{prof.user[len('prof') :]}"
    _put(prof, "hw1/hw1.ipynb", source_notebook())

    # Bad settings and a broken nbgrader notebook: clear 400s, nothing released.
    for bad in ({"late_policy": "maybe"}, {"due": "next tuesday"}, {"instant_feedback": "yes"}):
        resp = _act(prof, course, "release", path="hw1", **bad)
        assert resp.status_code == 400 and "Traceback" not in resp.text, resp.text
    cell = {"cell_type": "code", "metadata": {"nbgrader": {"solution": True}}}  # no source
    broken = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    _put(prof, "broken/hw1.ipynb", json.dumps(broken), kind="file")
    resp = _act(prof, course, "release", path="broken")
    assert resp.status_code == 400 and "not a valid notebook" in resp.json()["message"], resp.text
    assert _act(ada, course, "fetch").status_code == 404

    due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    resp = _act(prof, course, "release", path="hw1", due=due)
    assert resp.status_code == 200, resp.text
    assert resp.json()["autograded"] is True and resp.json()["due"] == due

    # Students get nbgrader's release: no solution, no hidden test.
    for student in (ada, bob):
        assert _act(student, course, "fetch").status_code == 200
    released = json.dumps(_get(ada, f"courses/{course}/hw1/hw1.ipynb"))
    assert "return a + b" not in released and "add(-1, 1)" not in released
    assert "add(1, 2) == 3" in released
    assert _submit_answer(ada, course, RIGHT).json()["late"] is False
    assert _submit_answer(bob, course, WRONG).status_code == 200

    # Grading, settings and the gradebook are the staff's: students get 403.
    assert _act(bob, course, "grade").status_code == 403
    assert _act(bob, course, "settings", late_policy="flag").status_code == 403
    assert _api(bob, "GET", f"{course}/gradebook").status_code == 403
    token = bob.api("POST", f"users/{bob.user}/tokens", json={"note": "t"}).json()["token"]
    service = cosim_stack.public_url(f"services/cosim-courses/api/courses/{course}/gradebook")
    direct = requests.get(service, headers={"Authorization": f"token {token}"}, timeout=10)
    assert direct.status_code == 403

    # Collect autogrades every new submission.
    resp = _act(prof, course, "collect")
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json()["queued"]) == sorted([ada.user, bob.user])
    rows = _wait_graded(prof, course, [ada.user, bob.user])
    assert (rows[ada.user]["score"], rows[ada.user]["max_score"]) == (4.0, 4.0), rows
    assert (rows[bob.user]["score"], rows[bob.user]["max_score"]) == (1.0, 4.0), rows
    assert all(r["fetched"] and r["submitted"] and not r["late"] for r in rows.values())

    # Each student sees their own row and feedback only.
    for student, score in ((ada, "4.0 / 4.0"), (bob, "1.0 / 4.0")):
        mine = _my_rows(student, course)
        assert [r["student"] for r in mine] == [student.user]
        resp = _act(student, course, "feedback")
        assert resp.status_code == 200, resp.text
        html = _get(student, f"courses/{course}/hw1/feedback/hw1.html")
        assert score in html, html[:500]

    # The gradebook: JSON for the panel, CSV in nbgrader's layout, the same scores.
    book = _api(prof, "GET", f"{course}/gradebook").json()
    scores = {r["student_id"]: r["score"] for r in book["rows"]}
    assert scores == {ada.user: 4.0, bob.user: 1.0}
    resp = prof.request("GET", f"user/{prof.user}/cosim/api/courses/{course}/gradebook?format=csv")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    csv_rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert {r["student_id"]: float(r["score"]) for r in csv_rows} == scores
    assert {r["max_score"] for r in csv_rows} == {"4.0"}

    # The deadline passes; no late policy: bob's resubmission is refused, his first one kept.
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    resp = _act(prof, course, "settings", due=past, late_policy="none")
    assert resp.status_code == 200, resp.text
    kept = rows[bob.user]["submitted_at"]
    resp = _submit_answer(bob, course, RIGHT)
    assert resp.status_code == 409, resp.text
    assert "deadline" in resp.json()["message"] and "is kept" in resp.json()["message"]
    bob_row = {r["student"]: r for r in _my_rows(prof, course)}[bob.user]
    assert bob_row["submitted_at"] == kept and bob_row["score"] == 1.0

    # With the "flag" policy and instant feedback, a late resubmission is taken, flagged and
    # graded without a collect.
    resp = _act(prof, course, "settings", late_policy="flag", instant_feedback=True)
    assert resp.status_code == 200, resp.text
    resp = _submit_answer(bob, course, RIGHT)
    assert resp.status_code == 200, resp.text
    assert resp.json()["late"] is True and resp.json()["grading"] is True
    rows = _wait_graded(bob, course, [bob.user])
    assert rows[bob.user]["late"] is True and rows[bob.user]["score"] == 4.0, rows
    csv_text = _api(prof, "GET", f"{course}/gradebook").json()["csv"]
    late_row = {r["student_id"]: r for r in csv.DictReader(io.StringIO(csv_text))}[bob.user]
    assert late_row["timestamp"] > late_row["duedate"], late_row
    assert {r["student"]: r["score"] for r in _my_rows(prof, course)}[ada.user] == 4.0


@pytest.fixture(scope="module")
def graded_hw2(klass: dict[str, HubClient]) -> str:
    """hw2 released, ada's wrong answer (1 of 4) submitted and autograded: the course id."""
    prof, ada = klass["prof"], klass["ada"]
    course = f"gr{prof.user[len('prof') :]}"
    _put(prof, "hw2/hw2.ipynb", source_notebook())
    resp = _api(prof, "POST", f"{course}/assignments/hw2/release", path="hw2")
    assert resp.status_code == 200, resp.text
    assert _api(ada, "POST", f"{course}/assignments/hw2/fetch").status_code == 200
    released = nbformat.from_dict(_get(ada, f"courses/{course}/hw2/hw2.ipynb"))
    _put(ada, f"courses/{course}/hw2/hw2.ipynb", answered(released, WRONG))
    assert _api(ada, "POST", f"{course}/assignments/hw2/submit").status_code == 200
    assert _api(prof, "POST", f"{course}/assignments/hw2/collect").status_code == 200
    row = lambda: _hw2_row(prof, course, ada.user)  # noqa: E731
    assert wait_for(lambda: row().get("graded"), GRADE_TIMEOUT, interval=0.5), row()
    return course


def _hw2_row(prof: HubClient, course: str, student: str) -> dict[str, Any]:
    resp = _api(prof, "GET", f"{course}/assignments")
    (item,) = [a for a in resp.json()["assignments"] if a["name"] == "hw2"]
    return dict({r["student"]: r for r in item["students"]}[student])


def test_manual_grading_snapshot_and_changes(
    cosim_stack: CoSimStack, klass: dict[str, HubClient], graded_hw2: str, tmp_path: Any
) -> None:
    """formgrader on a copy, the exchange's side: staff get a snapshot (with a gradebook copy)
    and send manual changes back, checked: students 403, over the cell's points 400, stale base
    409."""
    import base64

    from nbgrader.api import Gradebook

    prof, ada, course = klass["prof"], klass["ada"], graded_hw2

    def ada_row() -> dict[str, Any]:
        return _hw2_row(prof, course, ada.user)

    assert ada_row()["score"] == 1.0

    def direct(client: HubClient, method: str, action: str, body: Any = None) -> Any:
        token = client.api("POST", f"users/{client.user}/tokens", json={"note": "fg"})
        url = cosim_stack.public_url(
            f"services/cosim-courses/api/courses/{course}/grading/hw2/{action}"
        )
        headers = {"Authorization": f"token {token.json()['token']}"}
        data = json.dumps(body) if body is not None else None
        return requests.request(method, url, headers=headers, data=data, timeout=30)

    # Students get neither the snapshot nor a say in the grades.
    assert direct(ada, "GET", "snapshot").status_code == 403
    change = {"student": ada.user, "notebook": "hw2", "cell": "test_add",
              "manual_score": 3, "base": None}  # fmt: skip
    assert direct(ada, "POST", "manual", {"schema": 2, "changes": [change]}).status_code == 403

    snap = direct(prof, "GET", "snapshot")
    assert snap.status_code == 200, snap.text[:300]
    snap_body = snap.json()
    revisions = snap_body["submissions"]
    assert set(revisions) == {ada.user} and revisions[ada.user] > 0

    def manual(*changes: Any) -> dict[str, Any]:
        return {"schema": 2, "submissions": revisions, "changes": list(changes)}

    files = snap_body["files"]
    assert "source/hw2/hw2.ipynb" in files and f"autograded/{ada.user}/hw2/hw2.ipynb" in files
    assert not any(f.startswith("feedback/") for f in files)  # formgrader never reads it
    copy = tmp_path / "gradebook.db"
    copy.write_bytes(base64.b64decode(files["gradebook.db"]))
    with Gradebook(f"sqlite:///{copy}", course) as gb:
        grade = gb.find_grade("test_add", "hw2", "hw2", ada.user)
        assert (grade.auto_score, grade.manual_score, grade.max_score) == (0.0, None, 3.0)

    # Changes that do not fit: a clear 400 each, nothing applied.
    for bad, word in (
        (change | {"manual_score": 3.5}, "outside"),
        (change | {"manual_score": -1}, "outside"),
        (change | {"cell": "no_such_cell"}, "no such"),
        ({k: v for k, v in change.items() if k != "base"}, "base"),
        (change | {"manual_comment": "x"}, "exactly one"),
    ):
        resp = direct(prof, "POST", "manual", manual(bad))
        assert resp.status_code == 400 and word in resp.json()["message"], resp.text[:300]
    for body, word in (
        ({"schema": 2, "submissions": {}, "changes": [change]}, "no revision"),
        ({"schema": 1, "changes": [change]}, "fresh copy"),  # an older server's request
    ):
        resp = direct(prof, "POST", "manual", body)
        assert resp.status_code == 400 and word in resp.json()["message"], resp.text[:300]
    assert ada_row()["score"] == 1.0

    # The override (the hidden test was too strict, say) and a comment, in one request.
    comment = {"student": ada.user, "notebook": "hw2", "cell": "add",
               "manual_comment": "abs() is not needed", "base": None}  # fmt: skip
    resp = direct(prof, "POST", "manual", manual(change, comment))
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["version"] > snap_body["version"]
    assert ada_row()["score"] == 4.0

    def feedback_says(text: str) -> bool:
        assert _api(ada, "POST", f"{course}/assignments/hw2/feedback").status_code == 200
        return text in json.dumps(_get(ada, f"courses/{course}/hw2/feedback/hw2.html"))

    assert wait_for(lambda: feedback_says("4.0 / 4.0"), 60, interval=0.5)
    book = _api(prof, "GET", f"{course}/gradebook").json()
    assert {(r["assignment"], r["student_id"]): r["score"] for r in book["rows"]}[
        ("hw2", ada.user)
    ] == 4.0

    # The same send again (its answer lost, say): what it sets is already there, no conflict.
    resp = direct(prof, "POST", "manual", manual(change))
    assert resp.status_code == 200 and resp.json()["applied"] == 1, resp.text[:300]
    # Another grader still on the old snapshot: 409 naming the conflict, nothing applied.
    stale = change | {"manual_score": 2}
    resp = direct(prof, "POST", "manual", manual(stale))
    assert resp.status_code == 409 and resp.json()["applied"] == 0, resp.text[:300]
    (conflict,) = resp.json()["conflicts"]
    assert (conflict["cell"], conflict["current"], conflict["reason"]) == ("test_add", 3.0,
                                                                            "changed")  # fmt: skip
    assert ada_row()["score"] == 4.0
    again = direct(prof, "GET", "snapshot").json()
    copy.write_bytes(base64.b64decode(again["files"]["gradebook.db"]))
    with Gradebook(f"sqlite:///{copy}", course) as gb:
        assert gb.find_grade("test_add", "hw2", "hw2", ada.user).manual_score == 3.0
        assert (
            gb.find_comment("add", "hw2", "hw2", ada.user).manual_comment
            == comment["manual_comment"]
        )


def test_formgrader_on_a_copy_in_the_instructors_server(
    klass: dict[str, HubClient], graded_hw2: str
) -> None:
    """The instructor's own server: open fetches the snapshot and points nbgrader's formgrader
    at it, a grade set in formgrader goes back with "send"; formgrader's unsandboxed steps 403."""
    prof, ada, course = klass["prof"], klass["ada"], graded_hw2
    act = f"{course}/formgrader/hw2"
    resp = _api(prof, "POST", f"{act}/open")
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["url"].endswith("/formgrader/gradebook/hw2")
    fg = f"user/{prof.user}/formgrader/api"
    notebooks = prof.request("GET", f"{fg}/submitted_notebooks/hw2/hw2").json()
    (notebook,) = [n for n in notebooks if n["student"] == ada.user]
    grades = prof.request("GET", f"{fg}/grades", params={"submission_id": notebook["id"]}).json()
    test_add = next(g for g in grades if g["name"] == "test_add")
    resp = prof.request("PUT", f"{fg}/grade/{test_add['id']}", data=json.dumps({"manual_score": 2}))
    assert resp.status_code == 200, resp.text[:300]

    # Autograding (student code, as the instructor, unsandboxed) is the Courses panel's.
    resp = prof.request("POST", f"{fg}/submission/hw2/{ada.user}/autograde")
    assert resp.status_code == 403 and "Courses panel" in resp.json()["message"], resp.text[:300]
    # Reopening would lose the unsent grade: refused.
    resp = _api(prof, "POST", f"{act}/open")
    assert resp.status_code == 409 and "not sent" in resp.json()["message"], resp.text[:300]

    resp = _api(prof, "POST", f"{act}/send")
    assert resp.status_code == 200 and resp.json()["applied"] == 1, resp.text[:300]
    assert _hw2_row(prof, course, ada.user)["score"] == 3.0  # 2 by hand + test_more's 1
    assert _api(prof, "POST", f"{act}/send").json()["applied"] == 0
    # A grade given and then thrown away: reopening with discard fetches the course's state.
    resp = prof.request("PUT", f"{fg}/grade/{test_add['id']}", data=json.dumps({"manual_score": 0}))
    assert resp.status_code == 200, resp.text[:300]
    assert _api(prof, "POST", f"{act}/open", discard=True).status_code == 200
    assert _api(prof, "POST", f"{act}/send").json()["applied"] == 0
    assert _hw2_row(prof, course, ada.user)["score"] == 3.0
    # A student's server gets no snapshot of the course.
    assert _api(ada, "POST", f"{act}/open").status_code == 403


def test_regraded_since_the_copy_is_held_back_and_the_others_apply(
    klass: dict[str, HubClient], graded_hw2: str
) -> None:
    """Student A resubmits and is autograded again after the instructor opened formgrader: the
    grade given to A on the old copy is held back (409 naming A's submission, "regraded"), the
    grade given to B in the same send is applied, and only A's change stays unsent until a
    fresh copy is opened. Through the instructor's own server, as the Courses panel sends it."""
    prof, ada, bob, course = klass["prof"], klass["ada"], klass["bob"], graded_hw2
    where = f"{course}/assignments/hw2"
    assert _api(bob, "POST", f"{where}/fetch").status_code == 200
    released = nbformat.from_dict(_get(bob, f"courses/{course}/hw2/hw2.ipynb"))
    _put(bob, f"courses/{course}/hw2/hw2.ipynb", answered(released, WRONG))
    assert _api(bob, "POST", f"{where}/submit").status_code == 200
    assert _api(prof, "POST", f"{where}/grade").json()["queued"] == [bob.user]
    bob_row = lambda: _hw2_row(prof, course, bob.user)  # noqa: E731
    assert wait_for(lambda: bob_row().get("graded"), GRADE_TIMEOUT, interval=0.5), bob_row()
    bob_score = bob_row()["score"]

    act = f"{course}/formgrader/hw2"
    assert _api(prof, "POST", f"{act}/open", discard=True).status_code == 200
    fg = f"user/{prof.user}/formgrader/api"
    notebooks = prof.request("GET", f"{fg}/submitted_notebooks/hw2/hw2").json()
    for student, score in ((ada.user, 1), (bob.user, 2.5)):
        (notebook,) = [n for n in notebooks if n["student"] == student]
        grades = prof.request("GET", f"{fg}/grades", params={"submission_id": notebook["id"]})
        test_add = next(g for g in grades.json() if g["name"] == "test_add")
        resp = prof.request(
            "PUT", f"{fg}/grade/{test_add['id']}", data=json.dumps({"manual_score": score})
        )
        assert resp.status_code == 200, resp.text[:300]

    # Ada hands in again and is graded again, after the copy was taken.
    before = _hw2_row(prof, course, ada.user)
    ada_nb = nbformat.from_dict(_get(ada, f"courses/{course}/hw2/hw2.ipynb"))
    _put(ada, f"courses/{course}/hw2/hw2.ipynb", answered(ada_nb, RIGHT))
    assert _api(ada, "POST", f"{where}/submit").status_code == 200
    assert _api(prof, "POST", f"{where}/grade").json()["queued"] == [ada.user]

    def regraded() -> bool:
        row = _hw2_row(prof, course, ada.user)
        return bool(row.get("graded") and row["submitted_at"] != before["submitted_at"])

    assert wait_for(regraded, GRADE_TIMEOUT, interval=0.5), _hw2_row(prof, course, ada.user)
    ada_score = _hw2_row(prof, course, ada.user)["score"]

    resp = _api(prof, "POST", f"{act}/send")
    assert resp.status_code == 409, resp.text[:300]
    body = resp.json()
    assert body["applied"] == 1, body
    assert {(c["student"], c["notebook"], c["cell"], c["reason"]) for c in body["conflicts"]} == {
        (ada.user, "hw2", "test_add", "regraded")
    }
    assert f"{ada.user}/hw2 was autograded again" in body["message"]
    assert "fresh copy" in body["message"] and bob.user not in body["message"]
    assert _hw2_row(prof, course, ada.user)["score"] == ada_score  # not the old copy's grade
    assert _hw2_row(prof, course, bob.user)["score"] == bob_score + 2.5

    # Only ada's change is still unsent: sending again holds it back again and applies nothing.
    again = _api(prof, "POST", f"{act}/send").json()
    assert again["applied"] == 0 and {c["student"] for c in again["conflicts"]} == {ada.user}
    resp = _api(prof, "POST", f"{act}/open")
    assert resp.status_code == 409 and "not sent" in resp.json()["message"], resp.text[:300]
    # A fresh copy has the regraded submission and bob's grade; nothing left to send.
    assert _api(prof, "POST", f"{act}/open", discard=True).status_code == 200
    assert _api(prof, "POST", f"{act}/send").json()["applied"] == 0
