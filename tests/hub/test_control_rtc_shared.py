"""``sim-control.json``'s RTC room with two different hub users on the real stack: alice runs a
MuJoCo sim in her kernel, bob (shared in, may write) edits the document through the room's real
WebSocket (a pycrdt client, as Lab's editor does, through the hub's proxy) and presses as Lab's
toolbar does (a change queued in the room): the kernel applies both and the document's
``events`` credit bob, not alice. carol (a view-only share) joins the same
room and tries the same: the server drops her update, tells the viewers why, and nothing moves;
her edit of any other document's room is dropped as well.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from jupyter_ydoc import YUnicode
from kernel_ws import UserKernel
from pycrdt import Array
from server.rtc_client import RoomClient, next_viewer_error
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from cosim_protocol.control import PRESSES
from cosim_testing.hub_client import HubClient
from cosim_testing.stack import CoSimStack

pytestmark = pytest.mark.stack


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """No in-process server here. A browser test run earlier on this worker may leave
    Playwright's loop running in this thread: pytest-jupyter's loop fixture would close it."""


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process Jupyter server to clean up."""


def _run(scenario: Coroutine[Any, Any, None]) -> None:
    """Run ``scenario`` on a loop of its own, in a thread (this one may hold Playwright's)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario).result()


SIM = """\
import threading, mujoco, cosim
model = mujoco.MjModel.from_xml_string('''<mujoco><worldbody><body pos="0 0 1">
<joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 -.5" size=".05"/>
</body></worldbody></mujoco>''')
data = mujoco.MjData(model)
v = cosim.viewer(model, data, title="rtc-credit", control="sim-control.json", display=False)
def loop():
    while v.running:
        mujoco.mj_step(model, data)
        v.sync()
threading.Thread(target=loop, daemon=True).start()
print(v.sim_id)
"""


def _cookies(client: HubClient) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)}


def _session(visitor: HubClient, owner: str, path: str = "sim-control.json") -> dict[str, str]:
    """A collaboration session on ``owner``'s file, as Lab's editor opens one."""
    body = json.dumps({"format": "text", "type": "file"})
    resp = visitor.request("PUT", f"user/{owner}/api/collaboration/session/{path}", data=body)
    assert resp.status_code in (200, 201), resp.text  # 201: the first session of that file
    return dict(resp.json())


async def _join_room(
    stack: CoSimStack, visitor: HubClient, owner: str, session: dict[str, str]
) -> RoomClient:
    """``visitor`` joins the room of ``session``'s file over its real WebSocket."""
    url = stack.public_url(
        f"user/{owner}/api/collaboration/room/text:file:{session['fileId']}"
        f"?sessionId={session['sessionId']}"
    ).replace("http", "ws", 1)
    return await RoomClient.connect(url, _cookies(visitor), YUnicode)


def _contents(client: HubClient, owner: str, path: str) -> str:
    resp = client.request("GET", f"user/{owner}/api/contents/{path}?content=1")
    return str(resp.json().get("content")) if resp.status_code == 200 else ""


async def _until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def test_room_edits_and_presses_are_credited_to_their_sender_and_view_only_is_refused(
    cosim_stack: CoSimStack,
) -> None:
    tag = secrets.token_hex(2)
    alice, _ = cosim_stack.new_user(f"alice{tag}")
    bob, _ = cosim_stack.new_user(f"bob{tag}")
    carol, _ = cosim_stack.new_user(f"carol{tag}")
    a, b, c = str(alice.user), str(bob.user), str(carol.user)
    alice.spawn()
    assert alice.open_lab().status_code == 200
    for visitor, view_only in ((b, False), (c, True)):
        share = json.dumps({"user": visitor, "view_only": view_only})
        resp = alice.request("POST", f"user/{a}/cosim/api/shares", data=share)
        assert resp.status_code == 200, resp.text
    assert bob.open_shared(a).status_code == 200
    assert carol.open_shared(a).status_code == 200

    kernel = UserKernel(alice, a)
    started = kernel.run(SIM)
    assert not started.error, started.error
    sim_id = started.stdout.strip()
    control = f"user/{a}/cosim/api/sims/{sim_id}/control"

    def doc() -> dict[str, Any]:
        resp = alice.request("GET", control)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def scenario() -> None:
        viewer = await websocket_connect(
            HTTPRequest(
                cosim_stack.public_url(f"user/{a}/cosim/api/sims/{sim_id}/ws").replace(
                    "http", "ws", 1
                ),
                headers=_cookies(alice),
            )
        )
        viewer.write_message(json.dumps({"type": "join"}))
        assert doc()["sim_id"] == sim_id  # the server holds the sim's document
        session = _session(bob, a)
        editor = await _join_room(cosim_stack, bob, a, session)
        try:
            assert await _until(lambda: editor.json_object().get("sim_id") == sim_id, 30)
            # bob pauses by editing the JSON. The server joins an open room on its next watch
            # tick and then sets the room to its own document, so an edit made before that is
            # set back: edit again until the server has it.
            deadline = time.monotonic() + 20
            while doc()["state"] != "paused":
                assert time.monotonic() < deadline, "bob's edit never reached the server"
                if editor.json_object().get("state") != "paused":
                    text = {**editor.json_object(), "state": "paused"}
                    editor.document.set(json.dumps(text, indent=2))
                await _until(lambda: doc()["state"] == "paused", 1.5)
            event = doc()["events"][-1]
            assert (event["who"], event["what"]) == (b, "paused"), event
            # ...and alice's kernel applied it.
            paused = kernel.run("print(v.paused)")
            assert paused.stdout.strip() == "True", paused
            # bob's toolbar presses the same way: one change queued in the room's press array.
            editor.doc.get(PRESSES, type=Array).append(json.dumps({"speed": 0.5}))
            assert await _until(lambda: doc()["speed"] == 0.5, 10)
            event = doc()["events"][-1]
            assert (event["who"], event["what"], event["via"]) == (b, "set speed 0.5x", "document")

            # carol may only watch. Lab opens the live document for her too (the session
            # request is a read: it only names the file's room), and a client of her own
            # joins that room. Her edit is dropped by the server.
            mine = _session(carol, a)
            assert mine["fileId"] == session["fileId"]
            found = carol.request("GET", f"user/{a}/api/fileid/id?path=sim-control.json")
            assert found.status_code == 200, found.text
            assert found.json()["id"] == session["fileId"]
            intruder = await _join_room(cosim_stack, carol, a, session)
            try:
                assert await _until(lambda: intruder.json_object().get("state") == "paused", 30)
                text = {**intruder.json_object(), "state": "running", "seed": 99}
                intruder.document.set(json.dumps(text, indent=2))
                intruder.doc.get(PRESSES, type=Array).append(json.dumps({"state": "running"}))
                # the viewers hear why
                assert f"read-only: {c} may not control" in await next_viewer_error(viewer, 15)
                # bob's next edit lands after carol's refused one: still paused, her seed
                # nowhere, the room's text never took her change.
                editor.document.set(json.dumps({**editor.json_object(), "seed": 7}, indent=2))
                assert await _until(lambda: doc()["seed"] == 7, 10)
                after = doc()
                assert after["state"] == "paused" and after["events"][-1]["who"] == b
                assert all(e["who"] != c for e in after["events"])
                seen = editor.json_object()
                assert seen["state"] == "paused" and seen["seed"] == 7
            finally:
                await intruder.close()

            # Any document, not just the control file: jupyter-collaboration lets a read-only
            # client join a room; the server drops what she sends (the file keeps its text).
            note = json.dumps({"type": "file", "format": "text", "content": "alice's notes\n"})
            resp = alice.request("PUT", f"user/{a}/api/contents/notes.txt", data=note)
            assert resp.status_code in (200, 201), resp.text
            notes = _session(alice, a, "notes.txt")
            owner = await _join_room(cosim_stack, alice, a, notes)
            intruder = await _join_room(cosim_stack, carol, a, notes)
            try:
                assert await _until(lambda: intruder.document.get() == "alice's notes\n", 30)
                intruder.document.set("carol was here\n")
                await intruder.round_trip()  # the room has handled her update...
                await owner.round_trip()  # ...and alice has all the room has
                assert owner.document.get() == "alice's notes\n"
                owner.document.set("alice's notes, v2\n")
                await owner.round_trip()
                assert await _until(lambda: "v2" in _contents(alice, a, "notes.txt"), 15)
                assert _contents(alice, a, "notes.txt") == "alice's notes, v2\n"
                assert owner.document.get() == "alice's notes, v2\n"
            finally:
                await owner.close()
                await intruder.close()
        finally:
            await editor.close()
            viewer.close()

    try:
        _run(scenario())
        applied = kernel.run("print(v.paused, v._control[0].seed)")
        assert applied.stdout.split() == ["True", "7"], applied
    finally:
        kernel.run("v.close()")
        kernel.close()
