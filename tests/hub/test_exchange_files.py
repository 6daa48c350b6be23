"""The exchange's file transfers as data: what it accepts, what it refuses, and atomic writes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from cosim_hub.courses.exchange import ExchangeError, decode_files, read_tree, write_tree

OK = base64.b64encode(b"print(1)\n").decode()


@pytest.mark.parametrize(
    "body, status, words",
    [
        (None, 400, "body must be"),
        ({"files": []}, 400, "body must be"),
        ({"files": {}}, 400, "no files"),
        ({"files": {"../x.py": OK}}, 400, "inside the assignment"),
        ({"files": {"/etc/passwd": OK}}, 400, "inside the assignment"),
        ({"files": {"a/../../b.py": OK}}, 400, "inside the assignment"),
        ({"files": {"a\\b.py": OK}}, 400, "bad file path"),
        ({"files": {"a\x00.py": OK}}, 400, "bad file path"),
        ({"files": {"a.py": 5}}, 400, "base64 text"),
        ({"files": {"a.py": "not base64!"}}, 400, "not valid base64"),
        ({"files": {f"f{i}": OK for i in range(501)}}, 413, "at most 500"),
        ({"files": {"big": base64.b64encode(b"x" * 2048).decode()}}, 413, "larger than"),
    ],
)
def test_bad_transfers_are_refused(body: Any, status: int, words: str) -> None:
    with pytest.raises(ExchangeError) as err:
        decode_files(body, max_bytes=1024)
    assert err.value.status_code == status and words in str(err.value.log_message)


def test_write_tree_replaces_whole_and_read_tree_skips_links(tmp_path: Path) -> None:
    target = tmp_path / "released" / "hw1"
    write_tree(target, decode_files({"files": {"a.py": OK, "sub/b.txt": OK}}, 1024))
    write_tree(target, decode_files({"files": {"c.py": OK}}, 1024))
    assert sorted(p.name for p in target.rglob("*")) == ["c.py"]  # no stale files survive
    (target / "link").symlink_to("/etc/passwd")
    assert set(read_tree(target)) == {"c.py"}
    assert not list(target.parent.glob(".incoming-*")) and not list(target.parent.glob(".old-*"))
