"""/cosim/api/courses in a real Jupyter server: clear 4xx answers before and without an exchange.

The whole round trip through the hub's exchange service is in tests/hub/test_courses.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from cosim_server.base import CoSimError
from cosim_server.courses import MAX_PACK_BYTES, pack_folder, unpack_files


async def _error(jp_fetch: Any, *path: str, **kw: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", "courses", *path, **kw)
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert "Traceback" not in body["message"]
    return err.value.code, body["message"]


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        (("rob", "assignments", "hw1", "explode"), "{}", 404, "unknown action"),
        (("rob", "assignments", "hw1", "release"), "[1]", 400, "JSON object"),
        (("rob", "assignments", "hw1", "release"), "{nope", 400, "not valid JSON"),
        (("rob", "assignments", "hw1", "release"), '{"path": 3}', 400, "must be a string"),
        (("rob", "assignments", "hw1", "release"), '{"path": "../x"}', 400, "leaves"),
        (("rob", "assignments", "hw1", "release"), '{"path": "/etc"}', 400, "relative"),
        (("rob", "assignments", "hw1", "release"), '{"path": "none"}', 404, "no folder"),
    ],
)
async def test_bad_requests_get_clear_errors(
    jp_fetch: Any, path: tuple[str, ...], body: str, status: int, words: str
) -> None:
    code, message = await _error(jp_fetch, *path, method="POST", body=body)
    assert code == status and words in message


async def test_without_an_exchange_the_answer_says_so(
    jp_fetch: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSIM_COURSES_URL", raising=False)
    (jp_root_dir / "hw1").mkdir()
    (jp_root_dir / "hw1" / "a.py").write_text("x = 1\n")
    code, message = await _error(jp_fetch, "rob", "assignments", "hw1", "release",
                                 method="POST", body='{"path": "hw1"}')  # fmt: skip
    assert code == 503 and "no course exchange" in message
    code, message = await _error(jp_fetch)
    assert code == 503


def test_pack_skips_links_and_checkpoints_and_unpack_stays_inside(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / ".ipynb_checkpoints").mkdir(parents=True)
    (src / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    (src / "a.ipynb").write_text("{}")
    (src / "secret").symlink_to("/etc/passwd")
    (src / "etc").symlink_to("/etc", target_is_directory=True)
    assert set(pack_folder(src)) == {"a.ipynb"}

    root = tmp_path / "home"
    root.mkdir()
    with pytest.raises(CoSimError):
        unpack_files(root, root / "x", {"../../evil": "aGk="}, overwrite=True)
    assert not (tmp_path / "evil").exists()
    (root / "x").mkdir()
    (root / "x" / "keep.txt").write_text("mine")
    written = unpack_files(root, root / "x", {"keep.txt": "aGk=", "new.txt": "aGk="}, False)
    assert written == ["x/new.txt"] and (root / "x" / "keep.txt").read_text() == "mine"


def test_pack_releases_sources_not_build_products(tmp_path: Path) -> None:
    """A built C++ assignment: 1 KB of sources, a 64 MB precompiled header under .cosim/build/."""
    src = tmp_path / "cpp1"
    (src / ".cosim" / "build").mkdir(parents=True)
    (src / "main.cpp").write_text("int main() { return 0; }\n")
    (src / "include").mkdir()
    (src / "include" / "robot.h").write_text("#pragma once\n")
    with open(src / ".cosim" / "build" / "all.h.gch", "wb") as f:
        f.truncate(64 * 2**20)  # sparse: no 64 MB written to disk
    (src / ".cosim" / "jobs").mkdir()
    (src / ".cosim" / "jobs" / "log.txt").write_text("x")
    assert set(pack_folder(src)) == {"main.cpp", "include/robot.h"}


def test_a_too_large_folder_names_its_largest_files(tmp_path: Path) -> None:
    src = tmp_path / "big"
    (src / "data").mkdir(parents=True)
    (src / "notes.md").write_text("# notes\n")
    for name, mib in (("data/scan.bag", 40), ("data/map.pcd", 20), ("data/small.csv", 1)):
        with open(src / name, "wb") as f:
            f.truncate(mib * 2**20)
    with pytest.raises(CoSimError) as err:
        pack_folder(src)
    message = err.value.message
    assert err.value.status_code == 413 and f"{MAX_PACK_BYTES // 2**20} MiB" in message
    assert "data/scan.bag (40.0 MiB)" in message and "data/map.pcd (20.0 MiB)" in message
    assert message.index("scan.bag") < message.index("map.pcd")
