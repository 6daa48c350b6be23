"""The course setup page (/hub/cosim/courses) on the real stack: create a course with a CSV
roster, per-line errors that change nothing, bulk approval of pending sign-ups, and who may do
what (reading is not acting). Forms are posted as a browser posts them (multipart + _xsrf)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from cosim_testing.hub_client import HubClient, HubError
from cosim_testing.stack import CoSimStack

pytestmark = pytest.mark.stack

PAGE = "hub/cosim/courses"


def _post(
    client: HubClient, path: str, csv: str | bytes | None = None, **fields: str
) -> requests.Response:
    body = csv.encode() if isinstance(csv, str) else csv
    files = {"roster": ("roster.csv", body, "text/csv")} if body is not None else None
    data: dict[str, Any] = {"_xsrf": client._xsrf(), **fields}
    return client.request("POST", path, data=data, files=files, allow_redirects=False)


def _course(admin: HubClient, cid: str) -> dict[str, Any]:
    resp = admin.api("GET", f"cosim/courses/{cid}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture(scope="module")
def people(cosim_stack: CoSimStack) -> dict[str, Any]:
    tag = secrets.token_hex(2)
    found: dict[str, Any] = {"tag": tag}
    for who in ("ivy", "tom", "stu", "eve", "cat"):
        found[who], _ = cosim_stack.new_user(f"{who}{tag}")
    admin = cosim_stack.admin_client()
    # cat is in the course creators' group (c.CoSimCourses.creators_group, "instructors").
    admin.api("POST", "groups/instructors")
    resp = admin.api("POST", "groups/instructors/users", json={"users": [found["cat"].user]})
    assert resp.status_code == 200, resp.text
    found["admin"] = admin
    return found


def test_admin_creates_imports_and_approves(
    cosim_stack: CoSimStack, people: dict[str, Any]
) -> None:
    admin, tag = people["admin"], people["tag"]
    ivy, tom = people["ivy"].user, people["tom"].user
    pending = {f"new{i}{tag}": secrets.token_urlsafe(10) for i in range(2)}
    for name, password in pending.items():
        cosim_stack.client().signup(name, password)
    cid = f"setup{tag}"

    home = admin.request("GET", "hub/home")
    assert 'id="cosim-courses-nav"' in home.text  # linked from the hub's navigation bar
    roster = "username,role\n" + "".join(f"{n},student\n" for n in pending) + f"{tom},TA\n"
    resp = _post(admin, PAGE, roster, id=cid, title="Robots", instructors=ivy)
    assert resp.status_code == 201, resp.text[-500:]
    assert "navbar" in resp.text and f'data-course="{cid}"' in resp.text  # the hub's own page
    course = _course(admin, cid)
    assert (course["instructors"], course["tas"]) == ([ivy], [tom])
    assert course["students"] == sorted(pending)
    assert _post(admin, PAGE, id=cid, instructors=ivy).status_code == 409

    # A roster with bad lines names each one and changes nothing.
    bad = f"alice{tag},student\nnot a name,student\nbob{tag},professor\nalice{tag},ta\n"
    resp = _post(admin, f"{PAGE}/{cid}/roster", bad)
    assert resp.status_code == 400
    for line in ("line 2", "line 3", "line 4"):
        assert line in resp.text, line
    assert "Traceback" not in resp.text
    assert _course(admin, cid)["students"] == sorted(pending)
    # Demoting the only instructor is refused as a whole too.
    assert _post(admin, f"{PAGE}/{cid}/roster", f"{ivy},student\n").status_code == 400
    resp = _post(admin, f"{PAGE}/{cid}/roster", b"caf\xe9,student\n")
    assert resp.status_code == 400 and "not UTF-8" in resp.text

    # Pending sign-ups cannot log in until the one approval action.
    name, password = next(iter(pending.items()))
    with pytest.raises(HubError):
        cosim_stack.client().login(name, password)
    page = admin.request("GET", PAGE).text
    assert "Approve 2 pending accounts" in page
    resp = _post(admin, f"{PAGE}/{cid}/approve")
    assert resp.status_code == 200 and "Approved 2 pending accounts" in resp.text
    for name, password in pending.items():
        cosim_stack.client().login(name, password)


def test_who_may_read_and_act(cosim_stack: CoSimStack, people: dict[str, Any]) -> None:
    admin, tag = people["admin"], people["tag"]
    ivy, tom, stu, eve, cat = (people[w] for w in ("ivy", "tom", "stu", "eve", "cat"))
    cid, other = f"guard{tag}", f"other{tag}"
    roster = f"{tom.user},ta\n{stu.user},student\n"
    assert _post(admin, PAGE, roster, id=cid, instructors=ivy.user).status_code == 201
    assert _post(admin, PAGE, id=other, instructors=eve.user).status_code == 201

    anonymous = cosim_stack.client()
    resp = anonymous.request("GET", PAGE, allow_redirects=False)
    assert resp.status_code == 302 and "/hub/login" in resp.headers["Location"]
    assert _post(anonymous, PAGE, id="anon", instructors=eve.user).status_code == 403

    # Reading: staff see their courses; a student sees nothing.
    assert stu.request("GET", PAGE).status_code == 403
    tom_page = tom.request("GET", PAGE)
    assert tom_page.status_code == 200 and f'data-course="{cid}"' in tom_page.text
    assert f'data-course="{other}"' not in tom_page.text
    assert "cosim-roster-form" not in tom_page.text  # a TA reads the roster, does not import

    # Acting: only admins and creators create; only instructors import; only admins approve.
    assert _post(stu, PAGE, id=f"mine{tag}", instructors=stu.user).status_code == 403
    assert _post(tom, f"{PAGE}/{cid}/roster", f"{eve.user},student\n").status_code == 403
    assert _post(ivy, f"{PAGE}/{other}/roster", f"{stu.user},student\n").status_code == 403
    assert _post(ivy, f"{PAGE}/{cid}/approve").status_code == 403
    assert _post(stu, f"{PAGE}/{cid}/approve").status_code == 403
    assert _course(admin, cid)["students"] == [stu.user]
    assert _course(admin, other)["students"] == []

    resp = _post(ivy, f"{PAGE}/{cid}/roster", f"{eve.user},student\n")
    assert resp.status_code == 200, resp.text[-300:]
    assert _course(admin, cid)["students"] == sorted([stu.user, eve.user])

    # A creator's course always has them as an instructor.
    assert 'id="cosim-courses-nav"' in ivy.request("GET", "hub/home").text  # staff
    assert 'id="cosim-courses-nav"' in cat.request("GET", "hub/home").text  # a creator
    assert 'id="cosim-courses-nav"' not in stu.request("GET", "hub/home").text
    assert _post(cat, PAGE, id=f"cat{tag}", instructors=ivy.user).status_code == 201
    assert _course(admin, f"cat{tag}")["instructors"] == sorted([cat.user, ivy.user])

    # Without the hub's XSRF token a logged-in admin's form post does nothing.
    resp = admin.session.post(
        admin.url(PAGE), data={"id": f"xsrf{tag}", "instructors": ivy.user}, timeout=30
    )
    assert resp.status_code == 403
    assert admin.api("GET", f"cosim/courses/xsrf{tag}").status_code == 404
