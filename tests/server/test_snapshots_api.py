"""/cosim/api/snapshots in a real Jupyter server, on its real root folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError


async def _json(jp_fetch: Any, *path: str, **kw: Any) -> Any:
    resp = await jp_fetch("cosim", "api", "snapshots", *path, **kw)
    return json.loads(resp.body) if resp.body else None


async def _error(jp_fetch: Any, *path: str, **kw: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", "snapshots", *path, **kw)
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert "Traceback" not in body["message"]
    return err.value.code, body["message"]


async def test_create_list_diff_restore_export_import(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "arm.py").write_text("speed = 1\n")
    created = await _json(jp_fetch, method="POST", body=json.dumps({"message": "baseline"}))
    assert created["message"] == "baseline" and created["files"] == 1
    listed = await _json(jp_fetch)
    assert [s["id"] for s in listed["snapshots"]] == [created["id"]]

    (jp_root_dir / "arm.py").write_text("speed = 2\n")
    changes = await _json(jp_fetch, created["id"], "diff")
    assert changes["changed"] == ["arm.py"] and "+speed = 2" in changes["patches"]["arm.py"]

    code, message = await _error(jp_fetch, created["id"], "restore", method="POST", body="{}")
    assert code == 409 and '"force": true' in message
    restored = await _json(jp_fetch, created["id"], "restore", method="POST",
                           body=json.dumps({"force": True}))  # fmt: skip
    assert (jp_root_dir / "arm.py").read_text() == "speed = 1\n"
    assert restored["safety_snapshot"]

    copy = await _json(jp_fetch, created["id"], "restore", method="POST",
                       body=json.dumps({"target": "copies/baseline"}))  # fmt: skip
    assert (jp_root_dir / "copies" / "baseline" / "arm.py").read_text() == "speed = 1\n"
    assert copy["target"].endswith("copies/baseline")

    archive = await jp_fetch("cosim", "api", "snapshots", created["id"], "export")
    assert archive.headers["Content-Type"] == "application/x-tar"
    code, message = await _error(jp_fetch, "import", method="POST", body=archive.body)
    assert code == 400 and "already here" in message


@pytest.mark.parametrize(
    "path, kw, code",
    [
        (("nope",), {}, 404),
        (("20990101T000000000000-deadbeef",), {}, 404),
        ((), {"method": "POST", "body": "not json"}, 400),
        ((), {"method": "POST", "body": json.dumps({"message": 5})}, 400),
        ((), {"method": "POST", "body": json.dumps(["x"])}, 400),
        (("import",), {"method": "POST", "body": b"garbage" * 100}, 400),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    jp_fetch: Any, jp_root_dir: Path, path: tuple[str, ...], kw: dict[str, Any], code: int
) -> None:
    (jp_root_dir / "a.txt").write_text("a")
    got, message = await _error(jp_fetch, *path, **kw)
    assert got == code and message


async def test_restore_target_must_stay_inside(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "a.txt").write_text("a")
    created = await _json(jp_fetch, method="POST", body="{}")
    for target in ["../outside", "/tmp/abs", 7, ""]:
        code, _ = await _error(jp_fetch, created["id"], "restore", method="POST",
                               body=json.dumps({"target": target}))  # fmt: skip
        assert code == 400
    assert not (jp_root_dir.parent / "outside").exists()
