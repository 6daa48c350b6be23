"""/cosim/api/build in a real Jupyter server (token auth) with a real Redis and real compilers."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tornado.httpclient import HTTPClientError

from cosim.protocol import Keys, namespace_user

MAIN = r"""#include <cstdio>
int main(int argc, char** argv) {
  std::printf("args %d\n", argc);
}
"""


@pytest.fixture
def jp_root_dir() -> Iterator[Path]:
    # As root, programs run as an unprivileged account, which must be able to enter the folder.
    path = Path(tempfile.mkdtemp(prefix="cosim-build-api-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _json(jp_fetch: Any, *path: str, **kw: Any) -> Any:
    resp = await jp_fetch("cosim", "api", "build", *path, **kw)
    return resp.code, json.loads(resp.body)


async def _error(jp_fetch: Any, *path: str, **kw: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", "build", *path, **kw)
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert "Traceback" not in body["message"]
    return err.value.code, body["message"]


async def _wait(jp_fetch: Any, build_id: str) -> dict[str, Any]:
    for _ in range(600):
        _, status = await _json(jp_fetch, build_id)
        if status["status"] != "building":
            return status
        await asyncio.sleep(0.1)
    raise AssertionError("build did not finish in 60 s")


def _post(body: dict[str, Any]) -> dict[str, Any]:
    return {"method": "POST", "body": json.dumps(body)}


async def test_build_status_and_streamed_run(
    jp_fetch: Any, jp_ws_fetch: Any, jp_root_dir: Path, cosim_redis_url: str
) -> None:
    (jp_root_dir / "robot" / "src").mkdir(parents=True)
    (jp_root_dir / "robot" / "src" / "main.cpp").write_text(MAIN)
    code, started = await _json(jp_fetch, **_post({"path": "robot", "flags": ["-O1"]}))
    assert code == 202 and started["status"] == "building"
    status = await _wait(jp_fetch, started["id"])
    assert status["status"] == "succeeded", status
    assert status["binary"] == "robot/.cosim/build/bin/app"
    assert status["compiled"] == ["src/main.cpp"]
    assert (jp_root_dir / "robot" / "compile_commands.json").is_file()

    # Kept in Redis and on disk.
    stored = redis.Redis.from_url(cosim_redis_url).get(Keys(namespace_user()).build(started["id"]))
    assert stored is not None and json.loads(stored)["status"] == "succeeded"
    on_disk = jp_root_dir / ".cosim" / "build" / "status" / f"{started['id']}.json"
    assert json.loads(on_disk.read_text())["status"] == "succeeded"

    ws = await jp_ws_fetch("cosim", "api", "build", started["id"], "run", params={"arg": "x"})
    messages = []
    while (raw := await ws.read_message()) is not None:
        messages.append(json.loads(raw))
    assert "".join(m.get("text", "") for m in messages) == "args 2\n"
    assert messages[-1]["exit"] == 0 and messages[-1]["ok"] is True


async def test_compile_errors_come_back_as_diagnostics(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "broken.cpp").write_text("int main() {\n  return nope;\n}\n")
    _, started = await _json(jp_fetch, **_post({"path": ".", "compiler": "clang++"}))
    status = await _wait(jp_fetch, started["id"])
    assert status["status"] == "failed" and status["binary"] is None
    first = status["diagnostics"][0]
    assert (first["file"], first["line"], first["severity"]) == ("broken.cpp", 2, "error")
    assert first["path"] == "broken.cpp"  # a workspace path Lab opens at the line
    assert "nope" in first["message"]
    code, message = await _error(jp_fetch, started["id"], "run")
    assert code == 409 and "failed" in message


@pytest.mark.parametrize(
    "body, code, words",
    [
        ({"path": "nowhere"}, 404, "no folder"),
        ({"path": "../.."}, 400, "leaves the workspace"),
        ({"path": "/etc"}, 400, "relative"),
        ({"path": "empty"}, 400, "no C++ sources"),
        ({"path": "src", "compiler": "tcc"}, 400, "compiler must be"),
        ({"path": "src", "flags": "-O2"}, 400, "list"),
        ({"path": "src", "flags": ["-o", "/tmp/x"]}, 400, "not allowed"),
        ({"path": "src", "name": "../x"}, 400, "plain file name"),
        ({"path": "src", "mujoco": "yes"}, 400, "true or false"),
        ({"folder": "src"}, 400, "body must be"),
    ],
)
async def test_bad_requests_are_clear_4xx(
    jp_fetch: Any, jp_root_dir: Path, body: dict[str, Any], code: int, words: str
) -> None:
    (jp_root_dir / "empty").mkdir()
    (jp_root_dir / "src").mkdir()
    (jp_root_dir / "src" / "main.cpp").write_text(MAIN)
    got, message = await _error(jp_fetch, **_post(body))
    assert got == code and words in message


async def test_unknown_and_malformed_ids(jp_fetch: Any) -> None:
    assert (await _error(jp_fetch, "0" * 32))[0] == 404
    assert (await _error(jp_fetch, "not-an-id"))[0] == 400
    assert (await _error(jp_fetch, method="POST", body="not json"))[0] == 400


def _running(binary: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(entry / "exe").resolve() == binary:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


async def test_closing_the_socket_kills_the_run(
    jp_fetch: Any, jp_ws_fetch: Any, jp_root_dir: Path
) -> None:
    (jp_root_dir / "loop.cpp").write_text(
        "#include <cstdio>\n#include <unistd.h>\n"
        'int main() { for (;;) { std::printf("tick\\n"); std::fflush(stdout); sleep(1); } }\n'
    )
    _, started = await _json(jp_fetch, **_post({"path": ".", "name": "loop"}))
    status = await _wait(jp_fetch, started["id"])
    binary = (jp_root_dir / status["binary"]).resolve()
    ws = await jp_ws_fetch("cosim", "api", "build", started["id"], "run")
    assert json.loads(await ws.read_message())["text"] == "tick\n"
    assert _running(binary)
    ws.close()
    for _ in range(100):
        if not _running(binary):
            break
        await asyncio.sleep(0.05)
    assert _running(binary) == []
