from __future__ import annotations

import os
from pathlib import Path

import pytest

from cosim_server.base import CoSimError, confine_path


@pytest.mark.parametrize(
    "user_path, expected",
    [
        ("a.txt", "a.txt"),
        ("sub/dir/../b.txt", "sub/b.txt"),
        ("", "."),
        (".", "."),
    ],
)
def test_confine_accepts_paths_inside(tmp_path: Path, user_path: str, expected: str) -> None:
    assert confine_path(tmp_path, user_path) == (tmp_path / expected).resolve()


@pytest.mark.parametrize(
    "user_path",
    ["../x", "a/../../x", "/etc/passwd", "..", "nul\x00byte", "link/secret"],
)
def test_confine_rejects_escapes(tmp_path: Path, user_path: str) -> None:
    os.symlink("/etc", tmp_path / "link")
    with pytest.raises(CoSimError) as err:
        confine_path(tmp_path, user_path)
    assert err.value.status_code == 400
    assert err.value.message


def test_confine_rejects_non_strings(tmp_path: Path) -> None:
    with pytest.raises(CoSimError):
        confine_path(tmp_path, 42)  # type: ignore[arg-type]
