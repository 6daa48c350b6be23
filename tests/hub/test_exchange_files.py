"""The exchange's file transfers as data: what it accepts, what it refuses, and atomic writes."""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from cosim_hub.courses.exchange import (
    Exchange,
    ExchangeError,
    check_assignment_name,
    decode_files,
    read_tree,
    write_tree,
)
from cosim_hub.courses.store import CourseStore
from cosim_protocol.limits import EXCHANGE_NAME_MAX

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


@pytest.mark.parametrize(
    "name, words",
    [
        ("hw9.json", "keeps for itself"),  # would collide with the exchange's own hw9.json
        ("HW9.JSON", "keeps for itself"),
        ("hw9.tmp", "keeps for itself"),
        ("a" * 300, "bad assignment name"),
        ("a" * (EXCHANGE_NAME_MAX + 1), "bad assignment name"),
        (".hidden", "bad assignment name"),
        ("", "bad assignment name"),
    ],
)
def test_bad_assignment_names_are_refused(name: str, words: str) -> None:
    with pytest.raises(ExchangeError) as err:
        check_assignment_name(name)
    assert err.value.status_code == 400 and words in str(err.value.log_message)
    assert check_assignment_name("hw9") == "hw9"
    assert check_assignment_name("a" * EXCHANGE_NAME_MAX) == "a" * EXCHANGE_NAME_MAX


@pytest.mark.parametrize(
    "path",
    ["x" * 300 + ".py", "d/" + "y" * 256, "/".join(["d" * 200] * 6)],
)
def test_overlong_file_names_are_refused(path: str) -> None:
    # The filesystem would raise ENAMETOOLONG (a 500) on write; refuse it as bad input first.
    with pytest.raises(ExchangeError) as err:
        decode_files({"files": {path: OK}}, max_bytes=1024)
    assert err.value.status_code == 400 and "too long" in str(err.value.log_message)


def test_student_quota_counts_every_kept_submission(tmp_path: Path) -> None:
    exchange = Exchange(
        tmp_path / "exchange", CourseStore(tmp_path / "courses.json"), max_bytes=2**20,
        max_student_bytes=3000, max_student_files=5,
    )  # fmt: skip
    kb = {PurePosixPath("a.bin"): b"x" * 1000}
    for attempt in range(3):  # 3 submissions of 1000 bytes fill the quota exactly
        exchange.check_student_quota("c1", "stu", kb)
        write_tree(exchange.submissions("c1", f"hw{attempt}") / "stu" / "t1", kb)
    with pytest.raises(ExchangeError) as err:
        exchange.check_student_quota("c1", "stu", kb)
    assert err.value.status_code == 413 and "quota" in str(err.value.log_message)
    # Another student, or the same one in another course, has their own quota.
    exchange.check_student_quota("c1", "sue", kb)
    exchange.check_student_quota("c2", "stu", kb)
    # The file count is capped too.
    many = {PurePosixPath(f"f{i}"): b"" for i in range(6)}
    with pytest.raises(ExchangeError) as err:
        exchange.check_student_quota("c1", "sue", many)
    assert err.value.status_code == 413
