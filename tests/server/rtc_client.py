"""One collaborator's end of a jupyter-collaboration room, speaking the Y sync protocol the way
Lab's document provider does (a pycrdt client over the server's real room WebSocket)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycrdt import (
    Doc,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
)
from pycrdt import handle_sync_message as handle_sync
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def rtc_server_config(redis_url: str, root: Path, **ydoc: float) -> dict[str, Any]:
    """A server with CoSim and jupyter-collaboration as in a user server, whose working folder is
    the workspace: the RTC database and the session list sit inside it. ``ydoc``: more
    ``YDocExtension`` settings (short save delays and poll intervals for tests)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "cosim_server": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
            }
        },
        "CoSimServer": {"redis_url": redis_url, "redis_timeout": 1.0},
        "SQLiteYStore": {"db_path": str(root / ".jupyter_ystore.db")},
        "YDocExtension": {
            **ydoc,
            "session_store_path": str(root / ".jupyter" / "collaboration_sessions.json"),
        },
    }


class RoomClient:
    def __init__(self, ws: Any, document_type: Callable[[Doc], Any]) -> None:
        self.ws, self.doc = ws, Doc()
        self.document = document_type(self.doc)
        self._reader = asyncio.create_task(self._read())
        self.doc.observe(self._send_local)
        self._remote = False
        self.replies = 0  # sync step 2 messages received: the server's answers to our step 1

    def json_object(self) -> dict[str, Any]:
        """The text document parsed as a JSON object; {} while it is not one (e.g. mid-edit)."""
        try:
            doc = json.loads(self.document.get())
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    @classmethod
    async def join(
        cls,
        jp_fetch: Any,
        port: int,
        base_url: str,
        headers: dict[str, str],
        path: str,
        file_format: str,
        file_type: str,
        document_type: Callable[[Doc], Any],
    ) -> RoomClient:
        """Open ``path``'s room as Lab does: a collaboration session, then the room's socket."""
        session = json.loads(
            (
                await jp_fetch(
                    "api", "collaboration", "session", path, method="PUT",
                    body=json.dumps({"format": file_format, "type": file_type}),
                )
            ).body
        )  # fmt: skip
        # Built by hand: jp_ws_fetch would percent-encode the ':' of the room id into another room.
        url = (
            f"ws://127.0.0.1:{port}{base_url}api/collaboration/room/"
            f"{file_format}:{file_type}:{session['fileId']}?sessionId={session['sessionId']}"
        )
        return await cls.connect(url, headers, document_type)

    @classmethod
    async def connect(
        cls, url: str, headers: dict[str, str], document_type: Callable[[Doc], Any]
    ) -> RoomClient:
        """Join the room at ``url`` (a session already opened) with ``headers`` (auth)."""
        request = HTTPRequest(url, headers=headers, connect_timeout=10, request_timeout=10)
        client = cls(await websocket_connect(request), document_type)
        client.ws.write_message(create_sync_message(client.doc), binary=True)
        return client

    def _send_local(self, event: Any) -> None:
        if not self._remote:
            self.ws.write_message(create_update_message(event.update), binary=True)

    async def _read(self) -> None:
        while (message := await self.ws.read_message()) is not None:
            if isinstance(message, bytes) and message[0] == YMessageType.SYNC:
                self._remote = True
                try:
                    reply = handle_sync(message[1:], self.doc)
                finally:
                    self._remote = False
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    self.replies += 1
                if reply is not None:
                    self.ws.write_message(reply, binary=True)

    async def round_trip(self, timeout: float = 10.0) -> None:
        """Ask the room for its state and wait for the answer: the room has then handled every
        message this client sent before (it serves each client's messages in order)."""
        seen = self.replies
        self.ws.write_message(create_sync_message(self.doc), binary=True)
        async with asyncio.timeout(timeout):
            while self.replies == seen:
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.ws.close()
        self._reader.cancel()


async def next_viewer_error(ws: Any, timeout: float = 5.0) -> str:
    """The next error message on a viewer socket (it comes between the frames it carries)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        assert left > 0, "no error message on the viewer socket"
        message = await asyncio.wait_for(ws.read_message(), left)
        assert message is not None, "the viewer socket closed before the error came"
        if isinstance(message, str) and json.loads(message)["type"] == "error":
            return str(json.loads(message)["message"])
