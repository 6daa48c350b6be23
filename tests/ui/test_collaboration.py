"""Two different hub users in two Chromium contexts: alice shares her server with bob through the
Share dialog, runs the unchanged viewer loop in a real kernel, bob watches and steers it (pause,
step, a param slider), both see each other, and alice revokes bob from the dialog."""

from __future__ import annotations

import json
import secrets
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from cosim_protocol.viewer import decode_frame
from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_testing.plugin import hub_login, open_lab_url, write_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
DOCS = Path(__file__).resolve().parents[2] / "docs"

CELL = """\
import time, mujoco, cosim
xml = '''<mujoco><worldbody><light pos="0 0 3"/><geom type="plane" size="2 2 .1"/>
<body pos="0 0 1"><freejoint/><geom type="box" size=".1 .1 .1" rgba=".9 .2 .2 1"/></body>
<body pos="-.3 0 .5"><joint type="hinge" axis="0 1 0"/>
  <geom type="capsule" fromto="0 0 0 .4 0 0" size=".05" rgba=".2 .8 .3 1"/></body>
</worldbody></mujoco>'''
model = mujoco.MjModel.from_xml_string(xml)
data = mujoco.MjData(model)
deadline = time.time() + 240
seen = None
with cosim.viewer(model, data, title="shared-sim") as v:
    while v.running and time.time() < deadline:
        kp = v.param("kp", 10.0, min=0, max=100)
        if kp != seen:
            seen = kp
            open("kp.txt", "w").write(repr(kp))
        mujoco.mj_step(model, data)
        v.sync()
print("loop done", v.running)
"""


def _open_lab(page: Any, stack: CoSimStack, owner: str, notebook: str) -> None:
    open_lab_url(page, f"{stack.url}/user/{owner}/lab/tree/{notebook}?reset", LAB_TIMEOUT)


def _run_first_cell(page: Any) -> None:
    # Focus the notebook first (the Share dialog had it): the status bar then shows its kernel.
    page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=LAB_TIMEOUT)
    page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    page.locator(f"{PANEL} .jp-InputPrompt", has_text="[*]").first.wait_for(timeout=30_000)


def _frame(alice: HubClient, sim_id: str) -> Any:
    resp = alice.request("GET", f"user/{alice.user}/cosim/api/sims/{sim_id}/frame")
    return decode_frame(resp.content)


def _latest(alice: HubClient, sim_id: str) -> tuple[int, float]:
    """Frame number and sim time of the kernel's latest published frame."""
    frame = _frame(alice, sim_id)
    return frame.number, frame.sim_time


def _read(alice: HubClient, path: str) -> str | None:
    resp = alice.request("GET", f"user/{alice.user}/api/contents/{path}?content=1")
    return str(resp.json()["content"]) if resp.status_code == 200 else None


def _until(predicate: Any, timeout: float = 10.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _side_by_side(left: bytes, right: bytes, out: Path) -> None:
    from PIL import Image

    a, b = Image.open(BytesIO(left)), Image.open(BytesIO(right))
    joined = Image.new("RGB", (a.width + b.width + 8, max(a.height, b.height)), "white")
    joined.paste(a, (0, 0))
    joined.paste(b, (a.width + 8, 0))
    joined.save(out)


def _group_with_member(stack: CoSimStack, member: str) -> tuple[str, HubClient]:
    """A new hub group (made by the admin) holding one new user, ``member``."""
    group = f"lab-{secrets.token_hex(3)}"
    client, _ = stack.new_user(member)
    admin = stack.admin_client()
    assert admin.api("POST", f"groups/{group}").status_code == 201
    added = admin.api("POST", f"groups/{group}/users", json={"users": [member]})
    assert added.status_code == 200, added.text
    return group, client


def test_share_watch_steer_and_revoke_in_two_browsers(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    tag = secrets.token_hex(2)
    alice, alice_pw = cosim_stack.new_user(f"alice{tag}")
    bob, bob_pw = cosim_stack.new_user(f"bob{tag}")
    a, b = str(alice.user), str(bob.user)
    alice.spawn()
    alice.open_lab()
    notebook = write_notebook(alice, CELL, "shared")
    contexts = [cosim_browser.new_context(viewport={"width": 1300, "height": 900}) for _ in "ab"]
    page_a, page_b = (ctx.new_page() for ctx in contexts)
    try:
        # alice shares with bob from Lab's Share dialog...
        group, carol = _group_with_member(cosim_stack, f"carol{tag}")
        hub_login(page_a, cosim_stack, a, alice_pw)
        _open_lab(page_a, cosim_stack, a, notebook)
        page_a.locator("#cosim-share-button").click()
        page_a.locator(".cosim-Share-who").select_option(f"user:{b}")
        page_a.locator(".cosim-Share-addButton").click()
        bob_item = page_a.locator(f".cosim-Share-item[data-kind='user'][data-name='{b}']")
        bob_item.wait_for(timeout=30_000)
        # ...and with a group: carol, a member, may enter; revoked there, she may not.
        page_a.locator(".cosim-Share-who").select_option(f"group:{group}")
        page_a.locator(".cosim-Share-addButton").click()
        group_item = page_a.locator(f".cosim-Share-item[data-kind='group'][data-name='{group}']")
        group_item.filter(has_text="can edit").wait_for(timeout=30_000)
        page_a.screenshot(path=str(cosim_artifacts / "collab-share-dialog.png"))
        assert carol.open_shared(a).status_code == 200
        assert carol.request("GET", f"user/{a}/api/contents").status_code == 200
        group_item.locator(".cosim-Share-revoke").click()
        group_item.wait_for(state="detached", timeout=30_000)
        gone = carol.request("GET", f"user/{a}/api/contents", allow_redirects=False)
        assert gone.status_code == 403
        page_a.get_by_role("button", name="Done").click()

        # alice runs the unchanged loop; her viewer shows the control row.
        _run_first_cell(page_a)
        viewer_a = page_a.locator(f"{PANEL} .jp-OutputArea .cosim-Viewer").first
        viewer_a.wait_for(timeout=60_000)
        sim_id = str(viewer_a.get_attribute("data-sim-id"))
        page_a.locator(".cosim-Control-pauseRun").first.wait_for(timeout=30_000)

        # bob opens alice's notebook and sees the sim live; each sees the other's avatar.
        hub_login(page_b, cosim_stack, b, bob_pw)
        _open_lab(page_b, cosim_stack, a, notebook)
        viewer_b = page_b.locator(f".jp-OutputArea .cosim-Viewer[data-sim-id='{sim_id}']").first
        viewer_b.wait_for(timeout=LAB_TIMEOUT)
        page_b.wait_for_function(
            f"() => Number(document.querySelector(\".cosim-Viewer[data-sim-id='{sim_id}']\")"
            "?.dataset.frame) > 0",
            timeout=60_000,
        )
        page_a.locator(f".cosim-Avatar[data-user='{b}']").first.wait_for(timeout=30_000)
        page_b.locator(f".cosim-Avatar[data-user='{a}']").first.wait_for(timeout=30_000)
        # Real time by default: sim time advances about as fast as the wall clock.
        n0, t0 = _latest(alice, sim_id)
        time.sleep(1.0)
        n1, t1 = _latest(alice, sim_id)
        assert n1 > n0 and 0.5 < t1 - t0 < 1.5, (t0, t1)

        # bob's toolbar presses through sim-control.json's RTC document once the server takes
        # presses from it (until then, over his viewer socket).
        page_b.locator(".cosim-Control[data-road='document']").first.wait_for(timeout=30_000)
        # bob pauses: alice's kernel's sim time stops within 1 s.
        # The press's own moment, taken in bob's page (Playwright's click adds its own waits).
        pressed = page_b.evaluate(
            "() => { const t = Date.now();"
            " document.querySelector('.cosim-Control-pauseRun').click(); return t / 1000; }"
        )
        assert _until(lambda: _stable(alice, sim_id), timeout=5.0, step=0.0)
        last = _frame(alice, sim_id)
        assert last.wall_time - pressed < 1.0, f"frames went on {last.wall_time - pressed:.2f} s"
        status = page_a.locator(".cosim-Control-status").first
        status.filter(has_text=f"{b} paused at t = ").wait_for(timeout=10_000)
        # It went toolbar -> the RTC document -> the server's observer, credited to bob.
        control = alice.request("GET", f"user/{a}/cosim/api/sims/{sim_id}/control").json()
        event = control["events"][-1]
        assert (event["who"], event["what"], event["via"]) == (b, "paused", "document"), event

        # bob steps three times: exactly three more frames.
        frames, _ = _latest(alice, sim_id)
        for _ in range(3):
            page_b.locator(".cosim-Control-step").first.click()
        assert _until(lambda: _latest(alice, sim_id)[0] == frames + 3, timeout=10)
        time.sleep(1.0)
        assert _latest(alice, sim_id)[0] == frames + 3

        # bob's slider changes what v.param returns in alice's kernel.
        page_b.locator(".cosim-Control-slider[data-name='kp']").first.fill("42")
        page_b.locator(".cosim-Control-pauseRun").first.click()  # run again
        assert _until(lambda: _read(alice, "kp.txt") == "42.0", timeout=10), _read(alice, "kp.txt")

        # alice and bob change different controls at the same moment (both pages act at one
        # shared wall-clock instant): both apply, the file stays valid JSON, the viewers agree.
        at = time.time() + 0.5
        act = (
            "([sel, value, at]) => setTimeout(() => { const e = document.querySelector(sel);"
            " e.value = value; e.dispatchEvent(new Event('change')); }, at * 1000 - Date.now())"
        )
        page_a.evaluate(act, [".cosim-Control-speed", "0.5", at])
        page_b.evaluate(act, [".cosim-Control-seed", "7", at])
        url = f"user/{a}/cosim/api/sims/{sim_id}/control"

        def both_applied() -> bool:
            doc = alice.request("GET", url).json()
            return bool(doc["speed"] == 0.5 and doc["seed"] == 7)

        assert _until(both_applied, timeout=10), alice.request("GET", url).json()

        def on_disk() -> tuple[float, int]:
            doc = json.loads(_read(alice, "sim-control.json") or "{}")  # must parse, always
            return doc.get("speed"), doc.get("seed")

        assert _until(lambda: on_disk() == (0.5, 7), timeout=10), on_disk()
        for page in (page_a, page_b):
            page.wait_for_function(
                "() => document.querySelector('.cosim-Control-speed').value === '0.5' &&"
                " document.querySelector('.cosim-Control-seed').value === '7'",
                timeout=10_000,
            )

        page_b.wait_for_timeout(500)
        shots = (
            viewer_a.locator("xpath=..").screenshot(),
            viewer_b.locator("xpath=..").screenshot(),
        )
        _side_by_side(*shots, cosim_artifacts / "collab-two-users.png")
        DOCS.mkdir(exist_ok=True)
        _side_by_side(*shots, DOCS / "lab-collaboration.png")

        # alice revokes bob in the dialog: his viewer ends, his next request is refused.
        page_a.locator("#cosim-share-button").click()
        bob_item.locator(".cosim-Share-revoke").click()
        bob_item.wait_for(state="detached", timeout=30_000)
        page_a.get_by_role("button", name="Done").click()
        page_b.wait_for_function(
            f"() => document.querySelector(\".cosim-Viewer[data-sim-id='{sim_id}']\")"
            "?.dataset.state === 'ended'",
            timeout=10_000,
        )
        status_code = page_b.evaluate(f"async () => (await fetch('/user/{a}/api/contents')).status")
        assert status_code == 403

        page_a.locator(".cosim-Viewer-stop").first.click()
        page_a.locator(f"{PANEL} .jp-OutputArea-output", has_text="loop done False").wait_for(
            timeout=60_000
        )
    except Exception:
        for i, page in enumerate((page_a, page_b)):
            page.screenshot(path=str(cosim_artifacts / f"failed-collab-{i}.png"))
        raise
    finally:
        for ctx in contexts:
            ctx.close()


def _stable(alice: HubClient, sim_id: str) -> bool:
    """No new frame for 0.3 s (a paused sim blocks in sync() and publishes nothing)."""
    before = _latest(alice, sim_id)
    time.sleep(0.3)
    return _latest(alice, sim_id) == before


def test_remote_cursor_carries_the_other_users_hub_name(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    """bob types in alice's notebook: in alice's browser his caret's label reads his hub name."""
    tag = secrets.token_hex(2)
    alice, alice_pw = cosim_stack.new_user(f"alice{tag}")
    bob, bob_pw = cosim_stack.new_user(f"bob{tag}")
    a, b = str(alice.user), str(bob.user)
    alice.spawn()
    alice.open_lab()
    notebook = write_notebook(alice, "x = 1\n", "shared")
    shared = alice.request("POST", f"user/{a}/cosim/api/shares", data=json.dumps({"user": b}))
    assert shared.status_code == 200, shared.text
    contexts = [cosim_browser.new_context(viewport={"width": 1100, "height": 700}) for _ in "ab"]
    page_a, page_b = (ctx.new_page() for ctx in contexts)
    try:
        hub_login(page_a, cosim_stack, a, alice_pw)
        _open_lab(page_a, cosim_stack, a, notebook)
        hub_login(page_b, cosim_stack, b, bob_pw)
        _open_lab(page_b, cosim_stack, a, notebook)
        editor_b = page_b.locator(f"{PANEL} .jp-Cell .cm-content").first
        editor_b.wait_for(timeout=LAB_TIMEOUT)
        editor_b.click()
        page_b.keyboard.press("End")
        page_b.keyboard.type("  # bob was here", delay=20)

        # alice sees bob's edit and his caret; the caret's flag (shown on activity and on
        # hover) names him by his hub name.
        cell_a = page_a.locator(f"{PANEL} .jp-Cell").first
        cell_a.locator(".cm-content", has_text="bob was here").wait_for(timeout=30_000)
        caret = cell_a.locator(".jp-remote-cursor").first
        caret.wait_for(timeout=30_000)
        flag = page_a.locator(".jp-remote-userFlag-name", has_text=b).first
        if not flag.count():
            caret.hover(force=True)
        flag.wait_for(timeout=10_000)
        assert flag.inner_text().strip() == b
        page_a.screenshot(path=str(cosim_artifacts / "collab-cursor-label.png"))
    except Exception:
        for i, page in enumerate((page_a, page_b)):
            page.screenshot(path=str(cosim_artifacts / f"failed-cursor-{i}.png"))
        raise
    finally:
        for ctx in contexts:
            ctx.close()
