"""The course setup page in headless Chromium: the admin follows the hub's "Courses" link,
creates a course, uploads a CSV roster (a bad one first: per-line errors, nothing changed), and
approves the roster's pending sign-ups with one button; a student then logs in."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from cosim_testing.stack import CoSimStack


def hub_login(page: Any, stack: CoSimStack, name: str, password: str) -> None:
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)


def test_create_course_upload_roster_and_approve(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tag = secrets.token_hex(2)
    ivy, _ = cosim_stack.new_user(f"prof{tag}")
    pending = {f"kid{i}{tag}": secrets.token_urlsafe(10) for i in range(3)}
    for name, password in pending.items():
        cosim_stack.client().signup(name, password)
    course = f"lab{tag}"

    page = cosim_context.new_page()
    hub_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    page.goto(f"{cosim_stack.url}/hub/home")
    page.click("#cosim-courses-nav")
    expect(page.locator("h1")).to_have_text("Courses")

    page.fill("#course-id", course)
    page.fill("#course-title", "Robot Lab")
    page.fill("#course-instructors", ivy.user)
    page.click("#cosim-new-course button[type=submit]")
    card = page.locator(f"[data-course='{course}']")
    expect(page.locator("#cosim-courses-message")).to_contain_text(f"Created course {course}")

    bad = tmp_path / "bad.csv"
    bad.write_text(f"username,role\n{next(iter(pending))},student\nno such name!,student\n")
    card.locator("input[name=roster]").set_input_files(str(bad))
    card.locator(".cosim-roster-form button[type=submit]").click()
    errors = page.locator("#cosim-courses-errors")
    expect(errors).to_contain_text("line 3")
    expect(card.locator("tr[data-user]")).to_have_count(1)  # only the instructor

    good = tmp_path / "roster.csv"
    good.write_text("username,role\n" + "".join(f"{n},student\n" for n in pending))
    card.locator("input[name=roster]").set_input_files(str(good))
    card.locator(".cosim-roster-form button[type=submit]").click()
    expect(page.locator("#cosim-courses-message")).to_contain_text("Imported 3 people")
    expect(card.locator(".cosim-account-pending")).to_have_count(3)

    card.locator(".cosim-approve-form button").click()
    expect(page.locator("#cosim-courses-message")).to_contain_text("Approved 3 pending")
    expect(card.locator(".cosim-account-approved")).to_have_count(4)
    page.screenshot(path=str(cosim_artifacts / "course-setup-page.png"), full_page=True)

    name, password = next(iter(pending.items()))
    cosim_stack.client().login(name, password)  # approved: the login goes through
