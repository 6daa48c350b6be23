"""The Courses panel grades, in headless Chromium: the instructor releases an nbgrader-format
assignment with a deadline, two students submit (one right, one wrong), the instructor presses
Collect, the sandbox autogrades, and the gradebook table fills in by itself; its CSV download
matches; a grade given in nbgrader's formgrader (opened from the panel) comes back with "Send
grades", and one given on a copy older than the student's regraded resubmission is held back, the
panel naming it and opening a fresh copy. A student's panel shows their own score and nobody
else's."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from pathlib import Path
from typing import Any

import nbformat

from cosim_testing.hub_client import HubClient
from cosim_testing.nbgrader_assignment import RIGHT, WRONG, answered, source_notebook
from cosim_testing.plugin import lab_login
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
GRADE_TIMEOUT = 120_000
PANEL = "#cosim-courses-panel"


def _put(client: HubClient, path: str, notebook: Any) -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        client.request("PUT", f"user/{client.user}/api/contents/{'/'.join(parts[:i])}",
                       data=json.dumps({"type": "directory"}))  # fmt: skip
    body = {"type": "notebook", "format": "json", "content": notebook}
    resp = client.request("PUT", f"user/{client.user}/api/contents/{path}", data=json.dumps(body))
    assert resp.status_code in (200, 201), resp.text[:300]


def _hand_in(student: HubClient, course: str, solution: str) -> None:
    base = f"user/{student.user}/cosim/api/courses/{course}/assignments/hw1"
    assert student.request("POST", f"{base}/fetch").status_code == 200
    resp = student.request(
        "GET", f"user/{student.user}/api/contents/courses/{course}/hw1/hw1.ipynb"
    )
    released = nbformat.from_dict(resp.json()["content"])
    _put(student, f"courses/{course}/hw1/hw1.ipynb", answered(released, solution))
    resp = student.request("POST", f"{base}/submit")
    assert resp.status_code == 200, resp.text[:300]


def _row(prof: HubClient, course: str, student: str) -> dict[str, Any]:
    resp = prof.request("GET", f"user/{prof.user}/cosim/api/courses/{course}/assignments")
    (hw1,) = [a for a in resp.json()["assignments"] if a["name"] == "hw1"]
    return dict({r["student"]: r for r in hw1["students"]}[student])


def _give(prof: HubClient, student: str, cell: str, score: float) -> None:
    """A manual score given in the instructor's formgrader (its REST API, as its page does)."""
    fg = f"user/{prof.user}/formgrader/api"
    (notebook,) = [n for n in prof.request("GET", f"{fg}/submitted_notebooks/hw1/hw1").json()
                   if n["student"] == student]  # fmt: skip
    grades = prof.request("GET", f"{fg}/grades", params={"submission_id": notebook["id"]}).json()
    grade = next(g for g in grades if g["name"] == cell)
    body = json.dumps({"manual_score": score})
    resp = prof.request("PUT", f"{fg}/grade/{grade['id']}", data=body)
    assert resp.status_code == 200, resp.text[:300]


def _open_panel(page: Any, stack: CoSimStack, name: str, password: str) -> None:
    lab_login(page, stack, name, password)
    page.goto(stack.public_url(f"user/{name}/lab?reset"))
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_TIMEOUT)
    tab = page.locator(".jp-SideBar [data-id='cosim-courses-panel']")
    tab.wait_for(timeout=LAB_TIMEOUT)
    tab.click()


def test_collect_grades_and_gradebook_table(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_context: Any, cosim_artifacts: Path
) -> None:
    from playwright.sync_api import expect

    tag = secrets.token_hex(2)
    prof, prof_password = cosim_stack.new_user(f"teach{tag}")
    ada, ada_password = cosim_stack.new_user(f"ada{tag}")
    bob, _ = cosim_stack.new_user(f"bob{tag}")
    course = f"gb{tag}"
    roster = {"id": course, "title": "Robot Control", "instructors": [prof.user],
              "students": [ada.user, bob.user]}  # fmt: skip
    assert cosim_stack.admin_client().api("POST", "cosim/courses", json=roster).status_code == 201
    for client in (prof, ada, bob):
        client.spawn()
        client.open_lab()
    _put(prof, "hw1/hw1.ipynb", source_notebook())

    page = cosim_context.new_page()
    _open_panel(page, cosim_stack, prof.user, prof_password)
    section = page.locator(f"{PANEL} section[data-course='{course}']")
    expect(section).to_have_attribute("data-role", "instructor", timeout=30_000)
    section.locator(".cosim-Courses-assignmentName").fill("hw1")
    due = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 7 * 86400))
    section.locator(".cosim-Courses-dueInput").fill(due)
    section.locator(".cosim-Courses-latePolicy").select_option("flag")
    section.locator("button.cosim-Courses-release").click()
    status = page.locator(f"{PANEL} .cosim-Courses-status")
    expect(status).to_contain_text("Released hw1 (1 files)", timeout=60_000)
    item = section.locator("li[data-assignment='hw1']")
    expect(item.locator(".cosim-Courses-due")).to_contain_text("due ")

    _hand_in(ada, course, RIGHT)
    _hand_in(bob, course, WRONG)
    page.locator(f"{PANEL} button.cosim-Courses-refresh").click()
    table = section.locator(".cosim-Courses-gradebookTable")
    cell = "tr[data-student='{}'] td[data-assignment='hw1']"
    expect(table.locator(cell.format(ada.user))).to_have_text("submitted", timeout=30_000)

    item.locator("button.cosim-Courses-collect").click()
    expect(status).to_contain_text("grading 2", timeout=60_000)
    # No clicks: the panel looks again by itself while the sandbox grades.
    expect(table.locator(cell.format(ada.user))).to_have_text("4 / 4", timeout=GRADE_TIMEOUT)
    expect(table.locator(cell.format(bob.user))).to_have_text("1 / 4", timeout=GRADE_TIMEOUT)
    page.locator(PANEL).screenshot(path=str(cosim_artifacts / "courses-gradebook.png"))

    with page.expect_download() as download_info:
        section.locator("button.cosim-Courses-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {ada.user: 4.0, bob.user: 1.0}

    # Manual grading: "Formgrader" opens nbgrader's formgrader (in a new tab) on a copy of hw1;
    # a grade given there reaches the gradebook with "Send grades".
    with page.expect_popup() as popup_info:
        item.locator("button.cosim-Courses-formgrader").click()
    popup = popup_info.value
    popup.wait_for_url(f"**/user/{prof.user}/formgrader/gradebook/hw1", timeout=60_000)
    expect(status).to_contain_text("grade there, then Send grades", timeout=30_000)
    _give(prof, bob.user, "test_add", 2)
    popup.close()
    item.locator("button.cosim-Courses-sendGrades").click()
    expect(status).to_contain_text("Sent 1 manual grades of hw1", timeout=30_000)
    expect(table.locator(cell.format(bob.user))).to_have_text("3 / 4")

    # A grade given on a copy taken before ada handed in again and was graded again is held
    # back: the panel names her notebook, says why, and opens a fresh copy.
    with page.expect_popup() as popup_info:
        item.locator("button.cosim-Courses-formgrader").click()
    expect(status).to_contain_text("grade there, then Send grades", timeout=30_000)
    popup_info.value.close()
    _give(prof, ada.user, "test_add", 1)
    handed_in = _row(prof, course, ada.user)["submitted_at"]
    _hand_in(ada, course, RIGHT)
    item.locator("button.cosim-Courses-grade").click()
    expect(status).to_contain_text("Grading 1 new submissions", timeout=30_000)

    def regraded() -> bool:
        row = _row(prof, course, ada.user)
        return bool(row.get("graded") and row["submitted_at"] != handed_in)

    assert wait_for(regraded, GRADE_TIMEOUT / 1000, interval=0.5), _row(prof, course, ada.user)
    item.locator("button.cosim-Courses-sendGrades").click()
    conflicts = page.locator(f"{PANEL} .cosim-Courses-conflicts")
    held = conflicts.locator(f"li[data-student='{ada.user}'][data-notebook='hw1']")
    expect(held).to_contain_text("autograded since your copy (test_add)", timeout=30_000)
    expect(conflicts).to_contain_text("Sent 0 manual grades of hw1")
    page.locator(PANEL).screenshot(path=str(cosim_artifacts / "courses-grade-conflict.png"))
    expect(table.locator(cell.format(ada.user))).to_have_text("4 / 4")  # not the stale 1
    with page.expect_popup() as popup_info:
        conflicts.locator("button.cosim-Courses-freshCopy").click()
    popup_info.value.wait_for_url(f"**/user/{prof.user}/formgrader/gradebook/hw1", timeout=60_000)
    expect(status).to_contain_text("grade there, then Send grades", timeout=30_000)
    expect(conflicts).to_have_count(0)
    popup_info.value.close()

    # The student's panel: their own score, no gradebook, nobody else's name.
    student_context = cosim_browser.new_context(viewport={"width": 1400, "height": 900})
    student_page = student_context.new_page()
    _open_panel(student_page, cosim_stack, ada.user, ada_password)
    mine = student_page.locator(f"{PANEL} section[data-course='{course}']")
    expect(mine).to_have_attribute("data-role", "student", timeout=30_000)
    expect(mine.locator("li[data-assignment='hw1'] .cosim-Courses-myGrade")).to_have_text("4 / 4")
    assert mine.locator(".cosim-Courses-gradebook").count() == 0
    assert bob.user not in mine.inner_text()
    student_context.close()
