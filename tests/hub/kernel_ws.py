"""Run code in a user's kernel through the hub, as the user's browser would (REST + WebSocket)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import websocket

from cosim_testing.hub_client import HubClient


@dataclass
class KernelRun:
    stdout: str
    error: str  # "ename: evalue" of an error reply, "" when it ran cleanly


class UserKernel:
    """One kernel of ``name``'s server, driven with an API token of that user."""

    def __init__(self, client: HubClient, name: str, kernel: str = "python3") -> None:
        self.client, self.name = client, name
        self.token = client.api("POST", f"users/{name}/tokens", json={"note": "kernel"}).json()[
            "token"
        ]
        resp = client.request("POST", f"user/{name}/api/kernels", json={"name": kernel})
        assert resp.status_code == 201, resp.text
        self.kernel_id = resp.json()["id"]
        ws_url = client.url(f"user/{name}/api/kernels/{self.kernel_id}/channels")
        self.ws = websocket.create_connection(
            ws_url.replace("http", "ws", 1),
            header=[f"Authorization: token {self.token}"],
            timeout=120,
        )

    def run(self, code: str, timeout: float = 120) -> KernelRun:
        msg_id = uuid.uuid4().hex
        message: dict[str, Any] = {
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }  # fmt: skip
        self.ws.send(json.dumps(message))
        out, error, replied, idle = [], "", False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            assert time.monotonic() < deadline, f"kernel did not answer: {''.join(out)}"
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        return KernelRun("".join(out), error)

    def debug(self, seq: int, command: str, **arguments: Any) -> dict[str, Any]:
        """One request to the kernel's debugger (Lab's debug_request on the control channel)."""
        msg_id = uuid.uuid4().hex
        message: dict[str, Any] = {
            "header": {"msg_id": msg_id, "msg_type": "debug_request", "username": self.name,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "control", "buffers": [],
            "content": {"type": "request", "seq": seq, "command": command,
                        "arguments": arguments},
        }  # fmt: skip
        self.ws.send(json.dumps(message))
        while True:
            msg = json.loads(self.ws.recv())
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent == msg_id and msg["msg_type"] == "debug_reply":
                return dict(msg["content"])

    def close(self) -> None:
        self.ws.close()
