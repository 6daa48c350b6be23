"""``sim-control.json`` as a live RTC document: jupyter-collaboration's real server extension, a
pycrdt client in the file's room (what Lab's editor joins), a real MuJoCo sim in a thread (the
kernel's side) and a real redis-server.

Path of a change: the room's text (an editor, or the room loading a Contents API write) -> the
server's control document (validated) -> Redis -> applied at the sim's next ``sync()``; and back:
a toolbar/REST change -> the room's text, live.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_ydoc import YUnicode
from rtc_client import RoomClient, rtc_server_config
from test_sim_control import SimThread, _control, _until


@pytest.fixture
def jp_server_config(cosim_redis_url: str, jp_root_dir: Path) -> dict[str, Any]:
    return rtc_server_config(cosim_redis_url, jp_root_dir, file_poll_interval=0.2)


@pytest.fixture
def sim(cosim_redis_url: str, jp_root_dir: Path) -> Iterator[SimThread]:
    thread = SimThread(cosim_redis_url, jp_root_dir / "sim-control.json", None)
    thread.start()
    yield thread
    thread.stop()


OpenEditor = Callable[[SimThread], Awaitable[RoomClient]]


@pytest.fixture
def open_editor(
    jp_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_serverapp: Any,
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> Iterator[OpenEditor]:
    """Lab's editor of sim-control.json, joined once the server holds the sim's document."""
    opened: list[RoomClient] = []

    async def open_editor(sim: SimThread) -> RoomClient:
        await _control(jp_fetch, sim)
        client = await RoomClient.join(
            jp_fetch, jp_http_port, jp_base_url, jp_auth_header, "sim-control.json", "text",
            "file", YUnicode,
        )  # fmt: skip
        opened.append(client)
        assert await _until(lambda: _parsed(client).get("sim_id") == sim.viewer.sim_id)
        # The server joins an open room on its next watch tick; wait for that, not a sleep.
        doc = jp_serverapp.web_app.settings["cosim"].rooms.docs[sim.viewer.sim_id]
        assert await _until(lambda: doc.rtc is not None and doc.rtc.document is not None)
        return client

    yield open_editor
    for client in opened:
        jp_asyncio_loop.run_until_complete(client.close())


def _on_disk(root: Path) -> dict[str, Any]:
    try:
        doc = json.loads((root / "sim-control.json").read_text())
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _parsed(client: RoomClient) -> dict[str, Any]:
    try:
        doc = json.loads(client.document.get())
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


async def test_an_edit_in_the_rtc_document_reaches_the_kernel_and_presses_show_live(
    jp_fetch: Any, sim: SimThread, open_editor: OpenEditor, jp_root_dir: Path
) -> None:
    editor = await open_editor(sim)
    text = _parsed(editor)
    editor.document.set(json.dumps({**text, "state": "paused"}, indent=2))
    assert await _until(lambda: sim.viewer.paused)
    doc = await _control(jp_fetch, sim)
    assert doc["state"] == "paused" and doc["events"][-1]["what"] == "paused"
    # Credited to who sent it through the room (two different hub users: tests/hub).
    me = json.loads((await jp_fetch("api", "me")).body)["identity"]["username"]
    assert doc["events"][-1]["who"] == me
    # The room saves the file (after jupyter-collaboration's save delay).
    assert await _until(lambda: _on_disk(jp_root_dir).get("state") == "paused")

    # A toolbar press (REST here; the viewer socket takes the same road) shows in the editor.
    await _control(jp_fetch, sim, {"speed": 0.5, "state": "running"})
    assert await _until(lambda: _parsed(editor).get("speed") == 0.5)
    assert _parsed(editor)["state"] == "running"
    assert await _until(lambda: not sim.viewer.paused)


async def test_an_invalid_edit_is_set_back_with_a_message_naming_the_field(
    jp_fetch: Any,
    jp_ws_fetch: Any,
    sim: SimThread,
    open_editor: OpenEditor,
    jp_root_dir: Path,
) -> None:
    editor = await open_editor(sim)
    ws = await jp_ws_fetch("cosim", "api", "sims", sim.viewer.sim_id, "ws")
    ws.write_message(json.dumps({"type": "join"}))
    before = await _control(jp_fetch, sim)
    editor.document.set(json.dumps({**before, "state": "paused", "speed": 1000}, indent=2))
    deadline = time.monotonic() + 5
    while True:  # the viewers hear why (between the frames the socket carries)
        assert time.monotonic() < deadline, "no error message on the viewer socket"
        message = await asyncio.wait_for(ws.read_message(), 5)
        assert message is not None, "the viewer socket closed before the error came"
        if isinstance(message, str) and json.loads(message)["type"] == "error":
            assert "speed must be in [0, 100]" in json.loads(message)["message"]
            break
    # The document keeps its last valid state: in the room, on disk, in the kernel.
    assert await _until(lambda: _parsed(editor) == before)
    assert await _control(jp_fetch, sim) == before
    assert await _until(lambda: _on_disk(jp_root_dir) == before)
    assert not sim.viewer.paused
    ws.close()


async def test_a_contents_api_write_reaches_the_kernel_through_the_room(
    jp_fetch: Any, sim: SimThread, open_editor: OpenEditor
) -> None:
    editor = await open_editor(sim)
    doc = await _control(jp_fetch, sim)
    body = {"type": "file", "format": "text", "content": json.dumps({**doc, "state": "paused"})}
    await jp_fetch("api", "contents", "sim-control.json", method="PUT", body=json.dumps(body))
    assert await _until(lambda: sim.viewer.paused)
    assert await _until(lambda: _parsed(editor).get("state") == "paused")
    assert (await _control(jp_fetch, sim))["state"] == "paused"
