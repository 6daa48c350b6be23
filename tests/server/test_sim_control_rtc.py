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
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_ydoc import YUnicode
from pycrdt import Array, Map
from rtc_client import RoomClient, next_viewer_error, rtc_server_config
from test_sim_control import SimThread, _control, _until

from cosim_protocol.control import PRESSES, ROOM_SERVER_KEY, ROOM_STATE


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
        assert await _until(lambda: client.json_object().get("sim_id") == sim.viewer.sim_id)
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


async def test_an_edit_in_the_rtc_document_reaches_the_kernel_and_presses_show_live(
    jp_fetch: Any, sim: SimThread, open_editor: OpenEditor, jp_root_dir: Path
) -> None:
    editor = await open_editor(sim)
    text = editor.json_object()
    editor.document.set(json.dumps({**text, "state": "paused"}, indent=2))
    assert await _until(lambda: sim.viewer.paused)
    doc = await _control(jp_fetch, sim)
    assert doc["state"] == "paused" and doc["events"][-1]["what"] == "paused"
    # It came through the room (who sent it: two different hub users in tests/hub).
    assert doc["events"][-1]["via"] == "document"
    # The room saves the file (after jupyter-collaboration's save delay).
    assert await _until(lambda: _on_disk(jp_root_dir).get("state") == "paused")

    # A toolbar press (REST here; the viewer socket takes the same road) shows in the editor.
    await _control(jp_fetch, sim, {"speed": 0.5, "state": "running"})
    assert await _until(lambda: editor.json_object().get("speed") == 0.5)
    assert editor.json_object()["state"] == "running"
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
    assert "speed must be in [0, 100]" in await next_viewer_error(ws)  # the viewers hear why
    # The document keeps its last valid state: in the room, on disk, in the kernel.
    assert await _until(lambda: editor.json_object() == before)
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
    assert await _until(lambda: editor.json_object().get("state") == "paused")
    assert (await _control(jp_fetch, sim))["state"] == "paused"


def _server_listens(client: RoomClient) -> bool:
    return bool(client.doc.get(ROOM_STATE, type=Map).get(ROOM_SERVER_KEY))


async def test_presses_queued_in_the_room_all_apply_in_order_credited_to_their_sender(
    jp_fetch: Any, jp_ws_fetch: Any, sim: SimThread, open_editor: OpenEditor
) -> None:
    """What the Lab toolbar does: each press is one entry in the room's press queue."""
    ws = await jp_ws_fetch("cosim", "api", "sims", sim.viewer.sim_id, "ws")
    ws.write_message(json.dumps({"type": "join"}))
    first = await open_editor(sim)
    second = await open_editor(sim)
    for client in (first, second):
        assert await _until(lambda c=client: _server_listens(c))  # type: ignore[misc]
    first.doc.get(PRESSES, type=Array).append(json.dumps({"state": "paused"}))
    assert await _until(lambda: sim.viewer.paused)
    frames = len(sim.trajectory)
    # Two people at the same moment: two steps and a seed, all applied, none lost.
    first.doc.get(PRESSES, type=Array).append(json.dumps({"step": 1}))
    second.doc.get(PRESSES, type=Array).extend([json.dumps({"step": 1}), json.dumps({"seed": 5})])
    assert await _until(lambda: len(sim.trajectory) == frames + 2)
    doc = await _control(jp_fetch, sim)
    assert doc["seed"] == 5 and doc["step"] == 2 and doc["state"] == "paused"
    assert [e["via"] for e in doc["events"][-4:]] == ["document"] * 4
    # The queue is emptied once taken, and the text shows the result.
    assert await _until(lambda: len(first.doc.get(PRESSES, type=Array)) == 0)
    assert await _until(lambda: second.json_object().get("seed") == 5)
    # An invalid press is refused with the field's range, and changes nothing.
    first.doc.get(PRESSES, type=Array).append(json.dumps({"speed": 1000}))
    assert "speed must be in [0, 100]" in await next_viewer_error(ws)
    assert (await _control(jp_fetch, sim))["speed"] == doc["speed"]
    ws.close()
