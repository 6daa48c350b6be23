"""Snapshots beside a live collaboration session: Jupyter's own state is neither stored nor
restored, and a restore with an RTC notebook open leaves the server's log clean and the notebook
syncing (jupyter-collaboration's real server extension and SQLite Y store, a pycrdt client)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_ydoc import YNotebook
from rtc_client import RoomClient, rtc_server_config


@pytest.fixture
def jp_server_config(cosim_redis_url: str, jp_root_dir: Path) -> dict[str, Any]:
    return rtc_server_config(cosim_redis_url, jp_root_dir, document_save_delay=0.2)


async def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _post(jp_fetch: Any, *path: str, body: dict[str, Any]) -> Any:
    resp = await jp_fetch(*path, method="POST", body=json.dumps(body))
    return json.loads(resp.body)


def _sources(path: Path) -> list[str] | None:
    """The notebook's cell sources on disk; None while the server is halfway through a save."""
    try:
        return [c.source for c in nbformat.read(path, as_version=4).cells]
    except nbformat.reader.NotJSONError:
        return None


async def test_restore_with_an_open_rtc_notebook_keeps_the_server_clean(
    jp_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_root_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nb_path = jp_root_dir / "walk.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("kp = 1")])
    nbformat.write(nb, nb_path)
    client = await RoomClient.join(
        jp_fetch, jp_http_port, jp_base_url, jp_auth_header, "walk.ipynb", "json", "notebook",
        YNotebook,
    )  # fmt: skip
    await _wait(lambda: len(client.document.ycells) == 1)
    assert (jp_root_dir / ".jupyter_ystore.db").is_file()

    # A snapshot made on purpose with Jupyter's database in it (as snapshots did before it was
    # ignored): restore must still leave the live one alone.
    (jp_root_dir / ".cosimignore").write_text("!/.jupyter_ystore.db\n")
    old = await _post(jp_fetch, "cosim", "api", "snapshots", body={"message": "with ystore"})
    stored = await jp_fetch("cosim", "api", "snapshots", old["id"])
    assert ".jupyter_ystore.db" in stored.body.decode()
    (jp_root_dir / ".cosimignore").unlink()
    fresh = await _post(jp_fetch, "cosim", "api", "snapshots", body={"message": "default"})
    listing = (await jp_fetch("cosim", "api", "snapshots", fresh["id"])).body.decode()
    assert ".jupyter_ystore.db" not in listing and "collaboration_sessions" not in listing

    db = jp_root_dir / ".jupyter_ystore.db"
    inode = db.stat().st_ino
    client.document.ycells[0]["source"] = "kp = 2"
    await _wait(lambda: _sources(nb_path) == ["kp = 2"])
    caplog.clear()
    await _post(jp_fetch, "cosim", "api", "snapshots", old["id"], "restore", body={"force": True})
    assert db.stat().st_ino == inode, "restore replaced the live RTC database"
    # jupyter-collaboration sees the restored file and hands it to everyone in the room.
    await _wait(lambda: [c["source"] for c in client.document.ycells.to_py()] == ["kp = 1"])

    # The notebook keeps syncing through the same room after the restore.
    client.document.append_cell(
        {
            "cell_type": "code",
            "source": "kd = 3",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
    )
    await _wait(lambda: (_sources(nb_path) or [])[-1:] == ["kd = 3"])
    await client.close()
    await asyncio.sleep(0.3)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
